from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "jianchama.registry"
    label = "registry"
    verbose_name = "主体与事项"

    def ready(self):
        from jianchama.core import audit

        from . import todos  # noqa: F401  (registers the home page's to-dos, core/todos.py)
        from .services import AUDIT_ACTIONS
        from .standards import AUDIT_ACTIONS as STANDARD_ACTIONS

        audit.register_actions(AUDIT_ACTIONS)
        audit.register_actions(STANDARD_ACTIONS)
