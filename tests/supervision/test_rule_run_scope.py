"""The rule-run page and the dashboard's last-run panel show a district supervisor only his own scope's
figures (issue 10, item 10): the rules run over the whole city, their counts per district did not."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from jianchama.inspections.models import InspectionCode, Scan
from jianchama.supervision.models import Finding
from jianchama.supervision.rules import RULES, run_rules
from tests.factories import user_for
from tests.inspections.conftest import build_scenario


@pytest.fixture
def s(db):
    s = build_scenario()
    task = s.recorded()  # a visit of the Jinshan body without a code: the no_code rule finds it
    Scan.objects.filter(code__task=task).delete()
    InspectionCode.objects.filter(task=task).delete()
    s.run = run_rules(s.supervisor)
    assert s.run.stats["no_code"]["hits"] == 1 and Finding.objects.filter(rule="no_code").count() == 1
    return s


def no_code_row(page: str) -> tuple[str, str]:
    title = re.escape(RULES["no_code"].title)
    row = re.search(
        title + r'</a></td>\s*<td data-label="命中">(\d+)</td><td data-label="新发现">(\d+)</td>', page
    )
    assert row, "no row for the no_code rule"
    return row.group(1), row.group(2)


def test_a_district_supervisor_sees_only_his_districts_figures(client, s):
    client.force_login(s.mh_supervisor)
    page = client.get(reverse("supervision:run_list")).content.decode()
    assert no_code_row(page) == ("0", "0")
    mh_new = Finding.objects.visible_to(s.mh_supervisor).filter(run=s.run).count()
    assert f"新发现 {mh_new} 个问题" in page
    dashboard = client.get(reverse("supervision:dashboard")).content.decode()
    assert f"新发现 {mh_new} 个问题" in dashboard

    client.force_login(s.supervisor)
    page = client.get(reverse("supervision:run_list")).content.decode()
    assert no_code_row(page) == ("1", "1")


def test_the_platform_admin_and_a_city_supervisor_see_the_whole_run(client, s):
    city = user_for("supervisor", region=s.jinshan.parent) if s.jinshan.parent_id else None
    admin = user_for("platform_admin")
    for user in filter(None, (admin, city)):
        client.force_login(user)
        page = client.get(reverse("supervision:run_list")).content.decode()
        assert no_code_row(page) == ("1", "1")
        assert f"新发现 {s.run.new_findings} 个问题" in page


def test_a_run_from_before_the_per_region_figures_shows_no_citywide_count_to_a_district(client, s):
    from jianchama.supervision.models import RuleRun

    RuleRun.objects.update(stats={"no_code": {"hits": 97, "new": 13, "seconds": 0.5}}, new_findings=13)
    client.force_login(s.mh_supervisor)
    page = client.get(reverse("supervision:run_list")).content.decode()
    assert "本辖区数字未单独记录" in page
    assert ">97<" not in page and "新发现 13 个问题" not in page
    assert "新发现 0 个问题" in page  # his district's own findings of that run, from the findings table
