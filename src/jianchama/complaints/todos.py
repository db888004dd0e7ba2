"""The complaint to-dos of the home pages (F-46; core/todos.py): complaints to assign for the bureau and the
intake desk, complaints by their handling and feedback deadlines, and those a body must handle."""

from __future__ import annotations

from jianchama.core import todos
from jianchama.core.roles import Role

from .models import Complaint

S = Complaint.Status
BUREAU = frozenset({Role.SUPERVISOR, Role.COMPLAINT_INTAKE})


def complaints_to_assign(user, today):
    return Complaint.objects.visible_to(user).filter(status=S.REGISTERED)


def complaints_to_handle(user, today):
    """Assigned and not yet handled: for a body its own, for the bureau every one of its region's."""
    return Complaint.objects.visible_to(user).filter(status=S.ASSIGNED)


def complaints_to_answer(user, today):
    return Complaint.objects.visible_to(user).filter(status=S.HANDLED)


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
)
