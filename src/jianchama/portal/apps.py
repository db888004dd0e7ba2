from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "jianchama.portal"
    label = "portal"
    verbose_name = "企业端与扫码核验"

    def ready(self) -> None:
        from jianchama.inspections import scan_card

        from . import scan_page

        # The task's section of the scan page, rendered into each scan card before it is kept.
        scan_card.register_page_builder(scan_page.prepare)
