"""Numbers and dates out of any sensible range get a Chinese message, never a 500 (issue 10, item 7)."""

from __future__ import annotations

import pytest

from jianchama.core.roles import Role
from tests.factories import user_for
from tests.plans.conftest import *  # noqa: F403  (the plans scenario `s`)
from tests.plans.test_plans_views import form_data

pytestmark = pytest.mark.django_db

HUGE = str(10**20)


def test_a_plan_with_an_expected_count_of_ten_to_the_twentieth_is_refused_with_a_message(client, s):
    client.force_login(s.inspector_user)
    response = client.post("/plans/new/", form_data(s, expected_count=HUGE))
    assert response.status_code == 200 and "预计检查户数" in response.content.decode()
    assert "不能大于" in response.content.decode() or "超出" in response.content.decode()


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_a_plan_period_in_year_one_or_9999_is_refused(client, s, day):
    client.force_login(s.inspector_user)
    response = client.post("/plans/new/", form_data(s, period_start=day))
    assert response.status_code == 200
    assert "日期超出可填写的范围" in response.content.decode()


def test_a_plan_citing_an_item_id_of_ten_to_the_twenty_first_is_refused(client, s):
    client.force_login(s.inspector_user)
    response = client.post("/plans/new/", form_data(s, items=[str(10**21)]))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "query", ["start=9999-12-31&days=365", "start=0001-01-01&days=5", f"start=2026-01-01&days={HUGE}"]
)
def test_the_calendar_page_with_far_dates_answers_with_a_message(client, query):
    client.force_login(user_for(Role.SUPERVISOR))
    response = client.get(f"/calendar/?{query}")
    assert response.status_code == 200


def test_a_holiday_dated_9999_12_31_is_refused_with_a_message(client):
    client.force_login(user_for(Role.PLATFORM_ADMIN))
    response = client.post("/calendar/edit/", {"year": "2027", "holidays": "9999-12-31 元旦", "workdays": ""})
    assert response.status_code == 200
    assert "超出可填写的范围" in response.content.decode()
