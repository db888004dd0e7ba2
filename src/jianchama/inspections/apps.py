from django.apps import AppConfig


class InspectionsConfig(AppConfig):
    name = "jianchama.inspections"
    label = "inspections"
    verbose_name = "检查任务与检查码"

    def ready(self):
        from jianchama.core import audit

        from . import (
            field,
            frequency,
            todos,  # noqa: F401  (registers the home page's to-dos, core/todos.py)
            triggers,
        )
        from .services import AUDIT_ACTIONS

        audit.register_actions(AUDIT_ACTIONS)
        for module in (field, frequency, triggers):
            audit.register_actions(getattr(module, "AUDIT_ACTIONS", {}))
