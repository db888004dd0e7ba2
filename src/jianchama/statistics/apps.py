from django.apps import AppConfig


class StatisticsConfig(AppConfig):
    name = "jianchama.statistics"
    label = "statistics"
    verbose_name = "统计分析"

    def ready(self) -> None:
        # The figures kept in modules of their own register themselves in figures.FIGURES when imported. Not
        # imported at the end of figures.py: they import figures (`figure`, `Table`), and a circle between the
        # app's modules is refused (import-linter's acyclic_siblings, docs/architecture.md).
        from . import figures_frequency, figures_supervision  # noqa: F401
