from django.apps import AppConfig


class OpenDataConfig(AppConfig):
    name = "jianchama.opendata"
    label = "opendata"
    verbose_name = "开放数据"
