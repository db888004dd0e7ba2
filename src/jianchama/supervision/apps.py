from django.apps import AppConfig


class SupervisionConfig(AppConfig):
    name = "jianchama.supervision"
    label = "supervision"
    verbose_name = "执法监督"

    def ready(self):
        from jianchama.core import audit

        from . import todos  # noqa: F401  (registers the home page's to-dos, core/todos.py)
        from .audit_actions import AUDIT_ACTIONS

        audit.register_actions(AUDIT_ACTIONS)
        audit.register_field_labels(
            {
                "measures": "问责措施",
                "issued_late": "逾期制发",
                "requested_by": "报请人",
                "rules": "运行的规则",
                "new_findings": "新发现问题数",
                "hits": "命中数",
                "pool_size": "抽取范围（个）",
            }
        )
        from .rules import rule_choices

        audit.register_value_labels("rules", dict(rule_choices()))
