from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "jianchama.portal"
    label = "portal"
    verbose_name = "企业端与扫码核验"
