from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "jianchama.notifications"
    label = "notifications"
    verbose_name = "通知"
