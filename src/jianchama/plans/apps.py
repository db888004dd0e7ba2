from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "jianchama.plans"
    label = "plans"
    verbose_name = "检查计划与随机抽取"

    def ready(self):
        from jianchama.core import audit

        from . import (
            draws,
            todos,  # noqa: F401  (registers the home page's to-dos, core/todos.py)
        )
        from .services import AUDIT_ACTIONS

        audit.register_actions(AUDIT_ACTIONS)
        audit.register_actions(draws.AUDIT_ACTIONS)
        audit.register_field_labels(
            {
                "next_due": "下一步办理期限",
                "pool_size": "企业池（家）",
                "inspector_pool_size": "执法人员池（人）",
                "result_hash": "抽取结果哈希",
                "not_submitted": "未提交的任务",
                "late_exclusions": "揭晓时排除的企业",
                "drawn": "抽中的企业",
                "seed": "随机种子",
            }
        )
