"""F-40: deadlines on the official working-day calendar, with the schedules seeded by migration 0003."""

import datetime

import pytest

from jianchama.core import workdays
from jianchama.core.models import CalendarDay, CalendarYear

pytestmark = pytest.mark.django_db

D = datetime.date


def test_the_seeded_calendar_has_every_library_year_up_to_2026():
    years = set(CalendarYear.objects.values_list("year", flat=True))
    assert {2024, 2025, 2026} <= years
    assert 2027 not in years


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (D(2025, 9, 26), True),  # Friday
        (D(2025, 9, 27), False),  # Saturday
        (D(2025, 9, 28), True),  # Sunday, swapped working day before National Day
        (D(2025, 10, 1), False),  # National Day
        (D(2025, 10, 6), False),  # Mid-autumn on a Monday
        (D(2025, 10, 8), False),  # last day of the holiday, a Wednesday
        (D(2025, 10, 9), True),  # Thursday, back at work
        (D(2025, 10, 11), True),  # Saturday, swapped working day
        (D(2025, 10, 12), False),  # Sunday
        (D(2026, 2, 14), True),  # Saturday, swapped for the Spring Festival
        (D(2026, 2, 16), False),  # Spring Festival eve, Monday
        (D(2026, 2, 23), False),  # last day of the Spring Festival holiday, Monday
        (D(2026, 2, 24), True),
        (D(2026, 2, 28), True),  # Saturday, swapped
        (D(2027, 1, 1), True),  # 2027 not loaded: a Friday counts as a working day
        (D(2027, 1, 2), False),
    ],
)
def test_is_working_day(day, working):
    assert workdays.is_working_day(day) is working


def test_national_day_2025():
    # 2025-09-30 (Tue) + 1 working day: the holiday runs 10-01..10-08, so Thursday 10-09.
    assert workdays.add_working_days(D(2025, 9, 30), 1) == D(2025, 10, 9)
    # After Friday 10-10 comes the swapped working Saturday 10-11.
    assert workdays.add_working_days(D(2025, 10, 10), 1) == D(2025, 10, 11)
    # The swapped Sunday 09-28 counts: Friday 09-26 + 1 is Sunday 09-28.
    assert workdays.add_working_days(D(2025, 9, 26), 1) == D(2025, 9, 28)
    # 5 working days from 09-26: 09-28, 09-29, 09-30, 10-09, 10-10.
    deadline = workdays.compute_deadline(D(2025, 9, 26), 5)
    assert deadline.date == D(2025, 10, 10)
    assert not deadline.provisional
    assert deadline.warning == ""


def test_spring_festival_2026():
    # Holidays 2026-02-15..23, swapped working Saturdays 02-14 and 02-28.
    assert workdays.add_working_days(D(2026, 2, 13), 1) == D(2026, 2, 14)
    assert workdays.add_working_days(D(2026, 2, 14), 1) == D(2026, 2, 24)
    # 02-13 + 5: 02-14, 02-24, 02-25, 02-26, 02-27; + 6 is the swapped Saturday 02-28.
    assert workdays.add_working_days(D(2026, 2, 13), 5) == D(2026, 2, 27)
    assert workdays.add_working_days(D(2026, 2, 13), 6) == D(2026, 2, 28)
    assert workdays.add_working_days(D(2026, 2, 13), 7) == D(2026, 3, 2)


def test_fifteen_working_days_across_national_day_2026():
    # 2026: holidays 10-01..07, swapped Sunday 09-20 and Saturday 10-10.
    # From 2026-09-18 (Fri): 09-20, 21, 22, 23, 24 (5), [25-27 Mid-autumn], 28, 29, 30 (8),
    # [10-01..07], 10-08, 09, 10 (11), 12, 13, 14, 15 (15).
    assert workdays.add_working_days(D(2026, 9, 18), 15) == D(2026, 10, 15)


def test_working_days_between():
    assert workdays.working_days_between(D(2025, 9, 30), D(2025, 10, 9)) == 1
    assert workdays.working_days_between(D(2025, 9, 30), D(2025, 10, 8)) == 0
    assert workdays.working_days_between(D(2025, 9, 26), D(2025, 10, 12)) == 6
    assert workdays.working_days_between(D(2025, 10, 12), D(2025, 9, 26)) == -6
    assert workdays.working_days_between(D(2025, 9, 30), D(2025, 9, 30)) == 0


@pytest.mark.parametrize("n", [1, 5, 15, 20, 60])
def test_working_days_between_undoes_add_working_days(n):
    for start in (D(2025, 9, 20), D(2026, 1, 30), D(2026, 12, 1)):
        assert workdays.working_days_between(start, workdays.add_working_days(start, n)) == n


def test_a_deadline_crossing_into_an_unloaded_year_is_provisional_and_says_which_year():
    # 2026-12-24 (Thu) + 10 working days: 12-25, 28, 29, 30, 31 (5) then 2027 on weekends only:
    # 01-01 (Fri, although it will surely be New Year's Day), 04, 05, 06, 07.
    deadline = workdays.compute_deadline(D(2026, 12, 24), 10)
    assert deadline.date == D(2027, 1, 7)
    assert deadline.provisional
    assert deadline.unknown_years == (2027,)
    assert "2027年" in deadline.warning
    assert "尚未载入" in deadline.warning


def test_a_deadline_inside_loaded_years_is_not_provisional_even_at_year_end():
    deadline = workdays.compute_deadline(D(2025, 12, 20), 10)
    assert not deadline.provisional
    # 2026-01-01..03 are New Year's holidays and Sunday 01-04 is a swapped working day.
    # 2025-12-22..26 (5), 29, 30, 31 (8), 2026-01-04 (9), 01-05 (10).
    assert deadline.date == D(2026, 1, 5)


def test_a_long_deadline_spanning_years_loads_each_year():
    # 400 working days from 2024-06-01 reach into 2026; both later years are loaded, so nothing is guessed.
    deadline = workdays.compute_deadline(D(2024, 6, 1), 400)
    assert deadline.date.year == 2026
    assert not deadline.provisional


def test_a_newly_entered_year_is_used_at_once():
    CalendarDay.objects.create(date=D(2027, 1, 1), kind=CalendarDay.Kind.HOLIDAY, name="元旦")
    CalendarYear.objects.create(year=2027, source="测试")
    deadline = workdays.compute_deadline(D(2026, 12, 31), 1)
    assert deadline.date == D(2027, 1, 4)
    assert not deadline.provisional


def test_n_must_be_positive():
    with pytest.raises(ValueError):
        workdays.compute_deadline(D(2025, 1, 1), 0)


def test_unknown_years():
    assert workdays.unknown_years([2025, 2026, 2027, 2028]) == [2027, 2028]
