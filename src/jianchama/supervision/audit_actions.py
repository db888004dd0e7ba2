"""Chinese labels of the supervision app's audit actions. Each part of the app adds its own dict here."""

AUDIT_ACTIONS: dict[str, str] = {
    "supervision.finding_created": "发现监督问题",
    "supervision.finding_dismissed": "核销监督问题",
    "supervision.rules_run": "运行数据监督规则",
}
