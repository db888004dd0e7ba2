from django.apps import AppConfig


class ComplaintsConfig(AppConfig):
    name = "jianchama.complaints"
    label = "complaints"
    verbose_name = "投诉举报与复议线索"

    def ready(self):
        from jianchama.core import audit

        from . import todos  # noqa: F401  (registers the home page's to-dos, core/todos.py)
        from .audit_actions import AUDIT_ACTIONS

        audit.register_actions(AUDIT_ACTIONS)
