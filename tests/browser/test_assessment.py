"""The assessment of bodies on a phone, in a real browser: the supervisor reads the district's ranking and a
body's breakdown and edits a draft scheme; the body's administrator sees his own row and rank only; nothing
scrolls sideways."""

from __future__ import annotations

import datetime
import importlib

import pytest
from django.urls import reverse
from django.utils import timezone

from jianchama.reports import assessment as services
from jianchama.reports.models import AssessmentScheme
from jianchama.statistics.models import MonthlyFact
from tests.browser.test_every_page import check_page
from tests.browser.test_inspection_code import no_horizontal_scroll, staff_login
from tests.supervision._steps_world import build_world

pytestmark = pytest.mark.django_db(transaction=True)

DEFAULT = importlib.import_module("jianchama.reports.migrations.0004_default_scheme")


def checked(page, url: str, tmp_path) -> None:
    """The page fits the screen, shows no raw key and passes axe-core (as every menu page must)."""
    problems: list[str] = []
    figures = {"axe_pages": 0, "axe_serious_or_critical": 0, "timings": []}
    check_page(page, url, tmp_path / "shot.png", problems, figures)
    assert not problems, problems


def test_the_ranking_and_the_breakdown_on_a_phone(settings, tmp_path, live_server, phone):
    w = build_world(settings, tmp_path)
    year = timezone.localdate().year - 1
    for body, inspections, scanned in ((w.body, 40, 30), (w.partner, 20, 20)):
        MonthlyFact.objects.create(
            month=datetime.date(year, 3, 1),
            body_id=body.pk,
            body_district_id=w.jinshan.pk,
            enterprise_region_id=w.jinshan.pk,
            enterprise_district_id=w.jinshan.pk,
            field_id=0,
            kind="routine",
            first_all=True,
            first_district=True,
            inspections=inspections,
            with_code=inspections,
            scanned=scanned,
        )
    scheme = services.activate_scheme(
        w.supervisor,
        scheme=services.create_scheme(
            w.supervisor, region=w.jinshan, name="金山区执法单位考核方案", year_from=year, items=DEFAULT.ITEMS
        ),
    )
    assessment = services.issue_assessment(
        w.supervisor, assessment=services.compute_assessment(w.supervisor, region=w.jinshan, year=year)
    )
    base = live_server.url

    staff_login(phone, base, w.supervisor.username)
    phone.goto(f"{base}{reverse('reports:assessments')}")
    phone.click(f"text={assessment}")
    phone.wait_for_selector("table[data-table=ranking]")
    table = phone.locator("table[data-table=ranking]").inner_text()
    assert "金山区建设和管理委员会" in table and "金山区市场监督管理局" in table
    assert no_horizontal_scroll(phone)
    phone.click("table[data-table=ranking] >> text=金山区建设和管理委员会")
    phone.wait_for_selector("table[data-table=breakdown]")
    assert "监督发现问题0个，检查40次" in phone.locator("table[data-table=breakdown]").inner_text()
    assert no_horizontal_scroll(phone)
    for url in (
        reverse("reports:assessments"),
        reverse("reports:assessment_detail", args=[assessment.pk]),
        reverse("reports:assessment_score", args=[assessment.pk, w.body.pk]),
        reverse("reports:schemes"),
    ):
        checked(phone, f"{base}{url}", tmp_path)

    # The scheme in use offers its next version; the draft's editor fits the phone too.
    phone.goto(f"{base}{reverse('reports:scheme_detail', args=[scheme.pk])}")
    phone.click("button:has-text('以此为基础制定新版本')")
    phone.wait_for_selector(".msg.success")
    assert "（第2版）" in phone.locator("h1").inner_text()
    phone.fill("input[name=weight_scan_rate]", "5")
    phone.click("text=保存 >> nth=-1")
    assert "各项分值合计须为100分（现为95分）" in phone.locator("main").inner_text()
    assert no_horizontal_scroll(phone)
    draft = AssessmentScheme.objects.get(region=w.jinshan, version=2)
    checked(phone, f"{base}{reverse('reports:scheme_detail', args=[draft.pk])}", tmp_path)  # the editor

    phone.context.clear_cookies()
    staff_login(phone, base, w.head.username)
    phone.goto(f"{base}{reverse('reports:assessment_detail', args=[assessment.pk])}")
    main = phone.locator("main").inner_text()
    assert "金山区建设和管理委员会" in main and "金山区市场监督管理局" not in main
    assert "列第" in main
    assert no_horizontal_scroll(phone)
