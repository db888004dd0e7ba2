from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "jianchama.reports"
    label = "reports"
    verbose_name = "执法监督工作报告"

    def ready(self):
        from jianchama.core import audit

        from . import todos  # noqa: F401  (registers the supervisors' to-do, core/todos.py)

        audit.register_actions(
            {
                "reports.created": "创建执法监督工作报告",
                "reports.generated": "生成执法监督工作报告",
                "reports.narrative_saved": "修改执法监督工作报告文字",
                "reports.issued": "签发执法监督工作报告",
            }
        )
