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
                "assessment.scheme_created": "制定考核评议方案",
                "assessment.scheme_updated": "修改考核评议方案",
                "assessment.scheme_activated": "启用考核评议方案",
                "assessment.scheme_retired": "停用考核评议方案",
                "assessment.created": "计算执法单位考核评议",
                "assessment.computed": "重新计算执法单位考核评议",
                "assessment.issued": "签发执法单位考核评议",
            }
        )
        audit.register_field_labels(
            {"assessment_items": "考核项目", "assessment_replaced_by": "由新版本取代"}
        )
