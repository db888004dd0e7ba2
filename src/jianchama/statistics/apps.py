from django.apps import AppConfig


class StatisticsConfig(AppConfig):
    name = "jianchama.statistics"
    label = "statistics"
    verbose_name = "统计分析"
