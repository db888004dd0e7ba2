"""The pages of the reports app: the periodic supervision reports (`reports.py`) and the assessment of bodies
(`assessments.py`)."""
