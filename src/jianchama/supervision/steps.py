"""The three steps (F-32) and accountability (F-33): every write of warnings, recommendations, decisions and
their measures, the deadlines as the pages show them, the finding page's panel and the daily reminders.

Seed 003 二（二）1–2 is the specification. Step one: the bureau warns a body (phone, visit, meeting) and
establishes whether the problem was rectified. Step two: not rectified → a recommendation within 5 working
days; the body rectifies within 15 working days of receiving it and reports; the bureau re-checks within 5
working days after that deadline. Not rectified → the bureau asks the district government, whose user
issues the decision and its accountability measures. A certificate measure goes through
`registry.services.set_certificate_status(by_decision=…)`, which takes effect at once.

Who: each legal act is performed by the actor `registry.legal_acts` names (one table): a supervisor of the
body's district bureau does the bureau's steps (not the city's, not another district's, not the platform
administrator); the body's administrator acknowledges and reports; the district government's user of the
body's district issues the decision and its measures. Each function takes the acting user first, checks role and state against the model's
transitions table, changes the data in one transaction (the PDF and its number included: a failing PDF
leaves no number used) and appends to the audit log.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from jianchama.core import audit, events, files
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied, raise_if
from jianchama.core.formats import chinese_date
from jianchama.core.models import User
from jianchama.core.numbering import take_number
from jianchama.core.roles import Role
from jianchama.core.workdays import WorkingCalendar, add_working_days, unknown_years
from jianchama.notifications.services import notify_user
from jianchama.registry import legal_acts
from jianchama.registry.legal_acts import LegalAct
from jianchama.registry.models import Certificate, EnforcementBody, Inspector, Region

from . import documents
from .models import (
    DECISION_TRANSITIONS,
    RECOMMENDATION_TRANSITIONS,
    WARNING_TRANSITIONS,
    AccountabilityMeasure,
    Decision,
    DocumentNumberCounter,
    Finding,
    Recommendation,
    ReminderLog,
    SupervisionWarning,
)
from .services import is_supervisor_of

# The seed's working-day periods (二（二）1).
RECOMMENDATION_WORKING_DAYS = 5
RECTIFICATION_WORKING_DAYS = 15
REVIEW_WORKING_DAYS = 5
# A decision's deadline when the district government does not set another (the seed gives none).
DECISION_DEFAULT_WORKING_DAYS = 15
DEFAULT_REMINDER_WORKING_DAYS = 2

REPORT_MAX_BYTES = 20 * 1024 * 1024
# Extension → leading bytes the file must start with; the name alone proves nothing.
REPORT_TYPES: dict[str, tuple[bytes, ...]] = {
    ".pdf": (b"%PDF-",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".docx": (b"PK\x03\x04",),
}

WARNING_FIELDS = [
    "finding",
    "body",
    "channel",
    "warned_on",
    "content",
    "response",
    "response_on",
    "outcome",
    "outcome_on",
    "outcome_note",
    "recommendation_due",
]
RECOMMENDATION_FIELDS = [
    "finding",
    "body",
    "direct",
    "direct_reason",
    "number",
    "status",
    "issue_due",
    "issued_on",
    "received_on",
    "acknowledged_at",
    "rectify_by",
    "report_text",
    "report_file",
    "report_file_name",
    "reported_at",
    "review_due",
    "review_note",
    "reviewed_at",
    "decision_requested_at",
    "document",
]
DECISION_FIELDS = [
    "recommendation",
    "body",
    "number",
    "status",
    "deadline_working_days",
    "deadline",
    "issued_on",
    "document",
    "closed_at",
    "close_note",
]

RS = Recommendation.Status
WO = SupervisionWarning.Outcome
FS = Finding.Status


def reminder_working_days() -> int:
    return int(getattr(settings, "SUPERVISION_REMINDER_WORKING_DAYS", DEFAULT_REMINDER_WORKING_DAYS))


# --- Who ----------------------------------------------------------------------------------------------


def bureau_region(body: EnforcementBody) -> Region:
    """The district whose justice bureau supervises `body` (the body's own region for a city body)."""
    return body.region.district() or body.region


def bureau_name(body: EnforcementBody) -> str:
    return f"{bureau_region(body).name}司法局"


def government_name(body: EnforcementBody) -> str:
    return f"{bureau_region(body).name}人民政府"


def is_body_admin_of(user, body: EnforcementBody) -> bool:
    return (
        user.is_authenticated
        and user.role == Role.BODY_ADMIN
        and user.body_id is not None
        and user.body_id == body.pk
    )


def is_government_of(user, body: EnforcementBody) -> bool:
    """The district government's user whose region contains the body (or a platform administrator)."""
    if not user.is_authenticated:
        return False
    if user.is_platform_admin:
        return True
    return (
        user.role == Role.DISTRICT_GOVERNMENT
        and user.region_id is not None
        and body.region.path.startswith(user.region.path)
    )


def body_admins(body: EnforcementBody) -> list[User]:
    return list(User.objects.people().filter(role=Role.BODY_ADMIN, body=body, is_active=True).order_by("pk"))


def bureau_supervisors(body: EnforcementBody) -> list[User]:
    """The supervisors of the body's district (and of any region between it and the body), not the city's."""
    district_path = bureau_region(body).path
    path = body.region.path
    prefixes = [path[: i + 1] for i, ch in enumerate(path) if ch == "/" and i + 1 >= len(district_path)]
    return list(
        User.objects.filter(role=Role.SUPERVISOR, is_active=True, region__path__in=prefixes).order_by("pk")
    )


def government_users(body: EnforcementBody) -> list[User]:
    district_path = bureau_region(body).path
    return list(
        User.objects.filter(
            role=Role.DISTRICT_GOVERNMENT, is_active=True, region__path=district_path
        ).order_by("pk")
    )


def _require_body_admin(actor, body: EnforcementBody, what: str) -> None:
    if not is_body_admin_of(actor, body):
        raise PermissionDenied(f"只有{body.name}的管理员可以{what}")


# --- Small helpers ------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _notify_all(
    users: Iterable[User], *, event: str, subject: str, body: str, related, sms: bool = False
) -> int:
    count = 0
    for user in users:
        notify_user(user=user, event=event, subject=subject, body=body, related=related, sms=sms)
        count += 1
    return count


def _set_finding_status(actor, finding: Finding, to: str, *, allowed_from: set[str], note: str = "") -> None:
    """Move the finding along the three steps (it follows its warning, recommendation and decision)."""
    if finding.status not in allowed_from:
        raise InvalidTransition(
            f"监督问题当前状态为「{finding.get_status_display()}」，不能变为「{FS(to).label}」"
        )
    before = audit.snapshot(finding, ["status", "closed_at", "close_note"])
    finding.status = to
    fields = ["status"]
    if to == FS.RECTIFIED:
        finding.closed_at = timezone.now()
        finding.close_note = note
        fields += ["closed_at", "close_note"]
    finding.save(update_fields=fields)
    audit.record(
        actor=actor,
        action="supervision.finding_status",
        obj=finding,
        before=before,
        after=audit.snapshot(finding, ["status", "closed_at", "close_note"]),
    )


def _date_not_future(value: datetime.date | None, label: str, problems: list[str]) -> datetime.date:
    today = timezone.localdate()
    if value is None:
        return today
    if value > today:
        problems.append(f"{label}不能晚于今天（{chinese_date(today)}）")
    return value


def _next_number(body: EnforcementBody, kind: str, year: int) -> str:
    """The next number of the district's supervision documents of `kind`, e.g. 金司监建〔2026〕3号 or
    金府监决〔2026〕1号. The counter row stays locked until the issuing transaction ends, so two issues
    at once wait for each other; a rollback (a failing PDF) gives the number back."""
    from jianchama.plans.services import short_name

    region = bureau_region(body)
    initial = short_name(region)[:1]
    model, infix = (
        (Recommendation, "司监建")
        if kind == DocumentNumberCounter.Kind.RECOMMENDATION
        else (Decision, "府监决")
    )
    return take_number(
        DocumentNumberCounter,
        {"region": region, "kind": kind, "year": year},
        model,
        lambda n: f"{initial}{infix}〔{year}〕{n}号",
    )


# --- Step one: the warning ----------------------------------------------------------------------------


@transaction.atomic
def warn_body(
    actor,
    *,
    finding: Finding,
    channel: str,
    content: str,
    warned_on: datetime.date | None = None,
) -> SupervisionWarning:
    """Warn the finding's body (预警提醒) by phone, visit or meeting, on `warned_on` (today by default)."""
    finding = Finding.objects.select_for_update().select_related("body__region").get(pk=finding.pk)
    legal_acts.require(actor, LegalAct.WARN, finding.body, "向执法单位发出预警提醒")
    if finding.status != FS.OPEN:
        raise InvalidTransition(
            f"监督问题当前状态为「{finding.get_status_display()}」，只有待核实的问题可以预警提醒"
        )
    problems = []
    if channel not in SupervisionWarning.Channel.values:
        problems.append("请选择预警方式（电话、走访或座谈会）")
    content = _text(content)
    if not content:
        problems.append("请填写预警内容（向执法单位指出的问题）")
    warned_on = _date_not_future(warned_on, "预警日期", problems)
    raise_if(problems, "预警提醒未登记")
    warning = SupervisionWarning.objects.create(
        finding=finding,
        body=finding.body,
        channel=channel,
        warned_on=warned_on,
        content=content,
        created_by=actor,
    )
    audit.record(
        actor=actor,
        action="supervision.warning_issued",
        obj=warning,
        after=audit.snapshot(warning, WARNING_FIELDS),
    )
    _set_finding_status(actor, finding, FS.WARNED, allowed_from={FS.OPEN})
    # From now on the body sees the finding (Finding.visible_to): its own systems may hear of it too.
    events.emit(
        "finding.raised",
        body_id=finding.body_id,
        subject={"type": "finding", "id": finding.pk},
        data={
            "title": finding.title,
            "description": _body_text(finding),
            "period": finding.period.strftime("%Y-%m"),
            "warned_on": warned_on.isoformat(),
            "channel": warning.channel,
        },
    )
    _notify_all(
        body_admins(finding.body),
        event="supervision.warning",
        subject=f"执法监督预警提醒：{finding.title}",
        body=f"{bureau_name(finding.body)}于{chinese_date(warned_on)}通过{warning.get_channel_display()}"
        f"向你单位发出预警提醒：{content}。请及时整改并反馈。",
        related=warning,
    )
    return warning


def _locked_warning(warning: SupervisionWarning) -> SupervisionWarning:
    return (
        SupervisionWarning.objects.select_for_update()
        .select_related("body__region", "finding")
        .get(pk=warning.pk)
    )


@transaction.atomic
def record_warning_response(
    actor, *, warning: SupervisionWarning, response: str, response_on: datetime.date | None = None
) -> SupervisionWarning:
    """The body's response to a warning: entered by the body's administrator, or by the supervisor who took
    it by phone or at the meeting. Only while the outcome is not yet established."""
    warning = _locked_warning(warning)
    if not (is_supervisor_of(actor, warning.body) or is_body_admin_of(actor, warning.body)):
        raise PermissionDenied(
            f"只有{warning.body.name}的管理员或{bureau_name(warning.body)}执法监督人员可以登记反馈"
        )
    if warning.outcome != WO.PENDING:
        raise InvalidTransition(f"该预警提醒已核实为「{warning.get_outcome_display()}」，不能再登记反馈")
    problems = []
    response = _text(response)
    if not response:
        problems.append("请填写执法单位的反馈")
    response_on = _date_not_future(response_on, "反馈日期", problems)
    if response_on < warning.warned_on:
        problems.append(f"反馈日期不能早于预警日期（{chinese_date(warning.warned_on)}）")
    raise_if(problems, "反馈未登记")
    before = audit.snapshot(warning, WARNING_FIELDS)
    warning.response, warning.response_on = response, response_on
    warning.save(update_fields=["response", "response_on"])
    audit.record(
        actor=actor,
        action="supervision.warning_response",
        obj=warning,
        before=before,
        after=audit.snapshot(warning, WARNING_FIELDS),
    )
    return warning


@transaction.atomic
def record_warning_outcome(
    actor,
    *,
    warning: SupervisionWarning,
    rectified: bool,
    note: str,
    on: datetime.date | None = None,
) -> SupervisionWarning:
    """The bureau establishes, on `on` (today by default), whether the body rectified after the warning.
    Rectified closes the finding; not rectified starts the 5 working days for the recommendation."""
    warning = _locked_warning(warning)
    legal_acts.require(actor, LegalAct.VERIFY_WARNING, warning.body)
    to = WO.RECTIFIED if rectified else WO.NOT_RECTIFIED
    if to not in WARNING_TRANSITIONS[warning.outcome]:
        raise InvalidTransition(
            f"该预警提醒已核实为「{warning.get_outcome_display()}」，不能再核实为「{WO(to).label}」"
        )
    problems = []
    note = _text(note)
    if not note:
        problems.append("请填写核实情况（如何确认整改或未整改）")
    on = _date_not_future(on, "核实日期", problems)
    if on < warning.warned_on:
        problems.append(f"核实日期不能早于预警日期（{chinese_date(warning.warned_on)}）")
    raise_if(problems, "整改情况未登记")
    before = audit.snapshot(warning, WARNING_FIELDS)
    warning.outcome, warning.outcome_on, warning.outcome_note = to, on, note
    if not rectified:
        warning.recommendation_due = add_working_days(on, RECOMMENDATION_WORKING_DAYS)
    warning.save(update_fields=["outcome", "outcome_on", "outcome_note", "recommendation_due"])
    audit.record(
        actor=actor,
        action="supervision.warning_outcome",
        obj=warning,
        before=before,
        after=audit.snapshot(warning, WARNING_FIELDS),
    )
    finding = Finding.objects.select_for_update().get(pk=warning.finding_id)
    if rectified:
        _set_finding_status(
            actor, finding, FS.RECTIFIED, allowed_from={FS.WARNED}, note=f"预警后已整改：{note}"
        )
    return warning


# --- Step two: the recommendation ---------------------------------------------------------------------


def recommendation_document_context(
    rec: Recommendation, warning: SupervisionWarning | None
) -> dict[str, Any]:
    return {
        "title": "行政执法监督建议书",
        "number": rec.number,
        "body_name": rec.body.name,
        "issuer": bureau_name(rec.body),
        "direct": warning is None,
        "warned_on": chinese_date(warning.warned_on) if warning else "",
        "warning_channel": f"以{warning.get_channel_display()}方式" if warning else "",
        "not_rectified_on": chinese_date(warning.outcome_on) if warning else "",
        "direct_reason_lines": _lines(rec.direct_reason),
        "facts_lines": _lines(rec.facts),
        "legal_basis_lines": _lines(rec.legal_basis),
        "demanded_lines": _lines(rec.demanded),
        "received_on": chinese_date(rec.received_on),
        "rectify_days": RECTIFICATION_WORKING_DAYS,
        "rectify_by": chinese_date(rec.rectify_by),
        "review_days": REVIEW_WORKING_DAYS,
        "review_due": chinese_date(rec.review_due),
        "issued_on": chinese_date(rec.issued_on),
    }


@files.removed_unless_committed
def issue_recommendation(
    actor, *, finding: Finding, facts: str, legal_basis: str, demanded: str
) -> Recommendation:
    """Issue the supervision recommendation for a finding whose warning the bureau found not rectified:
    numbered, rendered to PDF and stored, delivered to the body in the system today; the body must
    rectify within 15 working days, the bureau re-checks within 5 working days after."""
    finding = Finding.objects.select_for_update().select_related("body__region").get(pk=finding.pk)
    legal_acts.require(actor, LegalAct.RECOMMEND, finding.body)
    warning = finding.warnings.filter(outcome=WO.NOT_RECTIFIED).order_by("-outcome_on", "-pk").first()
    if finding.status != FS.WARNED or warning is None:
        raise InvalidTransition(
            f"监督问题当前状态为「{finding.get_status_display()}」：只有经预警提醒、核实未整改的问题"
            "才能制发监督建议书，请先登记预警提醒并核实整改情况"
        )
    return _issue(actor, finding, warning, facts, legal_basis, demanded, reason="")


@files.removed_unless_committed
def issue_direct_recommendation(
    actor, *, finding: Finding, reason: str, facts: str, legal_basis: str, demanded: str
) -> Recommendation:
    """Issue the recommendation without a prior warning, for a body with prominent problems (seed 003
    二（四）2: 对问题突出的行政执法单位，及时制发执法监督建议书), giving the reason. Same act, number,
    PDF and deadlines as step two; the letter is flagged `direct` (lists, export, statistics) and its
    PDF states the reason instead of the warning. A finding whose warning was already found not
    rectified takes the ordinary step two."""
    finding = Finding.objects.select_for_update().select_related("body__region").get(pk=finding.pk)
    legal_acts.require(actor, LegalAct.RECOMMEND, finding.body)
    if finding.status not in (FS.OPEN, FS.WARNED):
        raise InvalidTransition(
            f"监督问题当前状态为「{finding.get_status_display()}」：只有待核实或已预警的问题可以直接制发"
            "监督建议书"
        )
    if finding.warnings.filter(outcome=WO.NOT_RECTIFIED).exists():
        raise InvalidTransition(
            "该问题经预警提醒已核实未整改，请按第二步制发监督建议书（无需直接制发的理由）"
        )
    reason = _text(reason)
    if not reason:
        raise_if(
            ["请填写直接制发的理由：为什么该单位问题突出、不经预警提醒即制发监督建议书"],
            "监督建议书未制发",
        )
    return _issue(actor, finding, None, facts, legal_basis, demanded, reason=reason)


def _issue(
    actor,
    finding: Finding,
    warning: SupervisionWarning | None,
    facts: str,
    legal_basis: str,
    demanded: str,
    *,
    reason: str,
) -> Recommendation:
    if Recommendation.objects.filter(finding=finding).exists():
        raise InvalidTransition("该问题已制发监督建议书，不能重复制发")
    facts, legal_basis, demanded = _text(facts), _text(legal_basis), _text(demanded)
    problems = []
    if not facts:
        problems.append("请填写问题事实")
    if not legal_basis:
        problems.append("请填写依据")
    if not demanded:
        problems.append("请填写整改要求")
    raise_if(problems, "监督建议书未制发")
    now = timezone.now()
    today = timezone.localdate(now)
    rectify_by = add_working_days(today, RECTIFICATION_WORKING_DAYS)
    if warning is None:
        issue_due = today  # a direct letter is issued the day the bureau decides it: no deadline to miss
    else:
        issue_due = warning.recommendation_due or add_working_days(
            warning.outcome_on, RECOMMENDATION_WORKING_DAYS
        )
    rec = Recommendation(
        finding=finding,
        warning=warning,
        direct=warning is None,
        direct_reason=reason,
        body=finding.body,
        number=_next_number(finding.body, DocumentNumberCounter.Kind.RECOMMENDATION, today.year),
        facts=facts,
        legal_basis=legal_basis,
        demanded=demanded,
        issue_due=issue_due,
        issued_on=today,
        issued_at=now,
        issued_by=actor,
        received_on=today,
        rectify_by=rectify_by,
        review_due=add_working_days(rectify_by, REVIEW_WORKING_DAYS),
    )
    pdf = documents.recommendation_pdf(recommendation_document_context(rec, warning))
    rec.document.save(f"{rec.number}.pdf", ContentFile(pdf), save=False)
    files.track(rec.document)
    rec.save()
    if warning is not None and today > rec.issue_due and warning.recommendation_missed_at is None:
        warning.recommendation_missed_at = now
        warning.save(update_fields=["recommendation_missed_at"])
    audit.record(
        actor=actor,
        action="supervision.recommendation_issued",
        obj=rec,
        after={**audit.snapshot(rec, RECOMMENDATION_FIELDS), "issued_late": today > rec.issue_due},
    )
    _set_finding_status(actor, finding, FS.RECOMMENDED, allowed_from={FS.OPEN, FS.WARNED})
    events.emit(
        "recommendation.issued",
        body_id=rec.body_id,
        subject={"type": "recommendation", "number": rec.number},
        data={
            "finding": {"id": finding.pk, "title": finding.title},
            "issued_on": rec.issued_on.isoformat(),
            "rectify_by": rec.rectify_by.isoformat(),
            "direct": rec.direct,
        },
    )
    _notify_all(
        body_admins(rec.body),
        event="supervision.recommendation",
        subject=f"行政执法监督建议书 {rec.number}",
        body=f"{bureau_name(rec.body)}向你单位制发了行政执法监督建议书（{rec.number}），请签收，并于"
        f"{chinese_date(rec.rectify_by)}前（{RECTIFICATION_WORKING_DAYS}个工作日内）完成整改、报送整改报告。",
        related=rec,
    )
    return rec


def recommendation_counts(user) -> dict[str, int]:
    """The statistics of the letters in `user`'s scope: all, and those issued directly (without a warning)."""
    from django.db.models import Count, Q

    return Recommendation.objects.visible_to(user).aggregate(
        total=Count("pk"), direct=Count("pk", filter=Q(direct=True))
    )


def _locked_rec(rec: Recommendation) -> Recommendation:
    return Recommendation.objects.select_for_update().select_related("body__region", "finding").get(pk=rec.pk)


def _rec_transition(rec: Recommendation, to: str) -> None:
    if to not in RECOMMENDATION_TRANSITIONS[rec.status]:
        raise InvalidTransition(
            f"监督建议书{rec.number}当前状态为「{rec.get_status_display()}」，不能变为「{RS(to).label}」"
        )
    rec.status = to


@transaction.atomic
def acknowledge_recommendation(actor, *, recommendation: Recommendation) -> Recommendation:
    """The body's administrator signs for the recommendation. The deadline runs from its delivery in the
    system (the issue date, printed on the document), so signing later does not move it."""
    rec = _locked_rec(recommendation)
    _require_body_admin(actor, rec.body, f"签收监督建议书{rec.number}")
    if rec.acknowledged_at is not None:
        raise InvalidTransition(
            f"监督建议书{rec.number}已于{timezone.localtime(rec.acknowledged_at):%Y-%m-%d %H:%M}签收"
        )
    before = audit.snapshot(rec, RECOMMENDATION_FIELDS)
    rec.acknowledged_at, rec.acknowledged_by = timezone.now(), actor
    rec.save(update_fields=["acknowledged_at", "acknowledged_by"])
    audit.record(
        actor=actor,
        action="supervision.recommendation_acknowledged",
        obj=rec,
        before=before,
        after=audit.snapshot(rec, RECOMMENDATION_FIELDS),
    )
    return rec


def _report_file_problems(upload: UploadedFile | None) -> list[str]:
    if upload is None:
        return []
    name = upload.name or ""
    extension = os.path.splitext(name)[1].lower()
    magic = REPORT_TYPES.get(extension)
    if magic is None:
        return [f"文件「{name}」类型不支持，请上传 PDF、JPG、PNG 或 DOCX 文件"]
    if upload.size > REPORT_MAX_BYTES:
        return [f"文件「{name}」超过{REPORT_MAX_BYTES // (1024 * 1024)}MB"]
    head = upload.read(16)
    upload.seek(0)
    if not any(head.startswith(m) for m in magic):
        return [f"文件「{name}」的内容与扩展名不符，可能已损坏或不是所示类型"]
    return []


@files.removed_unless_committed
def submit_rectification_report(
    actor, *, recommendation: Recommendation, text: str, file: UploadedFile | None = None
) -> Recommendation:
    """The body's administrator reports its rectification (text and an optional file). A report after the
    deadline is accepted and stays flagged late."""
    rec = _locked_rec(recommendation)
    _require_body_admin(actor, rec.body, f"报送监督建议书{rec.number}的整改报告")
    _rec_transition(rec, RS.REPORTED)
    text = _text(text)
    problems = [] if text else ["请填写整改报告（整改了什么、如何防止再发生）"]
    problems += _report_file_problems(file)
    raise_if(problems, "整改报告未报送")
    before = audit.snapshot(rec, RECOMMENDATION_FIELDS)
    now = timezone.now()
    rec.report_text, rec.reported_at, rec.reported_by = text, now, actor
    if file is not None:
        rec.report_file_name = os.path.basename(file.name)[:200]
        rec.report_file.save(rec.report_file_name, file, save=False)
        files.track(rec.report_file)
    if timezone.localdate(now) > rec.rectify_by and rec.rectify_missed_at is None:
        rec.rectify_missed_at = now
    if rec.acknowledged_at is None:  # reporting implies it was received
        rec.acknowledged_at, rec.acknowledged_by = now, actor
    rec.save()
    audit.record(
        actor=actor,
        action="supervision.rectification_reported",
        obj=rec,
        before=before,
        after=audit.snapshot(rec, RECOMMENDATION_FIELDS),
    )
    _notify_all(
        bureau_supervisors(rec.body),
        event="supervision.rectification_reported",
        subject=f"{rec.body.name}已报送整改报告（{rec.number}）",
        body=f"请在{chinese_date(rec.review_due)}前完成跟踪复查。",
        related=rec,
    )
    return rec


@transaction.atomic
def review_recommendation(
    actor, *, recommendation: Recommendation, rectified: bool, note: str
) -> Recommendation:
    """The bureau's re-check (跟踪复查): after the report, or once the rectification deadline has passed
    without one. Rectified closes the finding; not rectified lets the bureau ask for a decision."""
    rec = _locked_rec(recommendation)
    legal_acts.require(
        actor, LegalAct.REVIEW_RECTIFICATION, rec.body, f"复查监督建议书{rec.number}的整改情况"
    )
    now = timezone.now()
    today = timezone.localdate(now)
    to = RS.RECTIFIED if rectified else RS.NOT_RECTIFIED
    if rec.status == RS.ISSUED and today <= rec.rectify_by:
        raise InvalidTransition(
            f"监督建议书{rec.number}的整改期限（{chinese_date(rec.rectify_by)}）尚未届满，"
            "执法单位也未报送整改报告，暂不能复查"
        )
    _rec_transition(rec, to)
    note = _text(note)
    raise_if([] if note else ["请填写复查情况"], "复查结果未登记")
    before = audit.snapshot(rec, RECOMMENDATION_FIELDS)
    rec.review_note, rec.reviewed_at, rec.reviewed_by = note, now, actor
    if today > rec.review_due and rec.review_missed_at is None:
        rec.review_missed_at = now
    if rec.reported_at is None and rec.rectify_missed_at is None:
        rec.rectify_missed_at = now  # no report by the deadline
    rec.save()
    audit.record(
        actor=actor,
        action="supervision.recommendation_reviewed",
        obj=rec,
        before=before,
        after=audit.snapshot(rec, RECOMMENDATION_FIELDS),
    )
    finding = Finding.objects.select_for_update().get(pk=rec.finding_id)
    if rectified:
        _set_finding_status(
            actor, finding, FS.RECTIFIED, allowed_from={FS.RECOMMENDED}, note=f"经跟踪复查已整改：{note}"
        )
    _notify_all(
        body_admins(rec.body),
        event="supervision.recommendation_reviewed",
        subject=f"监督建议书{rec.number}复查结果：{RS(to).label}",
        body=note,
        related=rec,
    )
    return rec


@transaction.atomic
def request_decision(actor, *, recommendation: Recommendation, note: str) -> Recommendation:
    """The bureau asks the district government to issue a supervision decision (报请区政府制发)."""
    rec = _locked_rec(recommendation)
    legal_acts.require(actor, LegalAct.REQUEST_DECISION, rec.body)
    _rec_transition(rec, RS.ESCALATED)
    note = _text(note)
    raise_if([] if note else ["请填写报请说明（未整改的情况和建议的责任追究措施）"], "未报请")
    before = audit.snapshot(rec, RECOMMENDATION_FIELDS)
    rec.decision_requested_at, rec.decision_request_note = timezone.now(), note
    rec.save(update_fields=["status", "decision_requested_at", "decision_request_note"])
    audit.record(
        actor=actor,
        action="supervision.decision_requested",
        obj=rec,
        before=before,
        after={**audit.snapshot(rec, RECOMMENDATION_FIELDS), "requested_by": str(actor)},
    )
    # Who asked is the audit event's actor; the decision keeps it too.
    _notify_all(
        government_users(rec.body),
        event="supervision.decision_requested",
        subject=f"{bureau_name(rec.body)}报请制发行政执法监督决定书（{rec.body.name}）",
        body=f"{rec.body.name}未按监督建议书{rec.number}整改。{note}",
        related=rec,
    )
    return rec


# --- Step three: the decision and accountability ------------------------------------------------------


@dataclass
class MeasureInput:
    """One accountability measure to record: its kind, the inspectors it names (certificate measures) and a
    note (e.g. the scope of the notified criticism, who was interviewed)."""

    kind: str
    inspectors: Sequence[Inspector] = field(default_factory=list)
    note: str = ""


def _measure_problems(body: EnforcementBody, measure: MeasureInput) -> list[str]:
    problems = []
    if measure.kind not in AccountabilityMeasure.Kind.values:
        return [f"责任追究措施「{measure.kind}」无效"]
    label = AccountabilityMeasure.Kind(measure.kind).label
    if measure.kind in AccountabilityMeasure.CERTIFICATE_KINDS:
        if not measure.inspectors:
            problems.append(f"「{label}」须指明涉及的执法人员")
        outsiders = [i.name for i in measure.inspectors if i.body_id != body.pk]
        if outsiders:
            problems.append(f"执法人员{'、'.join(outsiders)}不属于{body.name}")
        wanted = _applicable_statuses(measure.kind)
        for inspector in measure.inspectors:
            if inspector.body_id == body.pk and not inspector.certificates.filter(status__in=wanted).exists():
                problems.append(f"执法人员{inspector.name}没有可{label[:4]}的执法证件")
    elif not _text(measure.note) and measure.kind != AccountabilityMeasure.Kind.NOTIFIED_CRITICISM:
        problems.append(f"请填写「{label}」的说明（对象、方式）")
    return problems


def _applicable_statuses(kind: str) -> list[str]:
    if kind == AccountabilityMeasure.Kind.SUSPEND_CERTIFICATE:
        return [Certificate.Status.VALID]
    return [Certificate.Status.VALID, Certificate.Status.SUSPENDED, Certificate.Status.EXPIRED]


def _apply_measure(actor, decision: Decision, measure: MeasureInput) -> AccountabilityMeasure:
    from jianchama.registry.services import set_certificate_status

    record = AccountabilityMeasure.objects.create(
        decision=decision, kind=measure.kind, note=_text(measure.note), applied_by=actor
    )
    if measure.kind in AccountabilityMeasure.CERTIFICATE_KINDS:
        record.inspectors.set(measure.inspectors)
        status = (
            Certificate.Status.SUSPENDED
            if measure.kind == AccountabilityMeasure.Kind.SUSPEND_CERTIFICATE
            else Certificate.Status.REVOKED
        )
        changed = []
        for inspector in measure.inspectors:
            certificates = Certificate.objects.filter(
                inspector=inspector, status__in=_applicable_statuses(measure.kind)
            ).order_by("pk")
            for certificate in certificates:
                set_certificate_status(
                    actor,
                    certificate=certificate,
                    status=status,
                    reason=f"依据{decision.number}行政执法监督决定书",
                    by_decision=decision,
                )
                changed.append(certificate)
        record.certificates.set(changed)
    audit.record(
        actor=actor,
        action="supervision.measure_applied",
        obj=record,
        after={
            "decision": decision.number,
            "kind": record.kind,
            "inspectors": sorted(i.pk for i in measure.inspectors),
            "certificates": sorted(c.pk for c in record.certificates.all()),
            "note": record.note,
        },
    )
    return record


def measure_text(measure: AccountabilityMeasure) -> str:
    """A measure as the decision states it: 「暂停使用执法证件：张三（证号…）」."""
    text = measure.get_kind_display()
    if measure.kind in AccountabilityMeasure.CERTIFICATE_KINDS:
        names = "、".join(
            f"{c.inspector.name}（证号{c.number}）" for c in measure.certificates.select_related("inspector")
        )
        text += f"：{names}" if names else ""
    if measure.note:
        text += f"。{measure.note}"
    return text


def decision_document_context(decision: Decision, rec: Recommendation, measures) -> dict[str, Any]:
    return {
        "title": "行政执法监督决定书",
        "number": decision.number,
        "body_name": decision.body.name,
        "issuer": government_name(decision.body),
        "bureau": bureau_name(decision.body),
        "recommendation_number": rec.number,
        "recommendation_issued_on": chinese_date(rec.issued_on),
        "recommendation_rectify_by": chinese_date(rec.rectify_by),
        "facts_lines": _lines(decision.facts),
        "legal_basis_lines": _lines(decision.legal_basis),
        "demanded_lines": _lines(decision.demanded),
        "deadline_days": decision.deadline_working_days,
        "deadline": chinese_date(decision.deadline),
        "measures": [measure_text(m) for m in measures],
        "issued_on": chinese_date(decision.issued_on),
    }


@files.removed_unless_committed
def issue_decision(
    actor,
    *,
    recommendation: Recommendation,
    facts: str,
    legal_basis: str,
    demanded: str,
    deadline_working_days: int = DECISION_DEFAULT_WORKING_DAYS,
    measures: Sequence[MeasureInput] = (),
) -> Decision:
    """The district government issues the supervision decision the bureau asked for, with its measures; a
    certificate measure suspends or revokes the named inspectors' certificates at once."""
    rec = _locked_rec(recommendation)
    legal_acts.require(actor, LegalAct.DECIDE, rec.body)
    if rec.status != RS.ESCALATED:
        raise InvalidTransition(
            f"监督建议书{rec.number}当前状态为「{rec.get_status_display()}」，区司法局报请后才能制发监督决定书"
        )
    facts, legal_basis, demanded = _text(facts), _text(legal_basis), _text(demanded)
    problems = []
    if not facts:
        problems.append("请填写问题事实")
    if not legal_basis:
        problems.append("请填写依据")
    if not demanded:
        problems.append("请填写整改要求")
    try:
        deadline_working_days = int(deadline_working_days)
    except (TypeError, ValueError):
        deadline_working_days = 0
    if not 1 <= deadline_working_days <= 60:
        problems.append("整改期限须为1至60个工作日")
    for measure in measures:
        problems += _measure_problems(rec.body, measure)
    raise_if(problems, "监督决定书未制发")
    requester = _requester(rec)
    now = timezone.now()
    today = timezone.localdate(now)
    decision = Decision(
        recommendation=rec,
        body=rec.body,
        number=_next_number(rec.body, DocumentNumberCounter.Kind.DECISION, today.year),
        facts=facts,
        legal_basis=legal_basis,
        demanded=demanded,
        deadline_working_days=deadline_working_days,
        deadline=add_working_days(today, deadline_working_days),
        requested_by=requester or actor,
        issued_by=actor,
        issued_on=today,
        issued_at=now,
    )
    decision.save()  # the measures need its key; the document is added below, in the same transaction
    applied = [_apply_measure(actor, decision, measure) for measure in measures]
    pdf = documents.decision_pdf(decision_document_context(decision, rec, applied))
    decision.document.save(f"{decision.number}.pdf", ContentFile(pdf), save=False)
    files.track(decision.document)
    decision.save(update_fields=["document"])
    audit.record(
        actor=actor,
        action="supervision.decision_issued",
        obj=decision,
        after={
            **audit.snapshot(decision, DECISION_FIELDS),
            "measures": [str(m.get_kind_display()) for m in applied],
        },
    )
    before = audit.snapshot(rec, RECOMMENDATION_FIELDS)
    _rec_transition(rec, RS.DECIDED)
    rec.save(update_fields=["status"])
    audit.record(
        actor=actor,
        action="supervision.recommendation_decided",
        obj=rec,
        before=before,
        after=audit.snapshot(rec, RECOMMENDATION_FIELDS),
    )
    finding = Finding.objects.select_for_update().get(pk=rec.finding_id)
    _set_finding_status(actor, finding, FS.DECIDED, allowed_from={FS.RECOMMENDED})
    _notify_all(
        body_admins(rec.body) + bureau_supervisors(rec.body),
        event="supervision.decision",
        subject=f"行政执法监督决定书 {decision.number}",
        body=f"{government_name(rec.body)}向{rec.body.name}制发了行政执法监督决定书（{decision.number}），"
        f"整改期限{chinese_date(decision.deadline)}（{deadline_working_days}个工作日）。",
        related=decision,
    )
    return decision


def _requester(rec: Recommendation):
    """The supervisor who asked for the decision (the audit event of the request)."""
    from jianchama.core.models import AuditEvent

    event = (
        AuditEvent.objects.filter(
            action="supervision.decision_requested", object_type=rec._meta.label, object_id=str(rec.pk)
        )
        .select_related("actor")
        .order_by("-sequence")
        .first()
    )
    return event.actor if event else None


@transaction.atomic
def apply_measure(
    actor, *, decision: Decision, kind: str, inspectors: Sequence[Inspector] = (), note: str = ""
) -> AccountabilityMeasure:
    """Record one more accountability measure on an issued decision (the decision's document is not
    changed: it is the official text as issued)."""
    decision = Decision.objects.select_for_update().select_related("body__region").get(pk=decision.pk)
    legal_acts.require(actor, LegalAct.ACCOUNTABILITY, decision.body)
    measure = MeasureInput(kind=kind, inspectors=list(inspectors), note=note)
    raise_if(_measure_problems(decision.body, measure), "责任追究措施未登记")
    # A certificate measure may follow for more inspectors; the others are recorded once per decision.
    if kind not in AccountabilityMeasure.CERTIFICATE_KINDS and decision.measures.filter(kind=kind).exists():
        raise DomainError(f"该决定书已登记「{AccountabilityMeasure.Kind(kind).label}」")
    return _apply_measure(actor, decision, measure)


@transaction.atomic
def confirm_decision_rectified(actor, *, decision: Decision, note: str) -> Decision:
    """The bureau confirms the body rectified after the decision; the finding is closed."""
    decision = Decision.objects.select_for_update().select_related("body__region").get(pk=decision.pk)
    legal_acts.require(actor, LegalAct.CONFIRM_DECISION, decision.body)
    if Decision.Status.RECTIFIED not in DECISION_TRANSITIONS[decision.status]:
        raise InvalidTransition(
            f"监督决定书{decision.number}当前状态为「{decision.get_status_display()}」，不能再确认整改"
        )
    note = _text(note)
    raise_if([] if note else ["请填写整改确认情况"], "整改情况未确认")
    before = audit.snapshot(decision, DECISION_FIELDS)
    now = timezone.now()
    decision.status, decision.closed_at, decision.close_note = Decision.Status.RECTIFIED, now, note
    if timezone.localdate(now) > decision.deadline and decision.deadline_missed_at is None:
        decision.deadline_missed_at = now
    decision.save(update_fields=["status", "closed_at", "close_note", "deadline_missed_at"])
    audit.record(
        actor=actor,
        action="supervision.decision_rectified",
        obj=decision,
        before=before,
        after=audit.snapshot(decision, DECISION_FIELDS),
    )
    finding = Finding.objects.select_for_update().get(pk=decision.recommendation.finding_id)
    _set_finding_status(
        actor, finding, FS.RECTIFIED, allowed_from={FS.DECIDED}, note=f"监督决定书整改完成：{note}"
    )
    return decision


# --- Deadlines as the pages show them -----------------------------------------------------------------


@dataclass(frozen=True)
class DeadlineView:
    """One deadline seen from `today`: working days left while pending (negative when overdue), whether
    it was missed (kept after the late action), and who answers for it."""

    key: str
    label: str
    due: datetime.date
    responsible: str  # "bureau", "body" or "government"
    responsible_name: str
    done_at: datetime.datetime | None
    missed_at: datetime.datetime | None
    days_left: int | None
    today: datetime.date

    @property
    def pending(self) -> bool:
        return self.done_at is None

    @property
    def missed(self) -> bool:
        if self.missed_at is not None:
            return True
        if self.pending:
            return self.today > self.due
        return timezone.localdate(self.done_at) > self.due

    @property
    def text(self) -> str:
        if not self.pending:
            return "逾期办理" if self.missed else "按期办理"
        if self.today > self.due:
            return f"已逾期{-self.days_left}个工作日" if self.days_left else "已逾期"
        if self.days_left == 0:
            return "今日到期"
        return f"剩余{self.days_left}个工作日"

    @property
    def due_text(self) -> str:
        return chinese_date(self.due)

    @property
    def calendar_warning(self) -> str:
        """Said beside a deadline that runs into a year whose holiday schedule is not loaded yet."""
        years = unknown_years(sorted({self.today.year, self.due.year}))
        if not years:
            return ""
        return f"{'、'.join(f'{y}年' for y in years)}的法定节假日安排尚未载入，此期限仅按周末推算，请在安排公布后核对"


def _view(key, label, due, responsible, name, done_at, missed_at, today, calendar) -> DeadlineView:
    days_left = calendar.between(today, due) if done_at is None else None
    return DeadlineView(key, label, due, responsible, name, done_at, missed_at, days_left, today)


def _on(day: datetime.date | None) -> datetime.datetime | None:
    """A date as an aware datetime at noon, for deadlines whose completion is a date."""
    if day is None:
        return None
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))


# `warning_deadlines(..., recommendation=...)` not given: the recommendation is looked up.
LOOK_UP = object()


def warning_deadlines(
    warning: SupervisionWarning,
    today: datetime.date | None = None,
    calendar: WorkingCalendar | None = None,
    recommendation: Recommendation | object | None = LOOK_UP,
) -> list[DeadlineView]:
    """The bureau's deadline to issue its recommendation. A list of many warnings passes each one's
    `recommendation` (None when there is none yet), read with the list, rather than a query per warning."""
    today = today or timezone.localdate()
    calendar = calendar or WorkingCalendar()
    if warning.outcome != WO.NOT_RECTIFIED or warning.recommendation_due is None:
        return []
    rec = (
        Recommendation.objects.filter(warning=warning).first()
        if recommendation is LOOK_UP
        else recommendation
    )
    return [
        _view(
            "issue",
            "制发监督建议书",
            warning.recommendation_due,
            "bureau",
            bureau_name(warning.body),
            _on(rec.issued_on) if rec else None,
            warning.recommendation_missed_at,
            today,
            calendar,
        )
    ]


def recommendation_deadlines(
    rec: Recommendation, today: datetime.date | None = None, calendar: WorkingCalendar | None = None
) -> list[DeadlineView]:
    """Issue (bureau), rectify and report (body), re-check (bureau)."""
    today = today or timezone.localdate()
    calendar = calendar or WorkingCalendar()
    bureau, body = bureau_name(rec.body), rec.body.name
    review_done = rec.reviewed_at
    # Reviewing without a report ends the body's deadline too (missed, recorded by the review).
    rectify_done = rec.reported_at or rec.reviewed_at
    return [
        _view(
            "issue",
            "制发监督建议书",
            rec.issue_due,
            "bureau",
            bureau,
            _on(rec.issued_on),
            rec.warning.recommendation_missed_at if rec.warning else None,
            today,
            calendar,
        ),
        _view(
            "rectify",
            "整改并报送整改报告",
            rec.rectify_by,
            "body",
            body,
            rectify_done,
            rec.rectify_missed_at,
            today,
            calendar,
        ),
        _view(
            "review",
            "跟踪复查",
            rec.review_due,
            "bureau",
            bureau,
            review_done,
            rec.review_missed_at,
            today,
            calendar,
        ),
    ]


def decision_deadlines(
    decision: Decision, today: datetime.date | None = None, calendar: WorkingCalendar | None = None
) -> list[DeadlineView]:
    today = today or timezone.localdate()
    calendar = calendar or WorkingCalendar()
    return [
        _view(
            "decision",
            "按监督决定书整改",
            decision.deadline,
            "body",
            decision.body.name,
            decision.closed_at,
            decision.deadline_missed_at,
            today,
            calendar,
        )
    ]


# --- The finding page's panel --------------------------------------------------------------------------


def _body_text(finding: Finding) -> str:
    return finding.body_description if finding.confidential else finding.description


def finding_panel(user, finding: Finding) -> dict[str, Any]:
    """Context for the finding page's three-step panel (`supervision/_steps_panel.html`): one key,
    `steps`, holding the warnings, the recommendation and decision with their deadlines, and what this
    user may do now."""
    body = finding.body
    supervisor = is_supervisor_of(user, body)
    admin = is_body_admin_of(user, body)
    warnings = list(finding.warnings.select_related("created_by").order_by("warned_on", "pk"))
    calendar = WorkingCalendar()  # one calendar for every deadline on the page
    for warning in warnings:
        warning.deadlines = warning_deadlines(warning, calendar=calendar)
        warning.may_respond = warning.outcome == WO.PENDING and (supervisor or admin)
        warning.may_outcome = warning.outcome == WO.PENDING and legal_acts.may_perform(
            user, LegalAct.VERIFY_WARNING, body
        )
    rec = Recommendation.objects.filter(finding=finding).select_related("body", "warning").first()
    decision = Decision.objects.filter(recommendation=rec).first() if rec else None
    not_rectified = next((w for w in reversed(warnings) if w.outcome == WO.NOT_RECTIFIED), None)
    return {
        "steps": {
            "finding": finding,
            "warnings": warnings,
            "recommendation": rec,
            "recommendation_deadlines": recommendation_deadlines(rec, calendar=calendar) if rec else [],
            "decision": decision,
            "decision_deadlines": decision_deadlines(decision, calendar=calendar) if decision else [],
            "measures": list(decision.measures.all()) if decision else [],
            "channels": SupervisionWarning.Channel.choices,
            "pending_issue": not_rectified.deadlines[0]
            if (not_rectified and not rec and not_rectified.deadlines)
            else None,
            "may": {
                "warn": legal_acts.may_perform(user, LegalAct.WARN, body) and finding.status == FS.OPEN,
                "recommend": legal_acts.may_perform(user, LegalAct.RECOMMEND, body)
                and finding.status == FS.WARNED
                and not_rectified is not None
                and rec is None,
                "recommend_direct": legal_acts.may_perform(user, LegalAct.RECOMMEND, body)
                and finding.status in (FS.OPEN, FS.WARNED)
                and not_rectified is None
                and rec is None,
                "see_documents": supervisor or admin or is_government_of(user, body),
            },
            # The recommendation goes to the body: a confidential finding's facts are what the body may read.
            "default_facts": f"{finding.title}。{_body_text(finding)}".strip("。") + "。"
            if finding.title
            else "",
        }
    }


# --- The daily reminders ------------------------------------------------------------------------------


@dataclass
class _Due:
    key: str
    deadline: DeadlineView
    obj: Any
    what: str  # e.g. "监督建议书金司监建〔2026〕1号"
    url_name: str


def _open_deadlines(today: datetime.date) -> list[_Due]:
    """Every pending deadline of the three steps."""
    dues: list[_Due] = []
    calendar = WorkingCalendar()
    warnings = SupervisionWarning.objects.filter(
        outcome=WO.NOT_RECTIFIED, recommendation_due__isnull=False, finding__recommendation__isnull=True
    ).select_related("body__region", "finding")
    for warning in warnings:
        for view in warning_deadlines(warning, today, calendar):
            dues.append(
                _Due(
                    f"warning:{warning.pk}:{view.key}:{view.due}",
                    view,
                    warning,
                    f"「{warning.finding.title}」的监督建议书",
                    "supervision:steps",
                )
            )
    recs = Recommendation.objects.filter(status__in=[RS.ISSUED, RS.REPORTED]).select_related(
        "body__region", "warning"
    )
    for rec in recs:
        for view in recommendation_deadlines(rec, today, calendar):
            if view.pending:
                dues.append(
                    _Due(
                        f"recommendation:{rec.pk}:{view.key}:{view.due}",
                        view,
                        rec,
                        f"监督建议书{rec.number}",
                        "supervision:recommendation_detail",
                    )
                )
    for decision in Decision.objects.filter(status=Decision.Status.ISSUED).select_related("body__region"):
        for view in decision_deadlines(decision, today, calendar):
            dues.append(
                _Due(
                    f"decision:{decision.pk}:{view.key}:{view.due}",
                    view,
                    decision,
                    f"监督决定书{decision.number}",
                    "supervision:decision_detail",
                )
            )
    return dues


def _mark_missed(due: _Due, now: datetime.datetime) -> None:
    """Keep the moment a deadline was first seen missed, so the flag survives the late action."""
    obj, key = due.obj, due.deadline.key
    attr = {
        "issue": "recommendation_missed_at",
        "rectify": "rectify_missed_at",
        "review": "review_missed_at",
        "decision": "deadline_missed_at",
    }[key]
    target = obj.warning if isinstance(obj, Recommendation) and key == "issue" and obj.warning else obj
    if getattr(target, attr) is None:
        type(target).objects.filter(pk=target.pk, **{f"{attr}__isnull": True}).update(**{attr: now})
        setattr(target, attr, now)
        audit.record(
            actor="系统",
            action="supervision.deadline_missed",
            obj=target,
            after={
                "deadline": due.deadline.label,
                "due": due.deadline.due.isoformat(),
                "responsible": due.deadline.responsible_name,
            },
        )


def _recipients(due: _Due) -> list[User]:
    body = due.obj.body
    if due.deadline.responsible == "body":
        return body_admins(body)
    return bureau_supervisors(body)


def _send_once(key: str, recipients: list[User], *, subject: str, body: str, related) -> bool:
    """Send one reminder unless its key was logged before; the log row and the notifications commit
    together, so a crash sends it again the next day rather than never."""
    try:
        with transaction.atomic():
            ReminderLog.objects.create(key=key[:120], recipients=len(recipients))
            _notify_all(
                recipients,
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
    """The daily job: for every pending deadline of the three steps, remind the responsible people (the
    bureau's supervisors of the body's district, or the body's administrators) once when it is within
    SUPERVISION_REMINDER_WORKING_DAYS working days (default 2), and once when it is missed; a missed
    deadline is also marked on its record (kept after the late action). Reminders go to the inbox and, to
    whoever has a phone on record, by text message. Idempotent: each reminder has a unique key in
    `ReminderLog`. Returns how many reminders were sent."""
    today = today or timezone.localdate()
    now = timezone.now()
    ahead = reminder_working_days()
    sent = 0
    for due in _open_deadlines(today):
        view = due.deadline
        recipients = _recipients(due)
        if today > view.due:
            with transaction.atomic():
                _mark_missed(due, now)
            subject = f"已逾期：{due.what}「{view.label}」"
            text = (
                f"{due.what}的「{view.label}」期限为{view.due_text}，已逾期{-view.days_left}个工作日"
                f"（责任方：{view.responsible_name}），请尽快办理。"
            )
            sent += _send_once(f"{due.key}:missed", recipients, subject=subject, body=text, related=due.obj)
        elif view.days_left is not None and view.days_left <= ahead:
            left = "今日到期" if view.days_left == 0 else f"还剩{view.days_left}个工作日"
            subject = f"期限提醒：{due.what}「{view.label}」{left}"
            text = f"{due.what}的「{view.label}」期限为{view.due_text}，{left}（责任方：{view.responsible_name}）。"
            sent += _send_once(f"{due.key}:before", recipients, subject=subject, body=text, related=due.obj)
    return sent


# --- Lists --------------------------------------------------------------------------------------------


def flagged(deadlines: Iterable[DeadlineView]) -> bool:
    return any(d.missed for d in deadlines)


# --- The same flags as a query (the list's "只看逾期" filters in the database, not a page in memory) ---------


def _missed_q(due: str, missed_at: str, done_day: str | None, today: datetime.date) -> Q:
    """DeadlineView.missed in SQL: recorded as missed, or pending past its due day, or done after it.
    `done_day` names the completion's local day (a date field or an alias), None when never done here."""
    q = Q(**{f"{missed_at}__isnull": False})
    if done_day is None:
        return q | Q(**{f"{due}__lt": today})
    return (
        q
        | Q(**{f"{done_day}__isnull": True, f"{due}__lt": today})
        | Q(**{f"{done_day}__isnull": False, f"{done_day}__gt": F(due)})
    )


def flagged_recommendations(recs, today: datetime.date | None = None):
    """The recommendations of `recs` that flagged(recommendation_deadlines(rec)) would mark."""
    today = today or timezone.localdate()
    recs = recs.alias(
        _rectify_day=TruncDate(Coalesce("reported_at", "reviewed_at")), _review_day=TruncDate("reviewed_at")
    )
    return recs.filter(
        _missed_q("issue_due", "warning__recommendation_missed_at", "issued_on", today)
        | _missed_q("rectify_by", "rectify_missed_at", "_rectify_day", today)
        | _missed_q("review_due", "review_missed_at", "_review_day", today)
    )


def flagged_decisions(decisions, today: datetime.date | None = None):
    """The decisions that flagged(decision_deadlines(decision)) would mark."""
    today = today or timezone.localdate()
    decisions = decisions.alias(_closed_day=TruncDate("closed_at"))
    return decisions.filter(_missed_q("deadline", "deadline_missed_at", "_closed_day", today))


def flagged_pending_warnings(warnings, today: datetime.date | None = None):
    """Of warnings found not rectified and without a recommendation yet: those whose issue deadline is
    missed (flagged(warning_deadlines(warning, recommendation=None)))."""
    today = today or timezone.localdate()
    return warnings.filter(recommendation_due__isnull=False).filter(
        _missed_q("recommendation_due", "recommendation_missed_at", None, today)
    )


__all__ = [
    "MeasureInput",
    "acknowledge_recommendation",
    "apply_measure",
    "confirm_decision_rectified",
    "decision_deadlines",
    "finding_panel",
    "flagged_decisions",
    "flagged_pending_warnings",
    "flagged_recommendations",
    "issue_decision",
    "issue_recommendation",
    "recommendation_deadlines",
    "record_warning_outcome",
    "record_warning_response",
    "request_decision",
    "review_recommendation",
    "send_reminders",
    "submit_rectification_report",
    "warn_body",
    "warning_deadlines",
]
