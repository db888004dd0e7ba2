from django.apps import AppConfig


class SupervisionConfig(AppConfig):
    name = "jianchama.supervision"
    label = "supervision"
    verbose_name = "执法监督"

    def ready(self):
        from jianchama.core import audit

        from .audit_actions import AUDIT_ACTIONS

        audit.register_actions(AUDIT_ACTIONS)
