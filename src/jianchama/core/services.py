"""Core services: one-time login codes for enterprise contacts, and the working-day calendar's schedules."""

from __future__ import annotations

import datetime
import hmac
import re
import secrets
from hashlib import sha256

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import audit
from .calendar_data import LIBRARY_SOURCE, library_schedule
from .errors import DomainError, PermissionDenied
from .models import CalendarDay, CalendarYear, LoginCode, User
from .roles import Role
from .sms import send_sms

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
CODE_COOLDOWN = datetime.timedelta(seconds=60)
CODES_PER_HOUR = 5


def _hash_code(phone: str, code: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"{phone}:{code}".encode(), sha256).hexdigest()


def request_login_code(*, phone: str) -> None:
    """Send a six-digit code to an enterprise contact's phone. Says nothing about whether the phone is known."""
    phone = phone.strip()
    if not PHONE_RE.match(phone):
        raise DomainError("请输入11位中国大陆手机号码")
    now = timezone.now()
    with transaction.atomic():
        recent = LoginCode.objects.filter(phone=phone, created_at__gte=now - datetime.timedelta(hours=1))
        latest = recent.order_by("-created_at").first()
        if latest and now - latest.created_at < CODE_COOLDOWN:
            wait = int((CODE_COOLDOWN - (now - latest.created_at)).total_seconds()) + 1
            raise DomainError(f"验证码发送过于频繁，请 {wait} 秒后再试")
        if recent.count() >= CODES_PER_HOUR:
            raise DomainError("该手机号一小时内获取验证码次数已达上限，请稍后再试")
        if not User.objects.filter(phone=phone, role=Role.ENTERPRISE_CONTACT, is_active=True).exists():
            # Record the attempt all the same, so probing unknown numbers is rate-limited too.
            LoginCode.objects.create(phone=phone, code_hash="", expires_at=now)
            return
        code = f"{secrets.randbelow(10**6):06d}"
        LoginCode.objects.create(
            phone=phone, code_hash=_hash_code(phone, code),
            expires_at=now + datetime.timedelta(seconds=settings.LOGIN_CODE_TTL_SECONDS),
        )
    minutes = settings.LOGIN_CODE_TTL_SECONDS // 60
    transaction.on_commit(
        lambda: send_sms(phone, f"【检查码】您的登录验证码为 {code}，{minutes} 分钟内有效。请勿告诉他人。")
    )


def check_login_code(*, phone: str, code: str) -> User:
    """The enterprise contact whose phone received `code`. The code is used up on success."""
    phone, code = phone.strip(), code.strip()
    failure = DomainError("验证码不正确或已过期，请重新获取")
    with transaction.atomic():
        login_code = (
            LoginCode.objects.select_for_update()
            .filter(phone=phone, used_at__isnull=True, expires_at__gt=timezone.now())
            .exclude(code_hash="")
            .order_by("-created_at")
            .first()
        )
        if login_code is None:
            raise failure
        if login_code.attempts >= settings.LOGIN_CODE_MAX_ATTEMPTS:
            raise DomainError("验证码输入错误次数过多，请重新获取")
        if not hmac.compare_digest(login_code.code_hash, _hash_code(phone, code)):
            login_code.attempts += 1
            login_code.save(update_fields=["attempts"])
            if login_code.attempts >= settings.LOGIN_CODE_MAX_ATTEMPTS:
                raise DomainError("验证码输入错误次数过多，请重新获取")
            raise failure
        login_code.used_at = timezone.now()
        login_code.save(update_fields=["used_at"])
        user = User.objects.get(phone=phone, role=Role.ENTERPRISE_CONTACT, is_active=True)
        audit.record(actor=user, action="user.login_by_code", obj=user)
    return user


def load_library_schedules() -> list[int]:
    """(Re)load every year the calendar library knows. Returns the years loaded."""
    with transaction.atomic():
        schedules = library_schedule()
        for year, rows in schedules.items():
            _replace_year(year, rows, LIBRARY_SOURCE)
    return list(schedules)


def _replace_year(year: int, rows: list[tuple[datetime.date, str, str]], source: str) -> None:
    CalendarDay.objects.filter(date__year=year).delete()
    CalendarDay.objects.bulk_create(CalendarDay(date=d, kind=k, name=n) for d, k, n in rows)
    CalendarYear.objects.update_or_create(year=year, defaults={"source": source})


def set_year_schedule(
    actor: User, *, year: int, holidays: list[tuple[datetime.date, str]], workdays: list[tuple[datetime.date, str]]
) -> CalendarYear:
    """The platform administrator enters a year's schedule as the State Council publishes it."""
    if not actor.is_platform_admin:
        raise PermissionDenied("只有平台管理员可以维护节假日安排")
    problems = []
    for day, _ in holidays + workdays:
        if day.year != year:
            problems.append(f"{day.isoformat()} 不在 {year} 年内")
    for day, _ in workdays:
        if day.weekday() < 5:
            problems.append(f"{day.isoformat()} 是周一至周五，本来就是工作日，不需要登记为调休上班日")
    overlap = {d for d, _ in holidays} & {d for d, _ in workdays}
    for day in sorted(overlap):
        problems.append(f"{day.isoformat()} 不能同时是节假日和调休上班日")
    if problems:
        raise DomainError("节假日安排有误：" + "；".join(problems), problems=problems)
    with transaction.atomic():
        before = list(CalendarDay.objects.filter(date__year=year).values_list("date", "kind", "name"))
        rows = [(d, CalendarDay.Kind.HOLIDAY, n) for d, n in holidays] + [
            (d, CalendarDay.Kind.WORKDAY, n) for d, n in workdays
        ]
        _replace_year(year, sorted(rows), f"平台管理员 {actor} 录入")
        calendar_year = CalendarYear.objects.get(year=year)
        audit.record(
            actor=actor, action="calendar.set_year", obj=calendar_year,
            before=[[d.isoformat(), k, n] for d, k, n in before],
            after=[[d.isoformat(), k, n] for d, k, n in sorted(rows)],
        )
    return calendar_year
