from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "jianchama.integrations"
    verbose_name = "系统对接"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from jianchama.core.audit import register_actions

        from .services import AUDIT_ACTIONS

        register_actions(AUDIT_ACTIONS)

        from jianchama.inspections.workflow import register_listener

        from .webhooks import on_event

        register_listener(on_event)
