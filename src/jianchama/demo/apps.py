from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo and synthetic data for every app: the top floor, imported by no other app."""

    name = "jianchama.demo"
    label = "demo"
    verbose_name = "演示与合成数据"
