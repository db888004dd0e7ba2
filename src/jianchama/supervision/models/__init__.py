"""The supervision app's models, one module per part: findings and rule runs (data supervision, F-30),
the three steps and accountability (F-32, F-33), sampling (F-31)."""

from .findings import Finding, FindingQuerySet, RuleRun, Severity  # noqa: F401
from .guidance import *  # noqa: F403
from .sampling import *  # noqa: F403
from .steps import *  # noqa: F403
