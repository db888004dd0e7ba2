from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "jianchama.notifications"
    label = "notifications"
    verbose_name = "通知"

    def ready(self):
        from jianchama.core import audit

        from .services import AUDIT_ACTIONS

        audit.register_actions(AUDIT_ACTIONS)
