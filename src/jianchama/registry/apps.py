from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "jianchama.registry"
    label = "registry"
    verbose_name = "主体与事项"
