"""Core services: one-time SMS codes (enterprise contacts' logins, legal representatives' approvals), and
the working-day calendar's schedules."""

from __future__ import annotations

import datetime
import hmac
import math
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

PHONE_RE = re.compile(r"^1[3-9][0-9]{9}$")  # ASCII digits only: \d would take full-width ones
CODE_COOLDOWN = datetime.timedelta(seconds=60)
CODES_PER_HOUR = 5


def _hash_code(phone: str, code: str, purpose: str = LoginCode.Purpose.LOGIN, subject: str = "") -> str:
    # A login code's hash is of the phone and the code alone; an approval code's also of what it approves.
    message = (
        f"{phone}:{code}" if purpose == LoginCode.Purpose.LOGIN else f"{phone}:{purpose}:{subject}:{code}"
    )
    return hmac.new(settings.SECRET_KEY.encode(), message.encode(), sha256).hexdigest()


def _lock_phone(phone: str) -> None:
    """Serialise code requests for one phone (PostgreSQL), so a double click cannot pass the cool-down twice.

    SQLite needs nothing: settings open every transaction IMMEDIATE, so writers already run one at a time.
    """
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"login-code:{phone}"])


def _send_code(*, phone: str, purpose: str, subject: str = "", text: str | None) -> None:
    """Store a new six-digit code for `phone` and, when `text` is given, send it (`{code}` and `{minutes}`
    filled in) after commit. The cool-down and the hourly limit count every code sent to the phone, whatever
    its purpose, so nobody can flood a phone with codes by asking for them in different ways."""
    now = timezone.now()
    with transaction.atomic():
        _lock_phone(phone)
        recent = LoginCode.objects.filter(phone=phone, created_at__gte=now - datetime.timedelta(hours=1))
        latest = recent.order_by("-created_at").first()
        if latest and now - latest.created_at < CODE_COOLDOWN:
            wait = math.ceil((CODE_COOLDOWN - (now - latest.created_at)).total_seconds())
            raise DomainError(f"验证码发送过于频繁，请 {wait} 秒后再试")
        if recent.count() >= CODES_PER_HOUR:
            raise DomainError(f"该手机号一小时内获取验证码已达 {CODES_PER_HOUR} 次，请一小时后再试")
        code = f"{secrets.randbelow(10**6):06d}"
        LoginCode.objects.create(
            phone=phone,
            purpose=purpose,
            code_hash=_hash_code(phone, code, purpose, subject) if text is not None else "",
            expires_at=now + datetime.timedelta(seconds=settings.LOGIN_CODE_TTL_SECONDS),
        )
        if text is not None:
            message = text.format(code=code, minutes=settings.LOGIN_CODE_TTL_SECONDS // 60)
            transaction.on_commit(lambda: send_sms(phone, message))


def _take_code(*, phone: str, purpose: str, code: str, subject: str = "") -> LoginCode:
    """Spend the latest code of this purpose sent to `phone`, or raise a DomainError saying what is wrong.

    Only the latest code counts: asking for a new code retires the older ones. A wrong code counts as an
    attempt, and the attempt is saved even though the error is raised, so the caller must not be inside a
    transaction that the error rolls back."""
    max_attempts = settings.LOGIN_CODE_MAX_ATTEMPTS
    with transaction.atomic():
        login_code = (
            LoginCode.objects.select_for_update()
            .filter(phone=phone, purpose=purpose)
            .order_by("-created_at", "-pk")
            .first()
        )
        problem = None
        if login_code is None:
            problem = "请先获取验证码"
        elif login_code.used_at is not None:
            problem = "该验证码已使用过，请重新获取"
        elif login_code.expires_at <= timezone.now():
            problem = "验证码已过期，请重新获取"
        elif login_code.attempts >= max_attempts:
            problem = "验证码输入错误次数过多，已失效，请重新获取"
        elif not (
            login_code.code_hash
            and hmac.compare_digest(login_code.code_hash, _hash_code(phone, code, purpose, subject))
        ):
            login_code.attempts += 1
            login_code.save(update_fields=["attempts"])
            left = max_attempts - login_code.attempts
            problem = (
                f"验证码不正确，还可以再试 {left} 次"
                if left
                else "验证码输入错误次数过多，已失效，请重新获取"
            )
        else:
            login_code.used_at = timezone.now()
            login_code.save(update_fields=["used_at"])
    if problem is not None:
        raise DomainError(problem)
    return login_code


def request_login_code(*, phone: str) -> None:
    """Send a six-digit code to an enterprise contact's phone. Says nothing about whether the phone is known.

    An unknown phone gets a code row all the same (one that never matches, and no SMS), so the limits, the
    messages and the timing of every later step are the same as for a known phone.
    """
    phone = phone.strip()
    if not PHONE_RE.match(phone):
        raise DomainError("请输入11位中国大陆手机号码（以1开头的11位数字）")
    known = User.objects.filter(phone=phone, role=Role.ENTERPRISE_CONTACT, is_active=True).exists()
    text = "【检查码】您的登录验证码为 {code}，{minutes} 分钟内有效。请勿告诉他人。"
    _send_code(phone=phone, purpose=LoginCode.Purpose.LOGIN, text=text if known else None)


def check_login_code(*, phone: str, code: str) -> User:
    """The enterprise contact whose phone received `code`. The code is used up on success.

    Only the latest code sent to a phone counts: asking for a new code retires the older ones.
    """
    phone, code = phone.strip(), code.strip()
    # Wrong attempts must be saved, so _take_code raises after its transaction commits.
    _take_code(phone=phone, purpose=LoginCode.Purpose.LOGIN, code=code)
    with transaction.atomic():
        user = User.objects.filter(phone=phone, role=Role.ENTERPRISE_CONTACT, is_active=True).first()
        if user is None:
            raise DomainError("该手机号已不是有效的企业联系人，请联系平台管理员")
        audit.record(actor=user, action="user.login_by_code", obj=user)
    return user


def request_approval_code(*, phone: str, purpose: str, subject: str, text: str, send: bool = True) -> None:
    """Send the holder of `phone` a code that approves one action, described by `subject` (bound into the
    code's hash) and told in `text` (with `{code}` and `{minutes}`). Same limits as the login codes.

    With `send=False` (a phone that may not approve this) a code row is stored that never matches and no SMS
    goes out, so the caller's answer, limits and timing are the same as for a phone that may."""
    _send_code(phone=phone, purpose=purpose, subject=subject, text=text if send else None)


def check_approval_code(*, phone: str, purpose: str, subject: str, code: str) -> None:
    """Spend the approval code; a DomainError if it is missing, wrong, used, expired or tried too often, or
    if it was sent to approve something else. Call it outside any transaction (wrong attempts are saved)."""
    _take_code(phone=phone, purpose=purpose, subject=subject, code=(code or "").strip())


def load_library_schedules(*, actor: User | str = "系统") -> list[int]:
    """(Re)load every year the calendar library knows. Returns the years whose schedule changed.

    Each changed year is replaced as a whole and audited; unchanged years are left alone.
    """
    changed = []
    with transaction.atomic():
        for year, rows in library_schedule().items():
            before = _year_rows(year)
            known = CalendarYear.objects.filter(year=year).exists()
            if known and before == rows:
                continue
            calendar_year = _replace_year(year, rows, LIBRARY_SOURCE)
            audit.record(
                actor=actor,
                action="calendar.load_library",
                obj=calendar_year,
                before=_rows_json(before) if known else None,
                after=_rows_json(rows),
            )
            changed.append(year)
    return changed


def _year_rows(year: int) -> list[tuple[datetime.date, str, str]]:
    return list(
        CalendarDay.objects.filter(date__year=year).order_by("date").values_list("date", "kind", "name")
    )


def _rows_json(rows: list[tuple[datetime.date, str, str]]) -> list[list[str]]:
    return [[d.isoformat(), str(k), n] for d, k, n in rows]


def _replace_year(year: int, rows: list[tuple[datetime.date, str, str]], source: str) -> CalendarYear:
    CalendarDay.objects.filter(date__year=year).delete()
    CalendarDay.objects.bulk_create(CalendarDay(date=d, kind=k, name=n) for d, k, n in rows)
    calendar_year, _ = CalendarYear.objects.update_or_create(year=year, defaults={"source": source[:100]})
    return calendar_year


# Years a schedule may be entered for: the official calendar starts with 2004's library data; anything far
# outside this range is a typing mistake.
SCHEDULE_YEARS = range(2000, 2101)
NAME_MAX = CalendarDay._meta.get_field("name").max_length


def set_year_schedule(
    actor: User,
    *,
    year: int,
    holidays: list[tuple[datetime.date, str]],
    workdays: list[tuple[datetime.date, str]],
) -> CalendarYear:
    """The platform administrator enters a year's schedule as the State Council publishes it.

    The year's holidays and swapped working days are replaced as a whole by what is given.
    """
    if not actor.is_platform_admin:
        raise PermissionDenied("只有平台管理员可以维护节假日安排")
    if year not in SCHEDULE_YEARS:
        raise DomainError(f"年份 {year} 不在可录入的范围内（{SCHEDULE_YEARS[0]}–{SCHEDULE_YEARS[-1]}年）")
    problems = []
    if not holidays:
        problems.append(f"没有填写 {year} 年的法定节假日")
    for label, entries in (("节假日", holidays), ("调休上班日", workdays)):
        seen = set()
        for day, name in entries:
            if day.year != year:
                problems.append(f"{label} {day.isoformat()} 不在 {year} 年内")
            if day in seen:
                problems.append(f"{label} {day.isoformat()} 重复填写")
            seen.add(day)
            if len(name) > NAME_MAX:
                problems.append(f"{day.isoformat()} 的名称超过 {NAME_MAX} 个字")
    for day, _ in workdays:
        if day.weekday() < 5:
            problems.append(f"{day.isoformat()} 是周一至周五，本来就是工作日，不需要登记为调休上班日")
    overlap = {d for d, _ in holidays} & {d for d, _ in workdays}
    for day in sorted(overlap):
        problems.append(f"{day.isoformat()} 不能同时是节假日和调休上班日")
    if problems:
        raise DomainError("节假日安排有误：" + "；".join(problems), problems=problems)
    with transaction.atomic():
        before = _year_rows(year)
        was_known = CalendarYear.objects.filter(year=year).exists()
        rows = sorted(
            [(d, CalendarDay.Kind.HOLIDAY.value, n.strip()) for d, n in holidays]
            + [(d, CalendarDay.Kind.WORKDAY.value, n.strip()) for d, n in workdays]
        )
        calendar_year = _replace_year(year, rows, f"平台管理员 {actor} 录入")
        audit.record(
            actor=actor,
            action="calendar.set_year",
            obj=calendar_year,
            before=_rows_json(before) if was_known else None,
            after=_rows_json(rows),
        )
    return calendar_year
