"""Every change to the complaint ledger (F-34) and to reconsideration leads (F-35).

Each function takes the acting user first, checks permission and state (one transitions table per model, in
models.py), changes the data in one transaction and appends to the audit log; notifications are created in
the same transaction and sent when it commits.

Deadlines are counted in working days on the official calendar. The documents give no figure for handling a
complaint (seed 003 only asks that the ledger follow each complaint to a timely result), so the settings
decide: COMPLAINT_HANDLE_WORKING_DAYS (15) from the day the body receives the complaint (its assignment, or
the day its own platform received it) to the body's handling result (`handle_by`);
COMPLAINT_FEEDBACK_WORKING_DAYS (5) from the result to the feedback to the complainant (`feedback_by`);
COMPLAINT_REMINDER_WORKING_DAYS (2) before a deadline the daily job reminds.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from jianchama.core import audit
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied, raise_if
from jianchama.core.formats import chinese_date
from jianchama.core.models import User
from jianchama.core.numbering import take_number
from jianchama.core.roles import Role
from jianchama.core.workdays import add_working_days, working_days_between
from jianchama.inspections.models import Task
from jianchama.notifications.services import notify_enterprise, notify_user
from jianchama.registry.models import EnforcementBody, Enterprise
from jianchama.supervision.models import Finding, Severity
from jianchama.supervision.services import create_finding, evidence_entry, is_supervisor_of

from .models import (
    LEAD_TRANSITIONS,
    TRANSITIONS,
    Complaint,
    ComplaintNumberCounter,
    ComplaintReminder,
    ObserverActivity,
    ReconsiderationLead,
)

DEFAULT_HANDLE_WORKING_DAYS = 15
DEFAULT_FEEDBACK_WORKING_DAYS = 5
DEFAULT_REMINDER_WORKING_DAYS = 2

S = Complaint.Status
Source = Complaint.Source
L = ReconsiderationLead.Status

# What each kind of user may register, and from which channel.
BUREAU_SOURCES = (Source.HOTLINE_12345, Source.BODY_PLATFORM, Source.PHONE, Source.LETTER, Source.OTHER)
BUREAU_ROLES = (Role.COMPLAINT_INTAKE, Role.SUPERVISOR)
SYSTEM = "系统"

COMPLAINT_FIELDS = [
    "number",
    "source",
    "category",
    "title",
    "content",
    "complainant_name",
    "complainant_phone",
    "complainant_enterprise",
    "enterprise",
    "body",
    "task",
    "code_report",
    "status",
    "received_on",
    "handle_by",
    "feedback_by",
    "result",
    "feedback",
    "rejection_reason",
    "finding",
]
LEAD_FIELDS = [
    "case_number",
    "body",
    "task",
    "description",
    "received_on",
    "status",
    "finding",
    "returned_note",
]

PHONE = re.compile(r"^[0-9][0-9-]{6,19}$")


def handle_working_days() -> int:
    return int(getattr(settings, "COMPLAINT_HANDLE_WORKING_DAYS", DEFAULT_HANDLE_WORKING_DAYS))


def feedback_working_days() -> int:
    return int(getattr(settings, "COMPLAINT_FEEDBACK_WORKING_DAYS", DEFAULT_FEEDBACK_WORKING_DAYS))


def reminder_working_days() -> int:
    return int(getattr(settings, "COMPLAINT_REMINDER_WORKING_DAYS", DEFAULT_REMINDER_WORKING_DAYS))


# --- Who may do what (views use these to show or hide buttons) -----------------------------------------


def _is_staff_user(user) -> bool:
    return not isinstance(user, str) and user.is_authenticated


def is_bureau_staff(user) -> bool:
    """Complaint intake staff or a supervisor of a region (or a platform administrator): the bureau's side of
    the ledger, which registers, assigns, rejects and gives feedback."""
    return _is_staff_user(user) and (
        user.is_platform_admin or (user.role in BUREAU_ROLES and user.region_id is not None)
    )


def _bureau_of_body(user, body: EnforcementBody) -> bool:
    if not is_bureau_staff(user):
        return False
    return user.is_platform_admin or body.region.path.startswith(user.region.path)


def _sees(user, complaint: Complaint) -> bool:
    return Complaint.objects.visible_to(user).filter(pk=complaint.pk).exists()


def _bureau_of(user, complaint: Complaint) -> bool:
    return is_bureau_staff(user) and _sees(user, complaint)


def _admin_of_body(user, body_id: int | None) -> bool:
    return (
        _is_staff_user(user)
        and user.role == Role.BODY_ADMIN
        and body_id is not None
        and user.body_id == body_id
    )


def registration_sources(user) -> list[str]:
    """The channels `user` may register complaints from (empty: may not register)."""
    if not _is_staff_user(user):
        return []
    if is_bureau_staff(user):
        return list(BUREAU_SOURCES)
    if user.role == Role.BODY_ADMIN and user.body_id:
        return [Source.BODY_PLATFORM]
    if user.role == Role.OBSERVER and user.region_id:
        return [Source.OBSERVER]
    if user.role == Role.ENTERPRISE_CONTACT and user.enterprise_id:
        return [Source.PORTAL]
    return []


def can_assign(user, complaint: Complaint) -> bool:
    return complaint.status in (S.REGISTERED, S.ASSIGNED) and _bureau_of(user, complaint)


def can_handle(user, complaint: Complaint) -> bool:
    return complaint.status == S.ASSIGNED and _admin_of_body(user, complaint.body_id)


def can_feedback(user, complaint: Complaint) -> bool:
    return complaint.status == S.HANDLED and (
        _bureau_of(user, complaint) or _admin_of_body(user, complaint.body_id)
    )


def _may_reject(user, complaint: Complaint) -> bool:
    if _bureau_of(user, complaint):
        return True
    # A body decides on what reached it through its own platform; what the bureau assigned, the bureau does.
    return (
        complaint.source == Source.BODY_PLATFORM
        and complaint.assigned_by_id is None
        and _admin_of_body(user, complaint.body_id)
    )


def can_reject(user, complaint: Complaint) -> bool:
    return complaint.status in (S.REGISTERED, S.ASSIGNED) and _may_reject(user, complaint)


def can_make_finding(user, complaint: Complaint) -> bool:
    return (
        complaint.finding_id is None
        and complaint.status != S.REJECTED
        and complaint.body_id is not None
        and _is_staff_user(user)
        and (user.is_platform_admin or user.role == Role.SUPERVISOR)
        and is_supervisor_of(user, complaint.body)
    )


# Who may see who complained (name, phone, complaining enterprise): the intake desk and supervisors, who
# take complaints and follow them up. The body complained about, and the district government, see the
# complaint without its complainant, so that nobody is pressed for having complained.
COMPLAINANT_ROLES = (Role.COMPLAINT_INTAKE, Role.SUPERVISOR)


def sees_complainant(user, complaint: Complaint | None = None) -> bool:
    """Whether `user` may see the complainant (of `complaint`, or of every complaint it may see): the intake
    desk, supervisors and the platform administrator; and whoever registered the complaint, who typed the
    name in (an observer, a body that received it on its own platform)."""
    if user.is_platform_admin or user.role in COMPLAINANT_ROLES:
        return True
    return complaint is not None and complaint.registered_by_id == user.pk


def actions_for(user, complaint: Complaint) -> dict[str, bool]:
    return {
        "assign": can_assign(user, complaint),
        "handle": can_handle(user, complaint),
        "feedback": can_feedback(user, complaint),
        "reject": can_reject(user, complaint),
        "finding": can_make_finding(user, complaint),
    }


def assignable_bodies(user) -> QuerySet[EnforcementBody]:
    """The bodies `user` may assign complaints to: the active bodies of its region."""
    if not is_bureau_staff(user):
        return EnforcementBody.objects.none()
    bodies = EnforcementBody.objects.filter(is_active=True).select_related("region")
    if user.is_platform_admin:
        return bodies
    return bodies.filter(region__path__startswith=user.region.path)


# --- Timing --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Where a complaint stands against its deadlines, seen from a day."""

    stage: str  # "assign", "handle", "feedback" while something is pending; "" when done
    due: datetime.date | None
    days_left: int | None  # working days, negative when overdue
    overdue: bool  # the pending deadline has passed
    late: bool  # a deadline was missed (now or earlier)
    text: str


def _left_text(what: str, due: datetime.date, days_left: int, today: datetime.date) -> str:
    if today > due:
        return f"{what}已逾期{-days_left}个工作日"
    if days_left == 0:
        return f"{what}今日到期"
    return f"{what}剩余{days_left}个工作日"


def timing(complaint: Complaint, today: datetime.date | None = None, *, between=None) -> Timing:
    """`between` counts working days (default `working_days_between`); a long list passes one calendar's
    `WorkingCalendar().between`, since each new count reads the calendar."""
    today = today or timezone.localdate()
    count = between or working_days_between
    handled_on = timezone.localdate(complaint.handled_at) if complaint.handled_at else None
    fed_back_on = timezone.localdate(complaint.feedback_at) if complaint.feedback_at else None
    handled_late = bool(handled_on and complaint.handle_by and handled_on > complaint.handle_by)
    feedback_late = bool(fed_back_on and complaint.feedback_by and fed_back_on > complaint.feedback_by)
    if complaint.status == S.REGISTERED:
        waited = count(complaint.received_on, today)
        return Timing("assign", None, None, False, False, f"待交办（已受理{max(waited, 0)}个工作日）")
    if complaint.status == S.ASSIGNED and complaint.handle_by:
        left = count(today, complaint.handle_by)
        overdue = today > complaint.handle_by
        return Timing(
            "handle",
            complaint.handle_by,
            left,
            overdue,
            overdue,
            _left_text("办理", complaint.handle_by, left, today),
        )
    if complaint.status == S.HANDLED and complaint.feedback_by:
        left = count(today, complaint.feedback_by)
        overdue = today > complaint.feedback_by
        text = _left_text("反馈", complaint.feedback_by, left, today)
        if handled_late:
            text = f"逾期办理；{text}"
        return Timing("feedback", complaint.feedback_by, left, overdue, overdue or handled_late, text)
    if complaint.status == S.CLOSED:
        notes = [t for t, late in (("逾期办理", handled_late), ("逾期反馈", feedback_late)) if late]
        return Timing("", None, None, False, bool(notes), "；".join(notes) or "按期办结")
    return Timing("", None, None, False, False, "")


def overdue_filter(queryset: QuerySet[Complaint], today: datetime.date | None = None) -> QuerySet[Complaint]:
    """The complaints whose deadline has passed unmet, or which were handled or answered late."""
    today = today or timezone.localdate()
    return queryset.annotate(
        _handled_on=TruncDate("handled_at"), _fed_back_on=TruncDate("feedback_at")
    ).filter(
        Q(status=S.ASSIGNED, handle_by__lt=today)
        | Q(status=S.HANDLED, feedback_by__lt=today)
        | Q(_handled_on__gt=F("handle_by"))
        | Q(_fed_back_on__gt=F("feedback_by"))
    )


# --- Helpers -------------------------------------------------------------------------------------------


def _locked(complaint: Complaint) -> Complaint:
    return Complaint.objects.select_for_update().get(pk=complaint.pk)


def _fresh(complaint: Complaint) -> Complaint:
    return Complaint.objects.select_related(
        "body", "body__region", "enterprise", "task", "registered_by", "complainant_enterprise"
    ).get(pk=complaint.pk)


def _transition(complaint: Complaint, to: str, what: str) -> None:
    if to not in TRANSITIONS[complaint.status]:
        raise InvalidTransition(
            f"投诉举报{complaint.number}当前状态为「{complaint.get_status_display()}」，不能{what}"
        )
    complaint.status = to


def _record(actor, action: str, complaint: Complaint, before: dict | None, **extra: Any) -> None:
    after = audit.snapshot(complaint, COMPLAINT_FIELDS)
    after.update(extra)
    audit.record(actor=actor, action=action, obj=complaint, before=before, after=after)


def _next_number(year: int) -> str:
    """TS-2026-000123: sequential per year. The counter row stays locked until the registration commits, so
    two registrations at once wait for each other instead of taking the same number."""
    return take_number(ComplaintNumberCounter, {"year": year}, Complaint, lambda n: f"TS-{year}-{n:06d}")


def _body_admins(body_id: int | None) -> list:
    from django.contrib.auth import get_user_model

    if body_id is None:
        return []
    return list(
        get_user_model().objects.people().filter(role=Role.BODY_ADMIN, body_id=body_id, is_active=True)
    )


def _task_bodies(task: Task) -> set[int]:
    return set(task.task_bodies.values_list("body_id", flat=True))


def _describe(complaint: Complaint) -> str:
    return f"投诉举报{complaint.number}「{complaint.title}」"


# --- Registration --------------------------------------------------------------------------------------


def register_complaint(
    actor,
    *,
    source: str,
    category: str,
    title: str,
    content: str,
    complainant_name: str = "",
    complainant_phone: str = "",
    complainant_enterprise: Enterprise | None = None,
    enterprise: Enterprise | None = None,
    body: EnforcementBody | None = None,
    task: Task | None = None,
    received_on: datetime.date | None = None,
    code_report=None,
    external_number: str = "",
    external_due: datetime.date | None = None,
    activity: ObserverActivity | None = None,
) -> Complaint:
    """Register a complaint in the ledger and give it its number.

    Intake staff and supervisors register what came by the 12345 hotline, a body's platform, phone, letter or
    otherwise, about bodies of their region; a body's administrator what came through its own platform (then
    it is at once assigned to that body); an observer its observations; an enterprise's contact its own
    complaint on the portal (about its own enterprise and, optionally, one of its own inspections); the system
    ("系统") the report of a failed code from the scan page.

    `external_number` and `external_due` are the channel's work-order number and its own handling deadline,
    when the complaint came as data (the 12345 hotline's export, hotline.py); a number is registered once per
    channel (the database's unique constraint holds it even for two imports at once).

    `activity` is the visit or meeting (ObserverActivity) a lead came out of: only an observer's own, or one a
    supervisor may see.
    """
    today = timezone.localdate()
    received_on = received_on or today
    is_system = isinstance(actor, str)
    if is_system:
        if source != Source.CODE_REPORT:
            raise PermissionDenied("系统只能登记扫码页面的举报")
    elif source == Source.CODE_REPORT:
        raise PermissionDenied("扫码举报由系统根据扫码页面的举报自动登记，不能手工登记")
    elif source not in registration_sources(actor):
        allowed = registration_sources(actor)
        if not allowed:
            raise PermissionDenied(
                "只有投诉受理人员、司法局执法监督人员、执法单位管理员、法治观察员和企业联系人可以登记投诉举报"
            )
        labels = "、".join(str(Source(s).label) for s in allowed)
        raise PermissionDenied(f"您只能登记以下来源的投诉举报：{labels}")

    problems: list[str] = []
    role = None if is_system else actor.role
    if role == Role.ENTERPRISE_CONTACT:
        own = actor.enterprise
        if enterprise is not None and enterprise.pk != own.pk:
            problems.append("企业联系人只能就本企业的事项投诉")
        enterprise = own
        complainant_enterprise = own
        complainant_name = complainant_name.strip() or actor.full_name
        complainant_phone = complainant_phone.strip() or actor.phone
        if task is not None and not Task.objects.visible_to(actor).filter(pk=task.pk).exists():
            problems.append("只能关联本企业已收到告知的检查任务")
            task = None
    elif role == Role.BODY_ADMIN:
        if body is not None and body.pk != actor.body_id:
            problems.append("执法单位只能登记本单位平台收到的投诉举报")
        body = actor.body
    elif role == Role.OBSERVER and task is not None:
        problems.append("法治观察员登记观察情况时不能关联检查任务，请在内容中写明检查的时间、地点")
        task = None
    if (
        body is not None
        and role in (*BUREAU_ROLES, Role.OBSERVER)
        and not actor.is_platform_admin
        and not body.region.path.startswith(actor.region.path)
    ):
        problems.append(f"「{body.name}」不属于您所在的区域，请交由其所在区域登记")
    if (
        task is not None
        and not is_system
        and role != Role.ENTERPRISE_CONTACT
        and not Task.objects.visible_to(actor).filter(pk=task.pk).exists()
    ):
        problems.append("无权关联该检查任务")
        task = None
    if task is not None:
        if enterprise is None:
            enterprise = task.enterprise
        elif enterprise.pk != task.enterprise_id:
            problems.append(f"检查任务{task.number or task.pk}的检查对象不是「{enterprise.name}」")
        if body is None:
            body = task.lead_body
        elif body.pk not in _task_bodies(task):
            problems.append(f"「{body.name}」未参加检查任务{task.number or task.pk}")
    if activity is not None and (
        is_system or not ObserverActivity.objects.visible_to(actor).filter(pk=activity.pk).exists()
    ):
        raise PermissionDenied("只能就本人记录或本区域的走访、座谈提交线索")
    if source not in Source.values:
        problems.append("请选择投诉来源")
    if category not in Complaint.Category.values:
        problems.append("请选择投诉类别")
    title, content = (title or "").strip(), (content or "").strip()
    if not title:
        problems.append("请填写标题")
    elif len(title) > 200:
        problems.append("标题不能超过200个字")
    if not content:
        problems.append("请填写投诉举报内容")
    complainant_name = (complainant_name or "").strip()
    complainant_phone = (complainant_phone or "").strip()
    if len(complainant_name) > 50:
        problems.append("投诉人姓名不能超过50个字")
    if complainant_phone and not PHONE.match(complainant_phone):
        problems.append("联系电话请填写数字（座机可带“-”），或留空")
    if received_on > today:
        problems.append("受理日期不能晚于今天")
    external_number = (external_number or "").strip()
    if len(external_number) > 64:
        problems.append("工单编号不能超过64个字符")
    if external_number and Complaint.objects.filter(source=source, external_number=external_number).exists():
        problems.append(f"{Source(source).label}工单{external_number}已登记，不重复登记")
    if external_due is not None and external_due < received_on:
        problems.append("办理时限不能早于受理日期")
    # Intake may say the complainant is the enterprise concerned: only then is that enterprise told the result.
    if (
        complainant_enterprise is not None
        and role not in (Role.ENTERPRISE_CONTACT, None)
        and (enterprise is None or complainant_enterprise.pk != enterprise.pk)
    ):
        problems.append("投诉企业须为涉及的企业")
    raise_if(problems, "投诉举报未登记")

    with transaction.atomic():
        complaint = Complaint(
            number=_next_number(received_on.year),
            source=source,
            category=category,
            title=title,
            content=content,
            complainant_name=complainant_name,
            complainant_phone=complainant_phone,
            complainant_enterprise=complainant_enterprise,
            enterprise=enterprise,
            body=body,
            task=task,
            code_report=code_report,
            received_on=received_on,
            registered_by=None if is_system else actor,
            external_number=external_number,
            external_due=external_due,
            activity=activity,
        )
        if role == Role.BODY_ADMIN:
            # Received on the body's own platform: the body has it from the day it came in.
            complaint.status = S.ASSIGNED
            complaint.assigned_at = timezone.now()
            complaint.handle_by = add_working_days(received_on, handle_working_days())
        complaint.save()
        _record(actor, "complaint.registered", complaint, None)
        if is_system or role in (Role.ENTERPRISE_CONTACT, Role.OBSERVER):
            # Nobody at intake typed it in: tell them it is waiting to be assigned.
            for user in _intake_for(complaint, actor):
                notify_user(
                    user=user,
                    event="complaint.received",
                    subject=f"新投诉举报待交办：{complaint.number}",
                    body=f"{Source(source).label}收到投诉举报「{title}」（{Complaint.Category(category).label}），"
                    "请及时登记处理并交办。",
                    payload={"complaint": complaint.number},
                    related=complaint,
                )
    return complaint


NO_CODE_TITLE = "有人未出示检查码来检查"
NO_CODE_TEXT_MAX = 500


def report_inspection_without_code(
    actor, *, who: str = "", note: str = "", task: Task | None = None, when: datetime.datetime | None = None
) -> Complaint:
    """The enterprise's one-tap report (portal, F-24): someone came to inspect without showing a valid code.
    Under the State Council's opinion and seed 000 an enterprise may refuse such a visit; the report becomes a
    complaint of the category 无码检查或检查码异常, from the portal, about the enterprise itself (and the task,
    if the contact names one of its own), registered and sent to the intake desk like any portal complaint.
    `who` (the body or people, as far as known) and `note` are optional."""
    if not (getattr(actor, "is_authenticated", False) and actor.role == Role.ENTERPRISE_CONTACT):
        raise PermissionDenied("只有企业联系人可以举报未出示检查码的检查")
    who, note = (who or "").strip(), (note or "").strip()
    problems = []
    if len(who) > 100:
        problems.append("来检查的单位或人员不超过100个字")
    if len(note) > NO_CODE_TEXT_MAX:
        problems.append(f"补充说明不超过{NO_CODE_TEXT_MAX}个字")
    raise_if(problems, "举报未提交")
    when = timezone.localtime(when or timezone.now())
    lines = [
        f"企业通过企业端一键举报：{chinese_date(when.date())} {when:%H:%M}前后，有人到本企业检查，未出示有效的检查码。",
        f"来检查的单位或人员：{who or '（企业未填写）'}",
    ]
    if note:
        lines.append(f"补充说明：{note}")
    return register_complaint(
        actor,
        source=Source.PORTAL,
        category=Complaint.Category.NO_CODE,
        title=NO_CODE_TITLE if not who else f"{NO_CODE_TITLE}（{who[:40]}）",
        content="\n".join(lines),
        task=task,
    )


def _intake_for(complaint: Complaint, actor) -> list[User]:
    """The intake staff whose region covers the complaint: by the enterprise or body concerned, else the
    observer's region; a code report naming neither goes to every intake desk (it is theirs to place)."""
    place = complaint.enterprise.region if complaint.enterprise_id else None
    if place is None and complaint.body_id:
        place = complaint.body.region
    if place is None and not isinstance(actor, str) and actor.region_id:
        place = actor.region
    staff = User.objects.filter(role=Role.COMPLAINT_INTAKE, is_active=True, region__isnull=False)
    if place is None:
        return list(staff)
    return [user for user in staff.select_related("region") if place.path.startswith(user.region.path)]


def register_code_report(report) -> Complaint:
    """The complaint for a report of a code that failed verification on the scan page (called by
    `inspections.services.report_code` in its transaction): category 无码检查或检查码异常, the reporting
    enterprise if a contact was logged in, and the task when the code is ours and belongs to that
    enterprise (or nobody logged in)."""
    scan = report.scan
    enterprise = scan.enterprise
    task = None
    code = scan.code
    if code is not None and (enterprise is None or enterprise.pk == code.enterprise_id):
        task = code.task
    content = [
        f"扫码时间：{timezone.localtime(scan.scanned_at):%Y-%m-%d %H:%M}",
        f"核验结果：{scan.get_outcome_display()}",
    ]
    if report.description:
        content.append(f"情况说明：{report.description}")
    return register_complaint(
        SYSTEM,
        source=Source.CODE_REPORT,
        category=Complaint.Category.NO_CODE,
        title=f"扫码举报：检查码{scan.get_outcome_display()}",
        content="\n".join(content),
        complainant_phone=report.contact_phone,
        complainant_enterprise=enterprise,
        enterprise=enterprise or (task.enterprise if task else None),
        task=task,
        received_on=timezone.localdate(report.reported_at or timezone.now()),
        code_report=report,
    )


# --- Assignment, handling, feedback, rejection -------------------------------------------------------


def assign_complaint(actor, *, complaint: Complaint, body: EnforcementBody) -> Complaint:
    """Intake staff or a supervisor gives the complaint to a body of its region to handle (again, to another
    body, if the first was the wrong one). The handling deadline runs from today; the body's administrators
    are told."""
    with transaction.atomic():
        complaint = _locked(complaint)
        if not _bureau_of(actor, complaint):
            raise PermissionDenied("只有本区域的投诉受理人员或司法局执法监督人员可以交办投诉举报")
        if not _bureau_of_body(actor, body):
            raise PermissionDenied(f"「{body.name}」不属于您所在的区域，不能交办给该单位")
        _transition(complaint, S.ASSIGNED, "交办")
        problems = []
        if not body.is_active:
            problems.append(f"「{body.name}」已停用，请交办给其他执法单位")
        if complaint.assigned_at and complaint.body_id == body.pk:
            problems.append(f"该投诉举报已交办给「{body.name}」")
        if complaint.task_id and body.pk not in _task_bodies(complaint.task):
            problems.append(f"「{body.name}」未参加所涉检查任务，请交办给参加该任务的执法单位")
        raise_if(problems, "投诉举报未交办")
        before = audit.snapshot(_fresh(complaint), COMPLAINT_FIELDS)
        reassigned = complaint.assigned_at is not None
        today = timezone.localdate()
        complaint.body = body
        complaint.assigned_at = timezone.now()
        complaint.assigned_by = actor
        complaint.handle_by = add_working_days(today, handle_working_days())
        complaint.save()
        _record(actor, "complaint.reassigned" if reassigned else "complaint.assigned", complaint, before)
        for admin in _body_admins(body.pk):
            notify_user(
                user=admin,
                event="complaint.assigned",
                subject=f"交办投诉举报{complaint.number}",
                body=(
                    f"{_describe(complaint)}已交办贵单位办理，请于{chinese_date(complaint.handle_by)}前"
                    "录入办理结果。"
                ),
                payload={"complaint": complaint.number, "handle_by": complaint.handle_by.isoformat()},
                related=complaint,
            )
    return complaint


def record_handling(actor, *, complaint: Complaint, result: str) -> Complaint:
    """The assigned body's administrator records how the complaint was handled; the feedback deadline runs
    from today."""
    with transaction.atomic():
        complaint = _locked(complaint)
        if not _admin_of_body(actor, complaint.body_id) or complaint.assigned_at is None:
            raise PermissionDenied("只有承办执法单位的管理员可以录入办理结果")
        _transition(complaint, S.HANDLED, "录入办理结果")
        raise_if([] if (result or "").strip() else ["请填写办理结果"], "办理结果未保存")
        before = audit.snapshot(_fresh(complaint), COMPLAINT_FIELDS)
        complaint.result = result.strip()
        complaint.handled_at = timezone.now()
        complaint.handled_by = actor
        complaint.feedback_by = add_working_days(timezone.localdate(), feedback_working_days())
        complaint.save()
        handled_late = timezone.localdate() > complaint.handle_by if complaint.handle_by else False
        _record(actor, "complaint.handled", complaint, before, late=handled_late)
        registrar = complaint.registered_by
        if registrar is not None and registrar.is_active and registrar.role in BUREAU_ROLES:
            notify_user(
                user=registrar,
                event="complaint.handled",
                subject=f"投诉举报{complaint.number}已办理",
                body=(
                    f"{_describe(complaint)}已由{complaint.body}办理，请于{chinese_date(complaint.feedback_by)}"
                    "前向投诉人反馈。"
                ),
                payload={"complaint": complaint.number, "feedback_by": complaint.feedback_by.isoformat()},
                related=complaint,
            )
    return complaint


def _tell_complainant(complaint: Complaint, *, event: str, subject: str, body: str) -> None:
    """An enterprise complainant through its inbox and channels; an observer through its staff inbox."""
    payload = {"complaint": complaint.number, "status": complaint.status}
    if complaint.complainant_enterprise_id:
        notify_enterprise(
            enterprise=complaint.complainant_enterprise,
            event=event,
            subject=subject,
            body=body,
            payload=payload,
            related=complaint,
        )
    elif complaint.source == Source.OBSERVER and complaint.registered_by_id:
        notify_user(
            user=complaint.registered_by,
            event=event,
            subject=subject,
            body=body,
            payload=payload,
            related=complaint,
        )


def give_feedback(actor, *, complaint: Complaint, feedback: str) -> Complaint:
    """Intake staff (or a supervisor) of the region, or the assigned body, tells the complainant the result;
    the complaint is closed. An enterprise complainant is told through its portal inbox and channels."""
    with transaction.atomic():
        complaint = _locked(complaint)
        if not (_bureau_of(actor, complaint) or _admin_of_body(actor, complaint.body_id)):
            raise PermissionDenied("只有投诉受理人员、司法局执法监督人员或承办执法单位的管理员可以反馈投诉人")
        _transition(complaint, S.CLOSED, "反馈办结")
        raise_if([] if (feedback or "").strip() else ["请填写向投诉人反馈的内容"], "反馈未保存")
        before = audit.snapshot(_fresh(complaint), COMPLAINT_FIELDS)
        complaint.feedback = feedback.strip()
        complaint.feedback_at = timezone.now()
        complaint.feedback_given_by = actor
        complaint.save()
        late = timezone.localdate() > complaint.feedback_by if complaint.feedback_by else False
        _record(actor, "complaint.feedback", complaint, before, late=late)
        _tell_complainant(
            complaint,
            event="complaint.feedback",
            subject=f"您的投诉举报{complaint.number}已办结",
            body=f"您反映的「{complaint.title}」已办理。办理结果：{complaint.feedback}",
        )
    return complaint


def reject_complaint(actor, *, complaint: Complaint, reason: str) -> Complaint:
    """Refuse to take up a complaint (不予受理), with the reason, which the complainant is told."""
    with transaction.atomic():
        complaint = _locked(complaint)
        if not _may_reject(actor, complaint):
            raise PermissionDenied(
                "只有本区域的投诉受理人员或司法局执法监督人员可以作出不予受理；"
                "执法单位只能对本单位平台收到的投诉举报作出不予受理"
            )
        _transition(complaint, S.REJECTED, "不予受理")
        raise_if([] if (reason or "").strip() else ["请填写不予受理的理由"], "未作出不予受理")
        before = audit.snapshot(_fresh(complaint), COMPLAINT_FIELDS)
        complaint.rejection_reason = reason.strip()
        complaint.rejected_at = timezone.now()
        complaint.save()
        _record(actor, "complaint.rejected", complaint, before)
        _tell_complainant(
            complaint,
            event="complaint.rejected",
            subject=f"您的投诉举报{complaint.number}不予受理",
            body=f"您反映的「{complaint.title}」不予受理。理由：{complaint.rejection_reason}",
        )
    return complaint


def complaint_to_finding(
    actor, *, complaint: Complaint, title: str = "", severity: str = Severity.LOW
) -> Finding:
    """A supervisor turns a complaint about a body's inspection into a supervision finding (F-30), with the
    complaint as its evidence. Once per complaint."""
    with transaction.atomic():
        complaint = _locked(complaint)
        body = complaint.body
        if body is None:
            raise DomainError("该投诉举报尚未确定涉及的执法单位，请先交办或补充执法单位后再转为监督问题")
        if not (
            _is_staff_user(actor)
            and (actor.is_platform_admin or actor.role == Role.SUPERVISOR)
            and is_supervisor_of(actor, body)
        ):
            raise PermissionDenied("只有该执法单位所在区域的司法局执法监督人员可以将投诉举报转为监督问题")
        if complaint.status == S.REJECTED:
            raise InvalidTransition(f"投诉举报{complaint.number}已不予受理，不能转为监督问题")
        if complaint.finding_id:
            raise InvalidTransition(f"投诉举报{complaint.number}已转为监督问题，不能重复转办")
        before = audit.snapshot(complaint, COMPLAINT_FIELDS)
        finding = create_finding(
            actor,
            source=Finding.Source.OBSERVER
            if complaint.source == Source.OBSERVER
            else Finding.Source.COMPLAINT,
            body=body,
            task=complaint.task,
            title=(title or "").strip() or f"投诉举报：{complaint.title}",
            description=complaint.content,
            severity=severity,
            period=complaint.received_on,
            evidence=[evidence_entry(complaint, f"投诉举报 {complaint.number}")],
        )
        complaint.finding = finding
        complaint.save(update_fields=["finding"])
        _record(actor, "complaint.finding_created", complaint, before)
    return finding


# --- Reminders (the daily job) --------------------------------------------------------------------------


def _remind(complaint: Complaint, kind: str, deadline: datetime.date, recipients: list, today) -> bool:
    """Send one reminder about one deadline, unless it was sent already. True if sent."""
    if not recipients:
        return False
    try:
        with transaction.atomic():
            ComplaintReminder.objects.create(
                complaint=complaint,
                body_id=complaint.body_id,
                kind=kind,
                deadline=deadline,
                recipients=len(recipients),
            )
            what = "办理" if kind.startswith("handle") else "反馈"
            if kind.endswith("missed"):
                days = working_days_between(deadline, today)
                subject = f"投诉举报{complaint.number}{what}已逾期"
                text = f"{_describe(complaint)}的{what}期限为{chinese_date(deadline)}，已逾期{days}个工作日，请尽快{what}。"
            else:
                days = working_days_between(today, deadline)
                subject = f"投诉举报{complaint.number}{what}期限将至"
                left = "今日到期" if days == 0 else f"剩余{days}个工作日"
                text = (
                    f"{_describe(complaint)}的{what}期限为{chinese_date(deadline)}（{left}），请按期{what}。"
                )
            for user in recipients:
                notify_user(
                    user=user,
                    event=f"complaint.{kind}",
                    subject=subject,
                    body=text,
                    payload={"complaint": complaint.number, "deadline": deadline.isoformat(), "kind": kind},
                    related=complaint,
                    sms=True,
                )
            audit.record(
                actor=SYSTEM,
                action="complaint.reminded",
                obj=complaint,
                after={"kind": kind, "deadline": deadline.isoformat(), "recipients": len(recipients)},
            )
    except IntegrityError:
        return False  # another run sent it at the same moment
    return True


def send_reminders(today: datetime.date | None = None) -> int:
    """Remind of handling and feedback deadlines COMPLAINT_REMINDER_WORKING_DAYS working days ahead, and once
    more when one is missed; never twice about the same deadline. Handling: the assigned body's
    administrators; feedback: they and the intake staff who registered it. Returns how many reminders were
    sent (one per complaint and deadline event, to every recipient)."""
    today = today or timezone.localdate()
    ahead = reminder_working_days()
    horizon = add_working_days(today, ahead) if ahead > 0 else today
    sent = 0
    done = {
        (r.complaint_id, r.body_id, r.kind, r.deadline)
        for r in ComplaintReminder.objects.filter(
            Q(complaint__status=S.ASSIGNED) | Q(complaint__status=S.HANDLED)
        ).only("complaint_id", "body_id", "kind", "deadline")
    }
    K = ComplaintReminder.Kind
    pending = [
        (c, c.handle_by, K.HANDLE_DUE, K.HANDLE_MISSED)
        for c in Complaint.objects.filter(
            status=S.ASSIGNED, body__isnull=False, handle_by__isnull=False, handle_by__lte=horizon
        ).select_related("body")
    ] + [
        (c, c.feedback_by, K.FEEDBACK_DUE, K.FEEDBACK_MISSED)
        for c in Complaint.objects.filter(
            status=S.HANDLED, body__isnull=False, feedback_by__isnull=False, feedback_by__lte=horizon
        ).select_related("body", "registered_by")
    ]
    for complaint, deadline, due_kind, missed_kind in pending:
        kind = missed_kind if today > deadline else due_kind
        if (complaint.pk, complaint.body_id, kind, deadline) in done:
            continue
        recipients = _body_admins(complaint.body_id)
        if kind in (K.FEEDBACK_DUE, K.FEEDBACK_MISSED):
            registrar = complaint.registered_by
            if registrar is not None and registrar.is_active and registrar.role in BUREAU_ROLES:
                recipients.append(registrar)
        if _remind(complaint, kind, deadline, recipients, today):
            sent += 1
    return sent


# --- Reconsideration leads (F-35) -------------------------------------------------------------------------


def _lead_transition(lead: ReconsiderationLead, to: str, what: str) -> None:
    if to not in LEAD_TRANSITIONS[lead.status]:
        raise InvalidTransition(
            f"行政复议线索{lead.case_number}当前状态为「{lead.get_status_display()}」，不能{what}"
        )
    lead.status = to


def _lead_record(actor, action: str, lead: ReconsiderationLead, before: dict | None, **extra: Any) -> None:
    after = audit.snapshot(lead, LEAD_FIELDS)
    after.update(extra)
    audit.record(actor=actor, action=action, obj=lead, before=before, after=after)


LEAD_REGISTRARS = (Role.SUPERVISOR, Role.RECONSIDERATION_OFFICE)


def can_register_leads(user) -> bool:
    """Supervisors, and the reconsideration office itself (线索互通), of a region."""
    return _is_staff_user(user) and (
        user.is_platform_admin or (user.role in LEAD_REGISTRARS and user.region_id is not None)
    )


def is_reconsideration_office(user) -> bool:
    return _is_staff_user(user) and user.role == Role.RECONSIDERATION_OFFICE and user.region_id is not None


def _office_of(user, body: EnforcementBody) -> bool:
    return is_reconsideration_office(user) and body.region.path.startswith(user.region.path)


def _supervisor_of(user, body: EnforcementBody) -> bool:
    return (
        _is_staff_user(user)
        and (user.is_platform_admin or (user.role == Role.SUPERVISOR and user.region_id is not None))
        and is_supervisor_of(user, body)
    )


def lead_bodies(user) -> QuerySet[EnforcementBody]:
    """The bodies `user` may register a lead about: the active bodies of its region."""
    if not can_register_leads(user):
        return EnforcementBody.objects.none()
    bodies = EnforcementBody.objects.filter(is_active=True).select_related("region")
    if user.is_platform_admin:
        return bodies
    return bodies.filter(region__path__startswith=user.region.path)


def register_lead(
    actor,
    *,
    case_number: str,
    body: EnforcementBody,
    description: str,
    received_on: datetime.date,
    task: Task | None = None,
) -> ReconsiderationLead:
    """A supervisor, or the reconsideration office itself, registers a problem found in administrative
    reconsideration, about a body of its region and, where known, one of its tasks. The office's lead is
    told to the district's supervisors, who accept it or return it; the office follows it on the lead's
    page (线索互通)."""
    from_office = _office_of(actor, body)
    if not (from_office or _supervisor_of(actor, body)):
        raise PermissionDenied("只有该执法单位所在区域的司法局执法监督人员或行政复议机构可以登记行政复议线索")
    problems = []
    case_number, description = (case_number or "").strip(), (description or "").strip()
    if not case_number:
        problems.append("请填写复议案号")
    elif len(case_number) > 60:
        problems.append("复议案号不能超过60个字")
    if not description:
        problems.append("请填写问题线索")
    if received_on is None:
        problems.append("请填写收到日期")
    elif received_on > timezone.localdate():
        problems.append("收到日期不能晚于今天")
    if task is not None and body.pk not in _task_bodies(task):
        problems.append(f"「{body.name}」未参加检查任务{task.number or task.pk}")
    raise_if(problems, "行政复议线索未登记")
    with transaction.atomic():
        lead = ReconsiderationLead.objects.create(
            case_number=case_number,
            body=body,
            task=task,
            description=description,
            received_on=received_on,
            registered_by=actor,
        )
        _lead_record(actor, "lead.registered", lead, None)
        if from_office:
            for supervisor in _lead_supervisors(body):
                notify_user(
                    user=supervisor,
                    event="complaints.lead_registered",
                    subject=f"行政复议机构移送线索：{lead.case_number}",
                    body=f"行政复议机构登记了涉及{body.name}的行政复议线索（{lead.case_number}），请核实后转为"
                    "监督问题或反馈复议机构。",
                    related=lead,
                )
    return lead


def _lead_supervisors(body: EnforcementBody) -> list[User]:
    """The supervisors of the body's district bureau (and of any region between it and the body), not the
    city's."""
    district_path = (body.region.district() or body.region).path
    path = body.region.path
    prefixes = [path[: i + 1] for i, ch in enumerate(path) if ch == "/" and i + 1 >= len(district_path)]
    return list(
        User.objects.filter(role=Role.SUPERVISOR, is_active=True, region__path__in=prefixes).order_by("pk")
    )


def accept_lead(
    actor, *, lead: ReconsiderationLead, title: str = "", severity: str = Severity.LOW
) -> ReconsiderationLead:
    """The lead becomes a supervision finding (source 行政复议线索), with the lead as its evidence."""
    with transaction.atomic():
        lead = ReconsiderationLead.objects.select_for_update().get(pk=lead.pk)
        if not _supervisor_of(actor, lead.body):
            raise PermissionDenied("只有该执法单位所在区域的司法局执法监督人员可以处理行政复议线索")
        _lead_transition(lead, L.ACCEPTED, "转为监督问题")
        before = audit.snapshot(lead, LEAD_FIELDS)
        lead.finding = create_finding(
            actor,
            source=Finding.Source.RECONSIDERATION,
            body=lead.body,
            task=lead.task,
            title=(title or "").strip() or f"行政复议线索：{lead.case_number}",
            description=lead.description,
            severity=severity,
            period=lead.received_on,
            evidence=[evidence_entry(lead, f"行政复议线索 {lead.case_number}")],
        )
        lead.save(update_fields=["status", "finding"])
        _lead_record(actor, "lead.accepted", lead, before)
    return lead


def return_lead(actor, *, lead: ReconsiderationLead, note: str) -> ReconsiderationLead:
    """Send the lead back to the reconsideration side with a note: instead of a finding (not a matter for
    supervision), or after the finding, with its result."""
    with transaction.atomic():
        lead = (
            ReconsiderationLead.objects.select_for_update(of=("self",))
            .select_related("finding")
            .get(pk=lead.pk)
        )
        if not _supervisor_of(actor, lead.body):
            raise PermissionDenied("只有该执法单位所在区域的司法局执法监督人员可以处理行政复议线索")
        _lead_transition(lead, L.RETURNED, "反馈复议机构")
        raise_if([] if (note or "").strip() else ["请填写反馈复议机构的情况"], "行政复议线索未反馈")
        before = audit.snapshot(lead, LEAD_FIELDS)
        lead.returned_note = note.strip()
        lead.returned_at = timezone.now()
        lead.save(update_fields=["status", "returned_note", "returned_at"])
        extra = {}
        if lead.finding is not None:
            extra["finding_status"] = lead.finding.get_status_display()
        _lead_record(actor, "lead.returned", lead, before, **extra)
    return lead
