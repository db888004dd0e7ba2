"""The complaint to-dos of the home pages (F-46; core/todos.py): complaints to assign for the bureau and the
intake desk, complaints by their handling and feedback deadlines, and those a body must handle; for a
rule-of-law observer, the leads he reported that are still being handled and the quarter's visit or meeting
not yet recorded; reconsideration leads not yet checked, for the supervisors and the reconsideration office."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from jianchama.core import todos
from jianchama.core.roles import Role
from jianchama.supervision.sampling import quarter_bounds, quarter_of

from .models import Complaint, ObserverActivity, ReconsiderationLead

S = Complaint.Status
BUREAU = frozenset({Role.SUPERVISOR, Role.COMPLAINT_INTAKE})


def complaints_to_assign(user, today):
    return Complaint.objects.visible_to(user).filter(status=S.REGISTERED)


def complaints_to_handle(user, today):
    """Assigned and not yet handled: for a body its own, for the bureau every one of its region's."""
    return Complaint.objects.visible_to(user).filter(status=S.ASSIGNED)


def complaints_to_answer(user, today):
    return Complaint.objects.visible_to(user).filter(status=S.HANDLED)


def leads_in_handling(user, today):
    """The observer's own leads (Complaint.visible_to gives him only those he registered) not yet closed."""
    return Complaint.objects.visible_to(user).filter(status__in=(S.REGISTERED, S.ASSIGNED, S.HANDLED))


def reconsideration_leads_registered(user, today):
    """Leads from administrative reconsideration not yet accepted as a finding or returned: the supervisors
    must check them, the reconsideration office waits for their answer (线索互通)."""
    return ReconsiderationLead.objects.visible_to(user).filter(status=ReconsiderationLead.Status.REGISTERED)


def quarter_without_activity(user, today):
    """The observer himself, while he has recorded no visit or meeting this quarter (seed 003 二（一）2:
    定期召开座谈会…了解企业在接受行政检查过程中遇到的困难和问题): one item, due at the quarter's end."""
    start, _ = quarter_bounds(*quarter_of(today))
    recorded = ObserverActivity.objects.visible_to(user).filter(held_on__gte=start)
    return get_user_model().objects.filter(pk=user.pk).exclude(pk__in=recorded.values("recorded_by"))


def _quarter_end_of(items):
    return quarter_bounds(*quarter_of(timezone.localdate()))[1] if items.exists() else None


def _new_activity(user) -> str:
    return reverse("complaints:activity_create")


todos.register(
    todos.TodoKind(
        key="complaints_to_assign",
        label="待交办的投诉举报",
        roles=BUREAU,
        items=complaints_to_assign,
        url="complaints:ledger",
        deadline="received_on",
        deadline_label="最早受理日期",
        order=40,
    ),
    todos.TodoKind(
        key="complaints_to_handle",
        label="已交办、办理中的投诉举报",
        roles=BUREAU | {Role.BODY_ADMIN},
        items=complaints_to_handle,
        url="complaints:ledger",
        deadline="handle_by",
        deadline_label="办理期限",
        order=41,
    ),
    todos.TodoKind(
        key="complaints_to_answer",
        label="已办理、待反馈的投诉举报",
        roles=BUREAU | {Role.BODY_ADMIN},
        items=complaints_to_answer,
        url="complaints:ledger",
        deadline="feedback_by",
        deadline_label="反馈期限",
        order=42,
    ),
    todos.TodoKind(
        key="observer_leads_in_handling",
        label="我报送的线索（办理中）",
        roles=frozenset({Role.OBSERVER}),
        items=leads_in_handling,
        url="complaints:ledger",
        deadline="handle_by",
        deadline_label="办理期限",
        order=43,
    ),
    todos.TodoKind(
        key="observer_quarter_activity",
        label="本季度尚未记录走访或座谈",
        roles=frozenset({Role.OBSERVER}),
        items=quarter_without_activity,
        url=_new_activity,
        deadline=_quarter_end_of,
        deadline_label="季度末",
        order=44,
    ),
    todos.TodoKind(
        key="reconsideration_leads_to_check",
        label="待核实的行政复议线索",
        roles=frozenset({Role.SUPERVISOR}),
        items=reconsideration_leads_registered,
        url="complaints:lead_list",
        order=45,
    ),
    todos.TodoKind(
        key="reconsideration_leads_waiting",
        label="已登记、待司法局核实的复议线索",
        roles=frozenset({Role.RECONSIDERATION_OFFICE}),
        items=reconsideration_leads_registered,
        url="complaints:lead_list",
        order=45,
    ),
)
