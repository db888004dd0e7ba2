"""Forms of the core pages: login, the deadline calculator, a year's holiday schedule."""

from __future__ import annotations

import datetime
import re

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from .bounds import DATE_RANGE_MESSAGE, BoundedForm, in_date_range
from .models import CalendarDay
from .roles import Role
from .services import SCHEDULE_YEARS


class PhoneForm(BoundedForm):
    phone = forms.CharField(label="手机号", max_length=20)


class CodeForm(BoundedForm):
    phone = forms.CharField(label="手机号", max_length=20, widget=forms.HiddenInput)
    code = forms.RegexField(
        label="验证码",
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": "验证码为6位数字", "required": "请输入短信验证码"},
    )


class DeadlineForm(BoundedForm):
    start = forms.DateField(label="起算日", widget=forms.DateInput(attrs={"type": "date"}))
    days = forms.IntegerField(label="工作日数", min_value=1, max_value=365, initial=5)


# One date: 2027-01-01, 2027/1/1, 2027.1.1 or 2027年1月1日.
_DATE = r"(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:[-/.]|月)\s*(\d{1,2})\s*日?"
# A line: a date, or a range "date 至 date" (also ~, ～, 到, —), then an optional name.
_LINE_RE = re.compile(rf"^{_DATE}(?:\s*(?:至|~|～|到|—|–)\s*{_DATE})?(?:[\s,，、:：]+(.*))?$")


def _date(line_no: int, line: str, year: str, month: str, day: str) -> datetime.date:
    try:
        date = datetime.date(int(year), int(month), int(day))
    except ValueError:
        raise forms.ValidationError(
            f"第 {line_no} 行「{line}」：{year}年{int(month)}月{int(day)}日不是有效的日期"
        ) from None
    if not in_date_range(date):
        raise forms.ValidationError(f"第 {line_no} 行「{line}」：{DATE_RANGE_MESSAGE}")
    return date


def parse_schedule_lines(text: str) -> list[tuple[datetime.date, str]]:
    """Lines of "2027-01-01 元旦" (or a range "2027-02-06至2027-02-14 春节") → [(date, name)].

    Blank lines and lines starting with # are skipped. Every bad line is named in the error.
    """
    entries: list[tuple[datetime.date, str]] = []
    errors: list[str] = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().replace("\u3000", " ")
        if not line or line.startswith("#"):
            continue
        match = _LINE_RE.match(line)
        if not match:
            errors.append(f"第 {line_no} 行「{line}」看不懂：请写成“2027-01-01 元旦”，每行一个日期或一段日期")
            continue
        groups = match.groups()
        name = (groups[6] or "").strip()
        try:
            first = _date(line_no, line, *groups[0:3])
            last = _date(line_no, line, *groups[3:6]) if groups[3] else first
        except forms.ValidationError as error:
            errors.extend(error.messages)
            continue
        if last < first:
            errors.append(f"第 {line_no} 行「{line}」：结束日期早于开始日期")
            continue
        if (last - first).days > 31:
            errors.append(f"第 {line_no} 行「{line}」：一段日期不应超过一个月，请检查是否写错")
            continue
        day = first
        while day <= last:
            entries.append((day, name))
            day += datetime.timedelta(days=1)
    if errors:
        raise forms.ValidationError(errors)
    return entries


class ScheduleForm(BoundedForm):
    """A year's schedule as the State Council publishes it, one date (or range of dates) a line."""

    year = forms.IntegerField(label="年份", min_value=SCHEDULE_YEARS[0], max_value=SCHEDULE_YEARS[-1])
    holidays = forms.CharField(
        label="法定节假日（放假日期）",
        widget=forms.Textarea(
            attrs={"rows": 12, "placeholder": "2027-01-01 元旦\n2027-02-06至2027-02-13 春节"}
        ),
        help_text="每行一个日期或一段日期，后面写节日名称，例如“2027-01-01 元旦”或“2027-02-06至2027-02-13 春节”。"
        "放假期间的周六、周日也可以写上。",
    )
    workdays = forms.CharField(
        label="调休上班日（周末上班）",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "2027-02-20 春节调休"}),
        help_text="每行一个需要上班的周六或周日，例如“2027-02-20 春节调休”。没有可不填。",
    )

    def clean_holidays(self) -> list[tuple[datetime.date, str]]:
        return parse_schedule_lines(self.cleaned_data["holidays"])

    def clean_workdays(self) -> list[tuple[datetime.date, str]]:
        return parse_schedule_lines(self.cleaned_data["workdays"])

    @staticmethod
    def initial_for(year: int | None) -> dict:
        """The form's starting values: the year's schedule as loaded now, if any."""
        year = year or timezone.localdate().year + 1
        days = CalendarDay.objects.filter(date__year=year).order_by("date")
        lines = {kind: [] for kind in CalendarDay.Kind.values}
        for d in days:
            lines[d.kind].append(f"{d.date.isoformat()} {d.name}".strip())
        return {
            "year": year,
            "holidays": "\n".join(lines[CalendarDay.Kind.HOLIDAY]),
            "workdays": "\n".join(lines[CalendarDay.Kind.WORKDAY]),
        }


class StaffAuthenticationForm(AuthenticationForm):
    """The password login is for staff only: enterprise contacts sign in with an SMS code."""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if user.role == Role.ENTERPRISE_CONTACT:
            raise forms.ValidationError("企业联系人请使用手机验证码登录", code="enterprise_contact")
