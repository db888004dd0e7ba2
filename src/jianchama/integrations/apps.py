from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "jianchama.integrations"
    verbose_name = "系统对接"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from jianchama.core.audit import register_actions

        from .services import AUDIT_ACTIONS

        register_actions(AUDIT_ACTIONS)

        from django.db.models.signals import post_delete, post_save

        from jianchama.core.events import register_listener as register_body_listener
        from jianchama.inspections.workflow import register_listener

        from .models import ApiClient, Webhook
        from .webhooks import forget_subscriptions, on_body_event, on_event

        register_listener(on_event)
        register_body_listener(on_body_event)
        for model in (Webhook, ApiClient):
            post_save.connect(
                forget_subscriptions, sender=model, dispatch_uid=f"forget-{model.__name__}-save"
            )
            post_delete.connect(
                forget_subscriptions, sender=model, dispatch_uid=f"forget-{model.__name__}-delete"
            )
