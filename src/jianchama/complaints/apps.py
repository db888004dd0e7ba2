from django.apps import AppConfig


class ComplaintsConfig(AppConfig):
    name = "jianchama.complaints"
    label = "complaints"
    verbose_name = "投诉举报与复议线索"

    def ready(self):
        from jianchama.core import audit

        from .audit_actions import AUDIT_ACTIONS

        audit.register_actions(AUDIT_ACTIONS)
