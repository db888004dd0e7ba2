"""The home page's to-dos (F-46): what waits for each role, with its count and nearest deadline.

Core imports no domain app, so each app registers its own kinds of to-do here (in its AppConfig.ready, from
its `todos.py`). A kind names the roles it is for, the scoped queryset of its waiting items (through the
model's `visible_to`), the date field of their deadline, and the list page that shows them. The same queryset
narrows that list (`?todo=<key>`, see `narrow`), so a link lands on exactly the items it counted.

Each kind costs two queries, whatever the size of the tables: a count that stops at `TODO_COUNT_CAP` + 1 rows
(as core.pages does for lists) and the first deadline in index order.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from .workdays import WorkingCalendar

# Beyond this many waiting items the home says "99+": the user goes to the list for the rest.
TODO_COUNT_CAP = 99


@dataclass(frozen=True)
class TodoKind:
    key: str
    label: str
    roles: frozenset[str]
    # (user, today) -> the waiting items, already scoped to the user.
    items: Callable[..., QuerySet]
    # The list page (a URL name) that takes ?todo=<key>, or a callable (user) -> URL for a page of its own.
    url: str | Callable[..., str]
    # The field (or path) of the items' deadline, or a callable (items) -> the nearest date; empty when none.
    deadline: str | Callable[..., datetime.date | None] = ""
    # Shown beside the count, e.g. "办理期限" or "检查日期".
    deadline_label: str = "期限"
    order: int = 100
    # Extra condition on the user beyond the role (e.g. has a body).
    applies: Callable[..., bool] | None = None

    def for_user(self, user) -> bool:
        if not user.is_authenticated:
            return False
        if user.role not in self.roles:
            return False
        return self.applies is None or bool(self.applies(user))

    def link(self, user) -> str:
        if callable(self.url):
            return self.url(user)
        return f"{reverse(self.url)}?todo={self.key}"


@dataclass
class Todo:
    """One line of a home page: a kind of to-do as it stands for one user today."""

    kind: TodoKind
    url: str
    count: int
    capped: bool
    deadline: datetime.date | None = None
    # Working days from today to the deadline (negative when overdue); None without a deadline.
    days_left: int | None = None
    provisional: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.kind.label

    @property
    def overdue(self) -> bool:
        return self.deadline is not None and self.days_left is not None and self.days_left < 0

    @property
    def days_overdue(self) -> int:
        return -self.days_left if self.overdue else 0

    @property
    def count_text(self) -> str:
        return f"{self.count}+" if self.capped else str(self.count)


_KINDS: dict[str, TodoKind] = {}


def register(*kinds: TodoKind) -> None:
    for kind in kinds:
        _KINDS[kind.key] = kind


def kinds_for(user) -> list[TodoKind]:
    return sorted((k for k in _KINDS.values() if k.for_user(user)), key=lambda k: (k.order, k.key))


def get(key: str) -> TodoKind | None:
    return _KINDS.get(key)


def count_capped(queryset: QuerySet, cap: int | None = None) -> tuple[int, bool]:
    cap = cap if cap is not None else getattr(settings, "TODO_COUNT_CAP", TODO_COUNT_CAP)
    count = queryset.order_by()[: cap + 1].count()
    return (cap, True) if count > cap else (count, False)


def nearest_deadline(queryset: QuerySet, path) -> datetime.date | None:
    if not path:
        return None
    if callable(path):
        return path(queryset)
    return queryset.filter(**{f"{path}__isnull": False}).order_by(path).values_list(path, flat=True).first()


def for_user(user, today: datetime.date | None = None, *, include_empty: bool = False) -> list[Todo]:
    """The user's to-dos, in the order of their kinds; by default only those with something waiting."""
    today = today or timezone.localdate()
    calendar = WorkingCalendar()  # one calendar for every deadline of the page
    result = []
    for kind in kinds_for(user):
        items = kind.items(user, today)
        count, capped = count_capped(items)
        if not count and not include_empty:
            continue
        todo = Todo(kind=kind, url=kind.link(user), count=count, capped=capped)
        if count and kind.deadline:
            deadline = nearest_deadline(items, kind.deadline)
            if isinstance(deadline, datetime.datetime):
                deadline = timezone.localdate(deadline)
            if deadline is not None:
                todo.deadline = deadline
                calendar.unknown_used = set()
                todo.days_left = calendar.between(today, deadline)
                todo.provisional = bool(calendar.unknown_used)
        result.append(todo)
    return result


def narrow(
    user, key: str, queryset: QuerySet, today: datetime.date | None = None, *, strict: bool = False
) -> tuple[QuerySet, str]:
    """`queryset` limited to the items of the to-do `key` (for the list a home link lands on), and the label
    to show above it. An unknown key or a kind not for this user leaves it as it is; a kind of another model
    too, unless `strict` (a page listing several models shows only the one the to-do counts)."""
    kind = _KINDS.get(key or "")
    if kind is None or not kind.for_user(user):
        return queryset, ""
    items = kind.items(user, today or timezone.localdate())
    if items.model is not queryset.model:
        return (queryset.none(), kind.label) if strict else (queryset, "")
    return queryset.filter(pk__in=items.values("pk")), kind.label
