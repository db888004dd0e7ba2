"""Chinese labels of the complaints app's audit actions."""

AUDIT_ACTIONS: dict[str, str] = {}
