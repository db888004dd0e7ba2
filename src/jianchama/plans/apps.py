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
