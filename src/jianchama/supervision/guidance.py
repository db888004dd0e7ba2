"""Guidance opinions (指导性意见, F-37): marking a problem as systemic, issuing the opinion as a numbered PDF to
the bodies it concerns, their acknowledgement, the one-month deadline with its reminders.

Seed 003 二（四）3 is the specification: 「针对监督过程中发现的普遍性、系统性问题……在发现问题后的1个月内提出具有针对性
和可操作性的指导性意见」. The period is one calendar month from the day a supervisor marks the problem as systemic
(the day the bureau has "found" it as a systemic problem, which the findings alone are not): marked on 31 January,
due 28 (or 29) February; the seed counts no working days here. Drafts past that day are overdue; an opinion
issued late stays flagged (`due_missed_at`).

Who: the bureau's supervisors of the district of every body concerned (`registry.legal_acts`, ISSUE_GUIDANCE)
mark and issue; each recipient body's administrator acknowledges. Each function takes the acting user first,
checks role and state against `GUIDANCE_TRANSITIONS`, changes the data in one transaction (the PDF and its
number included) and appends to the audit log; notifications are queued by the inbox after commit.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from jianchama.core import audit, files
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied, raise_if
from jianchama.core.formats import chinese_date
from jianchama.core.models import User
from jianchama.core.numbering import take_number
from jianchama.core.roles import Role
from jianchama.notifications.services import notify_user
from jianchama.registry import legal_acts
from jianchama.registry.legal_acts import LegalAct
from jianchama.registry.models import EnforcementBody, Field, Region

from . import documents
from .models import (
    GUIDANCE_TRANSITIONS,
    DocumentNumberCounter,
    Finding,
    GuidanceOpinion,
    GuidanceRecipient,
    ReminderLog,
)

# Calendar days before the due day on which the bureau is reminded of an opinion not yet issued.
DEFAULT_REMINDER_DAYS = 7

OPINION_FIELDS = [
    "region",
    "title",
    "problem",
    "field",
    "marked_on",
    "due_on",
    "status",
    "guidance",
    "number",
]
GS = GuidanceOpinion.Status


def reminder_days() -> int:
    return int(getattr(settings, "GUIDANCE_REMINDER_DAYS", DEFAULT_REMINDER_DAYS))


def one_month_after(day: datetime.date) -> datetime.date:
    """The same day of the next calendar month, or that month's last day: 1月31日 → 2月28日 (29 in a leap
    year), 12月15日 → 次年1月15日."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def district_of(body: EnforcementBody) -> Region:
    """The region in whose name the bureau acts for `body` (its district; the city for a city body)."""
    return legal_acts.home_region(body)


def _text(value: Any) -> str:
    # NUL is never text (PostgreSQL refuses it in a text column): dropped, as Django's form fields refuse it
    return "" if value is None else str(value).replace("\x00", "").strip()


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def body_admins(bodies: Iterable[EnforcementBody]) -> list[User]:
    ids = [b.pk for b in bodies]
    return list(
        User.objects.people().filter(role=Role.BODY_ADMIN, body_id__in=ids, is_active=True).order_by("pk")
    )


def region_supervisors(region: Region) -> list[User]:
    """The supervisors of the district (and of the towns within it) who act for the opinion."""
    return list(
        User.objects.filter(
            role=Role.SUPERVISOR, is_active=True, region__path__startswith=region.path
        ).order_by("pk")
    )


# --- Marking a problem as systemic ---------------------------------------------------------------------


@transaction.atomic
def mark_systemic(
    actor,
    *,
    findings: Sequence[Finding],
    title: str,
    problem: str,
    field: Field | None = None,
    bodies: Sequence[EnforcementBody] = (),
    marked_on: datetime.date | None = None,
) -> GuidanceOpinion:
    """Mark the problem the `findings` share as systemic and open its guidance opinion (a draft due one calendar
    month later). Systemic means the findings concern several bodies, or one field (then every finding's body
    works in it and the opinion goes to every active body of the district in the field). The opinion goes to
    the findings' bodies and to `bodies`, all of one district, in whose name `actor` must act."""
    findings = list(
        Finding.objects.select_related("body__region")
        .prefetch_related("body__fields")
        .filter(pk__in=[f.pk for f in findings])
        .order_by("pk")
    )
    problems = []
    title, problem = _text(title), _text(problem)
    if not findings:
        raise DomainError("请至少选择一个监督问题：指导性意见针对监督中发现的问题提出")
    if not title:
        problems.append("请填写标题（所针对的系统性问题）")
    if not problem:
        problems.append("请说明问题的普遍性、系统性：涉及哪些单位、表现在哪里")
    dismissed = [f.title for f in findings if f.status == Finding.Status.DISMISSED]
    if dismissed:
        problems.append(f"经核实不成立的问题不能作为依据：{'、'.join(dismissed)}")
    found_bodies = {f.body_id: f.body for f in findings}
    if field is None and len(found_bodies) < 2:
        problems.append(
            "只涉及一个执法单位的问题不是普遍性、系统性问题：请选择多个单位的问题，或选择问题所在的执法领域"
        )
    if field is not None:
        outside = [f.body.name for f in findings if field.pk not in {x.pk for x in f.body.fields.all()}]
        if outside:
            problems.append(f"以下单位不属于{field.name}领域：{'、'.join(sorted(set(outside)))}")
    raise_if(problems, "未认定为系统性问题")
    recipients = dict(found_bodies)
    for body in bodies:
        recipients.setdefault(body.pk, body)
    districts = {district_of(b).pk for b in recipients.values()}
    if len(districts) > 1:
        raise DomainError("所涉执法单位不在同一区：指导性意见由各单位所在区的司法局分别提出")
    region = district_of(next(iter(recipients.values())))
    if field is not None:
        for body in (
            EnforcementBody.objects.filter(fields=field, is_active=True, region__path__startswith=region.path)
            .exclude(level=EnforcementBody.Level.CITY)
            .select_related("region")
        ):
            if district_of(body).pk == region.pk:
                recipients.setdefault(body.pk, body)
    for body in recipients.values():
        legal_acts.require(actor, LegalAct.ISSUE_GUIDANCE, body, f"就{body.name}等单位的问题提出指导性意见")
    today = timezone.localdate()
    marked_on = marked_on or today
    if marked_on > today:
        raise DomainError(f"认定日期不能晚于今天（{chinese_date(today)}）")
    opinion = GuidanceOpinion.objects.create(
        region=region,
        title=title[:200],
        problem=problem,
        field=field,
        marked_on=marked_on,
        due_on=one_month_after(marked_on),
        created_by=actor,
    )
    opinion.findings.set(findings)
    GuidanceRecipient.objects.bulk_create(
        [GuidanceRecipient(opinion=opinion, body=body) for body in recipients.values()]
    )
    audit.record(
        actor=actor,
        action="supervision.guidance_marked",
        obj=opinion,
        after={
            **audit.snapshot(opinion, OPINION_FIELDS),
            "findings": [f.pk for f in findings],
            "bodies": sorted(recipients),
        },
    )
    return opinion


# --- Issuing ---------------------------------------------------------------------------------------------


def _next_number(region: Region, year: int) -> str:
    """金司监指〔2026〕1号: the district's guidance opinions of the year, numbered under a locked counter."""
    from jianchama.plans.services import short_name

    initial = short_name(region)[:1]
    return take_number(
        DocumentNumberCounter,
        {"region": region, "kind": DocumentNumberCounter.Kind.GUIDANCE, "year": year},
        GuidanceOpinion,
        lambda n: f"{initial}司监指〔{year}〕{n}号",
    )


def document_context(opinion: GuidanceOpinion, recipients: list[GuidanceRecipient]) -> dict[str, Any]:
    return {
        "title": "指导性意见",
        "number": opinion.number,
        "subject": opinion.title,
        "addressees": "、".join(r.body.name for r in recipients),
        "issuer": f"{opinion.region.name}司法局",
        "field_name": opinion.field.name if opinion.field_id else "",
        "marked_on": chinese_date(opinion.marked_on),
        "problem_lines": _lines(opinion.problem),
        "guidance_lines": _lines(opinion.guidance),
        "finding_titles": sorted({f.title for f in opinion.findings.all()}),
        "issued_on": chinese_date(opinion.issued_on),
    }


@files.removed_unless_committed
def issue_guidance(actor, *, opinion: GuidanceOpinion, guidance: str) -> GuidanceOpinion:
    """Issue the opinion with its text: numbered, rendered to PDF and stored, sent to every recipient body's
    administrators to acknowledge. Issuing after the due day is allowed (better late than never) and flagged."""
    # of=("self",): PostgreSQL locks no row of a nullable outer join (the field)
    opinion = (
        GuidanceOpinion.objects.select_for_update(of=("self",))
        .select_related("region", "field")
        .get(pk=opinion.pk)
    )
    recipients = list(opinion.recipients.select_related("body__region"))
    for recipient in recipients:
        legal_acts.require(actor, LegalAct.ISSUE_GUIDANCE, recipient.body, "印发指导性意见")
    if GS.ISSUED not in GUIDANCE_TRANSITIONS[opinion.status]:
        raise InvalidTransition(
            f"指导性意见{opinion.number}当前状态为「{opinion.get_status_display()}」，不能再次印发"
        )
    guidance = _text(guidance)
    if len(guidance) < 10:
        raise DomainError("请填写具有针对性和可操作性的指导意见（至少10个字）", problems=["请填写指导意见"])
    now = timezone.now()
    today = timezone.localdate(now)
    before = audit.snapshot(opinion, OPINION_FIELDS)
    opinion.guidance = guidance
    opinion.status = GS.ISSUED
    opinion.number = _next_number(opinion.region, today.year)
    opinion.issued_on, opinion.issued_at, opinion.issued_by = today, now, actor
    late = today > opinion.due_on
    if late and opinion.due_missed_at is None:
        opinion.due_missed_at = now
    pdf = documents.guidance_pdf(document_context(opinion, recipients))
    opinion.document.save(f"{opinion.number}.pdf", ContentFile(pdf), save=False)
    files.track(opinion.document)
    opinion.save()
    audit.record(
        actor=actor,
        action="supervision.guidance_issued",
        obj=opinion,
        before=before,
        after={**audit.snapshot(opinion, OPINION_FIELDS), "issued_late": late},
    )
    for user in body_admins(r.body for r in recipients):
        notify_user(
            user=user,
            event="supervision.guidance",
            subject=f"指导性意见 {opinion.number}",
            body=f"{opinion.region.name}司法局印发了指导性意见《{opinion.title}》（{opinion.number}），"
            "请登录平台阅读并签收，在本单位涉企行政检查工作中落实。",
            related=opinion,
        )
    return opinion


@transaction.atomic
def acknowledge_guidance(actor, *, opinion: GuidanceOpinion) -> GuidanceRecipient:
    """The administrator of a recipient body signs for the issued opinion (once)."""
    if not (actor.is_authenticated and actor.role == Role.BODY_ADMIN and actor.body_id):
        raise PermissionDenied("只有收到指导性意见的执法单位的管理员可以签收")
    try:
        recipient = (
            GuidanceRecipient.objects.select_for_update(of=("self",))
            .select_related("opinion", "body")
            .get(opinion_id=opinion.pk, body_id=actor.body_id)
        )
    except GuidanceRecipient.DoesNotExist:
        raise PermissionDenied("该指导性意见未发给你单位，不能签收") from None
    if recipient.opinion.status != GS.ISSUED:
        raise InvalidTransition("指导性意见尚未印发，不能签收")
    if recipient.acknowledged_at is not None:
        raise InvalidTransition(
            f"你单位已于{timezone.localtime(recipient.acknowledged_at):%Y-%m-%d %H:%M}签收该指导性意见"
        )
    recipient.acknowledged_at, recipient.acknowledged_by = timezone.now(), actor
    recipient.save(update_fields=["acknowledged_at", "acknowledged_by"])
    audit.record(
        actor=actor,
        action="supervision.guidance_acknowledged",
        obj=recipient.opinion,
        after={"body": recipient.body_id, "acknowledged_at": recipient.acknowledged_at},
    )
    return recipient


# --- The deadline as the pages show it, and the daily reminders -------------------------------------------


@dataclass(frozen=True)
class GuidanceDeadline:
    due: datetime.date
    done_on: datetime.date | None
    days_left: int  # calendar days; negative when missed
    missed: bool

    @property
    def text(self) -> str:
        if self.done_on is not None:
            return f"逾期{(self.done_on - self.due).days}天印发" if self.missed else "按期印发"
        if self.days_left < 0:
            return f"已逾期{-self.days_left}天"
        return "今日到期" if self.days_left == 0 else f"剩余{self.days_left}天"


def deadline(opinion: GuidanceOpinion, today: datetime.date | None = None) -> GuidanceDeadline:
    today = today or timezone.localdate()
    done = opinion.issued_on if opinion.status == GS.ISSUED else None
    left = ((done or today) - opinion.due_on).days * -1
    missed = (done or today) > opinion.due_on or opinion.due_missed_at is not None
    return GuidanceDeadline(due=opinion.due_on, done_on=done, days_left=left, missed=missed)


def _send_once(key: str, recipients: list[User], *, subject: str, body: str, related) -> bool:
    try:
        with transaction.atomic():
            ReminderLog.objects.create(key=key[:120], recipients=len(recipients))
            for user in recipients:
                notify_user(
                    user=user,
                    event="supervision.deadline",
                    subject=subject,
                    body=body,
                    related=related,
                    sms=True,
                )
    except IntegrityError:
        return False
    return True


def send_reminders(today: datetime.date | None = None) -> int:
    """The daily job: for each opinion not yet issued, remind the district's supervisors once when the due day
    is `GUIDANCE_REMINDER_DAYS` (7) calendar days away or nearer, and once when it has passed, marking the
    opinion overdue (kept after the late issue). Idempotent (`ReminderLog`). Returns the reminders sent."""
    today = today or timezone.localdate()
    now = timezone.now()
    sent = 0
    drafts = GuidanceOpinion.objects.filter(
        status=GS.DRAFT, due_on__lte=today + datetime.timedelta(days=reminder_days())
    ).select_related("region")
    for opinion in drafts:
        view = deadline(opinion, today)
        people = region_supervisors(opinion.region)
        what = f"指导性意见《{opinion.title}》"
        if today > opinion.due_on:
            with transaction.atomic():
                updated = GuidanceOpinion.objects.filter(pk=opinion.pk, due_missed_at__isnull=True).update(
                    due_missed_at=now
                )
                if updated:
                    audit.record(
                        actor="系统",
                        action="supervision.deadline_missed",
                        obj=opinion,
                        after={"deadline": "提出指导性意见", "due": opinion.due_on.isoformat()},
                    )
            sent += _send_once(
                f"guidance:{opinion.pk}:{opinion.due_on}:missed",
                people,
                subject=f"已逾期：{what}",
                body=f"{what}应于{chinese_date(opinion.due_on)}前提出（发现问题后1个月内），{view.text}，"
                "请尽快印发。",
                related=opinion,
            )
        else:
            sent += _send_once(
                f"guidance:{opinion.pk}:{opinion.due_on}:before",
                people,
                subject=f"期限提醒：{what}{view.text}",
                body=f"{what}应于{chinese_date(opinion.due_on)}前提出（发现问题后1个月内），{view.text}。",
                related=opinion,
            )
    return sent


__all__ = [
    "acknowledge_guidance",
    "deadline",
    "issue_guidance",
    "mark_systemic",
    "one_month_after",
    "send_reminders",
]
