"""F-40: the platform administrator enters a year's schedule; the library's schedules are (re)loaded."""

import datetime

import pytest
from chinese_calendar import constants
from django.urls import reverse

from jianchama.core import workdays
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.forms import parse_schedule_lines
from jianchama.core.models import AuditEvent, CalendarDay, CalendarYear
from jianchama.core.roles import Role
from jianchama.core.services import load_library_schedules, set_year_schedule
from tests.factories import user_for

pytestmark = pytest.mark.django_db

D = datetime.date

HOLIDAYS_2027 = [
    (D(2027, 1, 1), "元旦"),
    (D(2027, 2, 6), "春节"),
    (D(2027, 2, 7), "春节"),
    (D(2027, 2, 8), "春节"),
    (D(2027, 2, 9), "春节"),
]
WORKDAYS_2027 = [(D(2027, 2, 13), "春节调休")]  # a Saturday


@pytest.fixture
def admin():
    return user_for(Role.PLATFORM_ADMIN, full_name="平台管理员甲")


def test_set_year_schedule_loads_the_year_and_deadlines_use_it(admin):
    assert workdays.compute_deadline(D(2027, 2, 5), 1).provisional
    calendar_year = set_year_schedule(admin, year=2027, holidays=HOLIDAYS_2027, workdays=WORKDAYS_2027)
    assert calendar_year.year == 2027
    assert "平台管理员甲" in calendar_year.source
    assert CalendarDay.objects.filter(date__year=2027).count() == 6
    deadline = workdays.compute_deadline(D(2027, 2, 5), 1)
    assert deadline.date == D(2027, 2, 10)
    assert not deadline.provisional
    assert workdays.is_working_day(D(2027, 2, 13))
    assert not workdays.is_working_day(D(2027, 1, 1))


def test_set_year_schedule_writes_an_audit_event(admin):
    calendar_year = set_year_schedule(admin, year=2027, holidays=HOLIDAYS_2027, workdays=WORKDAYS_2027)
    event = AuditEvent.objects.get(action="calendar.set_year")
    assert event.actor == admin
    assert event.object_id == str(calendar_year.pk)
    assert event.before is None
    assert ["2027-01-01", "holiday", "元旦"] in event.after
    assert ["2027-02-13", "workday", "春节调休"] in event.after


def test_set_year_schedule_replaces_the_year(admin):
    set_year_schedule(admin, year=2027, holidays=HOLIDAYS_2027, workdays=WORKDAYS_2027)
    set_year_schedule(admin, year=2027, holidays=[(D(2027, 1, 1), "元旦")], workdays=[])
    assert list(CalendarDay.objects.filter(date__year=2027).values_list("date", "kind")) == [
        (D(2027, 1, 1), "holiday")
    ]
    assert CalendarYear.objects.filter(year=2027).count() == 1
    second = AuditEvent.objects.filter(action="calendar.set_year").last()
    assert ["2027-02-13", "workday", "春节调休"] in second.before
    assert second.after == [["2027-01-01", "holiday", "元旦"]]
    # Other years are untouched.
    assert CalendarDay.objects.filter(date__year=2026).count() > 0


def test_set_year_schedule_can_correct_a_library_year(admin):
    before = CalendarDay.objects.filter(date__year=2026).count()
    set_year_schedule(admin, year=2026, holidays=[(D(2026, 1, 1), "元旦")], workdays=[])
    assert CalendarDay.objects.filter(date__year=2026).count() == 1
    event = AuditEvent.objects.get(action="calendar.set_year")
    assert len(event.before) == before


@pytest.mark.parametrize("role", [r for r in Role.values if r != Role.PLATFORM_ADMIN])
def test_only_the_platform_admin_may_set_a_schedule(role):
    with pytest.raises(PermissionDenied) as error:
        set_year_schedule(user_for(role), year=2027, holidays=HOLIDAYS_2027, workdays=[])
    assert "平台管理员" in error.value.message
    assert not CalendarYear.objects.filter(year=2027).exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("holidays", "workdays_", "expected"),
    [
        ([(D(2026, 12, 31), "元旦")], [], "2026-12-31 不在 2027 年内"),
        ([(D(2027, 1, 1), "元旦")], [(D(2028, 1, 1), "调休")], "2028-01-01 不在 2027 年内"),
        ([(D(2027, 1, 1), "元旦")], [(D(2027, 2, 10), "春节调休")], "2027-02-10 是周一至周五"),
        ([(D(2027, 2, 6), "春节")], [(D(2027, 2, 6), "春节调休")], "2027-02-06 不能同时是节假日和调休上班日"),
        ([(D(2027, 1, 1), "元旦"), (D(2027, 1, 1), "元旦")], [], "2027-01-01 重复填写"),
        ([], [(D(2027, 2, 13), "春节调休")], "没有填写 2027 年的法定节假日"),
        ([(D(2027, 1, 1), "元" * 51)], [], "名称超过 50 个字"),
    ],
)
def test_set_year_schedule_refuses_bad_schedules(admin, holidays, workdays_, expected):
    with pytest.raises(DomainError) as error:
        set_year_schedule(admin, year=2027, holidays=holidays, workdays=workdays_)
    assert expected in error.value.message
    assert any(expected in p for p in error.value.problems)
    assert not CalendarYear.objects.filter(year=2027).exists()
    assert not CalendarDay.objects.filter(date__year=2027).exists()
    assert not AuditEvent.objects.exists()


def test_set_year_schedule_refuses_a_nonsense_year(admin):
    with pytest.raises(DomainError) as error:
        set_year_schedule(admin, year=227, holidays=[(D(227, 1, 1), "元旦")], workdays=[])
    assert "年份 227 不在可录入的范围内" in error.value.message


def test_a_refused_schedule_leaves_the_loaded_one_alone(admin):
    before = list(CalendarDay.objects.filter(date__year=2026).values_list("date", "kind", "name"))
    with pytest.raises(DomainError):
        set_year_schedule(admin, year=2026, holidays=[(D(2027, 1, 1), "元旦")], workdays=[])
    assert list(CalendarDay.objects.filter(date__year=2026).values_list("date", "kind", "name")) == before


def test_load_library_schedules_restores_a_year_and_leaves_unchanged_years_alone(admin):
    assert load_library_schedules() == []  # the migration loaded everything already
    assert not AuditEvent.objects.exists()
    set_year_schedule(admin, year=2025, holidays=[(D(2025, 1, 1), "元旦")], workdays=[])
    CalendarDay.objects.filter(date__year=2024).delete()
    CalendarYear.objects.filter(year=2024).delete()

    assert load_library_schedules() == [2024, 2025]

    for year in (2024, 2025):
        expected = {d for d in constants.holidays if d.year == year} | {
            d for d in constants.workdays if d.year == year
        }
        assert set(CalendarDay.objects.filter(date__year=year).values_list("date", flat=True)) == expected
        assert "chinesecalendar" in CalendarYear.objects.get(year=year).source
    events = AuditEvent.objects.filter(action="calendar.load_library")
    assert [e.object_repr[:4] for e in events] == ["2024", "2025"]
    assert events[0].before is None  # 2024 was missing
    assert events[1].before == [["2025-01-01", "holiday", "元旦"]]
    assert events[1].actor_label == "系统"
    assert workdays.add_working_days(D(2025, 9, 30), 1) == D(2025, 10, 9)


def test_library_names_are_chinese():
    names = set(CalendarDay.objects.filter(date__year=2026).values_list("name", flat=True))
    assert {"元旦", "春节", "国庆节", "春节调休"} <= names


# --- Parsing the schedule form --------------------------------------------------------------------------


def test_parse_schedule_lines_accepts_the_usual_ways_of_writing_dates():
    text = """
    2027-01-01 元旦
    # 注释行被忽略
    2027/2/6 春节
    2027年2月7日　春节
    2027.2.8,春节
    2027-02-09至2027-02-11 春节
    2027-10-01~2027-10-02
    """
    assert parse_schedule_lines(text) == [
        (D(2027, 1, 1), "元旦"),
        (D(2027, 2, 6), "春节"),
        (D(2027, 2, 7), "春节"),
        (D(2027, 2, 8), "春节"),
        (D(2027, 2, 9), "春节"),
        (D(2027, 2, 10), "春节"),
        (D(2027, 2, 11), "春节"),
        (D(2027, 10, 1), ""),
        (D(2027, 10, 2), ""),
    ]


def test_parse_schedule_lines_names_every_bad_line():
    from django import forms

    text = "2027-01-01 元旦\n元旦 2027-01-01\n2027-02-30 春节\n2027-02-11至2027-02-09 春节\n2027-01-01至2027-03-01 x"
    with pytest.raises(forms.ValidationError) as error:
        parse_schedule_lines(text)
    messages = error.value.messages
    assert len(messages) == 4
    assert messages[0].startswith("第 2 行「元旦 2027-01-01」看不懂")
    assert messages[1] == "第 3 行「2027-02-30 春节」：2027年2月30日不是有效的日期"
    assert messages[2] == "第 4 行「2027-02-11至2027-02-09 春节」：结束日期早于开始日期"
    assert "第 5 行" in messages[3] and "不应超过一个月" in messages[3]


# --- The pages -----------------------------------------------------------------------------------------


def test_the_calendar_page_warns_about_next_year_when_it_is_not_loaded(client):
    from django.utils import timezone

    next_year = timezone.localdate().year + 1
    CalendarYear.objects.filter(year=next_year).delete()
    client.force_login(user_for(Role.INSPECTOR))
    page = client.get(reverse("core:calendar")).content.decode()
    assert f"{next_year}年的法定节假日安排尚未载入" in page
    assert "请平台管理员及时录入" in page
    assert reverse("core:calendar_edit") not in page  # only the administrator gets the link


def test_the_calendar_page_has_no_warning_when_both_years_are_loaded(client, admin):
    from django.utils import timezone

    this_year = timezone.localdate().year
    for year in (this_year, this_year + 1):
        CalendarYear.objects.get_or_create(year=year, defaults={"source": "测试"})
    client.force_login(admin)
    page = client.get(reverse("core:calendar")).content.decode()
    assert "尚未载入：" not in page
    assert "修改" in page and reverse("core:calendar_edit") in page


def test_the_calendar_page_computes_a_deadline_and_flags_a_provisional_one(client):
    client.force_login(user_for(Role.SUPERVISOR))
    page = client.get(reverse("core:calendar"), {"start": "2025-09-30", "days": 1}).content.decode()
    assert "期限：<strong>2025年10月9日</strong>" in page
    page = client.get(reverse("core:calendar"), {"start": "2026-12-24", "days": 10}).content.decode()
    assert "期限：<strong>2027年1月7日</strong>" in page
    assert "2027年的法定节假日安排尚未载入，此期限仅按周末推算" in page


def test_the_calendar_page_shows_a_year_and_survives_a_bad_year(client):
    client.force_login(user_for(Role.INSPECTOR))
    page = client.get(reverse("core:calendar"), {"year": "2025"}).content.decode()
    assert "2025年节假日与调休" in page and "国庆节" in page
    assert client.get(reverse("core:calendar"), {"year": "abc"}).status_code == 200
    assert client.get(reverse("core:calendar"), {"year": "99999"}).status_code == 200


def test_the_calendar_page_needs_a_login(client):
    response = client.get(reverse("core:calendar"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("core:login"))


@pytest.mark.parametrize("role", [r for r in Role.values if r != Role.PLATFORM_ADMIN])
def test_other_roles_may_not_open_the_schedule_editor(client, role):
    client.force_login(user_for(role))
    for response in (
        client.get(reverse("core:calendar_edit")),
        client.post(reverse("core:calendar_edit"), {"year": 2027, "holidays": "2027-01-01 元旦"}),
    ):
        assert response.status_code == 403
        assert "只有平台管理员可以维护节假日安排" in response.content.decode()
    assert not CalendarYear.objects.filter(year=2027).exists()


def test_the_administrator_enters_next_years_schedule(client, admin):
    client.force_login(admin)
    page = client.get(reverse("core:calendar_edit"), {"year": 2027})
    assert page.status_code == 200
    assert 'value="2027"' in page.content.decode()
    response = client.post(
        reverse("core:calendar_edit"),
        {
            "year": "2027",
            "holidays": "2027-01-01 元旦\r\n2027-02-06至2027-02-09 春节\r\n",
            "workdays": "2027-02-13 春节调休",
        },
        follow=True,
    )
    page = response.content.decode()
    assert "2027年节假日安排已保存（共 6 天）" in page
    assert "2027年节假日与调休" in page
    assert list(CalendarDay.objects.filter(date__year=2027).values_list("date", "kind", "name")) == [
        (D(2027, 1, 1), "holiday", "元旦"),
        (D(2027, 2, 6), "holiday", "春节"),
        (D(2027, 2, 7), "holiday", "春节"),
        (D(2027, 2, 8), "holiday", "春节"),
        (D(2027, 2, 9), "holiday", "春节"),
        (D(2027, 2, 13), "workday", "春节调休"),
    ]
    assert AuditEvent.objects.get(action="calendar.set_year").actor == admin


def test_the_editor_starts_from_the_loaded_schedule(client, admin):
    client.force_login(admin)
    page = client.get(reverse("core:calendar_edit"), {"year": 2025}).content.decode()
    assert "2025-10-01 国庆节" in page
    assert "2025-10-11 国庆节调休" in page


def test_the_editor_shows_parse_errors_and_service_errors_and_saves_nothing(client, admin):
    client.force_login(admin)
    response = client.post(
        reverse("core:calendar_edit"), {"year": "2027", "holidays": "2027-01-01 元旦\n2027-13-01 春节"}
    )
    assert response.status_code == 200
    assert "第 2 行「2027-13-01 春节」：2027年13月1日不是有效的日期" in response.content.decode()
    response = client.post(
        reverse("core:calendar_edit"),
        {"year": "2027", "holidays": "2027-01-01 元旦\n2028-01-01 元旦", "workdays": "2027-02-10 调休"},
    )
    page = response.content.decode()
    assert "节假日 2028-01-01 不在 2027 年内" in page
    assert "2027-02-10 是周一至周五，本来就是工作日" in page
    assert not CalendarYear.objects.filter(year=2027).exists()
