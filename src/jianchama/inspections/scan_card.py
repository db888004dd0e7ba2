"""The scan card: what the public scan page shows of a task with a genuine code (F-24) — its bodies, its
inspectors each with the certificate to show, and its items — read in one query; and the card kept in the
cache between scans (issue 16).

The query is hand-built SQL on purpose: through the ORM these were four queries whose compiling cost most of a
scan's time (bench/bench_scan.py); it lives here, beside the models it reads, and the portal's view only
renders what `details` returns.

The cached card holds the code with its task (what the verdict is judged on), `details`, and what the page made
of them (the portal's rendered section), under the code's public id: a scan whose card is cached reads nothing
from the database. It is never stale: each card is stamped with two versions read in the same round trip as
the scan's rate limit (core/ratelimit.py), before anything is read from the database —

- the code's own version, counted up (core.cache.bump) whenever the task, its code, its bodies, inspectors or
  items change, or one of its inspectors or their certificates (for every task not yet completed that has the
  inspector), by the signal handlers below, once at the change and again when it commits;
- the registry's generation, counted up when a body, item or field changes (their names are on every card) and
  by bulk imports of inspectors and certificates (registry/importing.py);

and a card whose stamp differs from the versions now is rebuilt. What is shown of the certificates depends on
the day; a card is kept only until the first of them runs out (`fresh_until`). Writes that bypass the ORM's
signals (queryset.update(), raw SQL, bulk_create) must call `forget_tasks`, `forget_inspectors` or
`forget_all` themselves.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import pickle
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models.base import ModelState
from django.utils import timezone

from jianchama.core import cache as core_cache
from jianchama.core import ratelimit, rows
from jianchama.registry import photos
from jianchama.registry.models import Certificate, EnforcementBody, Field, InspectionItem, Inspector

from .models import InspectionCode, Task, TaskBody

logger = logging.getLogger(__name__)


def details(task: Task, today) -> dict:
    """The task's bodies, its inspectors each with the certificate to show, and its items, in one query
    that is built once: through the ORM these were four queries whose compiling cost most of a scan's time
    (bench/bench_scan.py). Orders as the models do: inspectors by body code and name, certificates newest
    first, items by field code and code; bodies in the order they joined the task."""
    plan = _DETAILS_SQL.get(connection.alias)
    if plan is None:
        plan = _DETAILS_SQL[connection.alias] = _details_sql()
    with connection.cursor() as cursor:
        cursor.execute(plan, [task.pk, task.pk, task.pk])
        rows = cursor.fetchall()
    # Plain dicts for the template (a dict lookup is the first thing the template tries); certificates stay
    # models, for `status_on`.
    bodies, items, inspectors, certificates = [], [], {}, {}
    for part, pk, name, photo, _, _, number, valid_from, valid_until, status in rows:
        if part == 0:
            bodies.append({"name": name})
        elif part == 2:
            items.append({"name": name})
        else:
            if pk not in inspectors:
                inspectors[pk] = {
                    "pk": pk,
                    "name": name,
                    "photo": {"url": photos.public_url(pk, photo)} if photo else "",
                    "photo_name": photo or "",
                }
                certificates[pk] = []
            if number is not None:
                certificates[pk].append(
                    Certificate(
                        number=number,
                        valid_from=_date(valid_from),
                        valid_until=_date(valid_until),
                        status=status,
                    )
                )
    # What is shown of the certificates holds until the first valid one among them runs out (`status_on`
    # and `_certificate_for` look at `valid_until` only): a cached card is rebuilt on that day.
    ends = [
        certificate.valid_until
        for held in certificates.values()
        for certificate in held
        if certificate.status == Certificate.Status.VALID and certificate.valid_until >= today
    ]
    return {
        "bodies": bodies,
        "inspectors": [
            _with_certificate(inspector, _certificate_for(certificates[pk], today), today)
            for pk, inspector in inspectors.items()
        ],
        "items": items,
        "fresh_until": min(ends) + datetime.timedelta(days=1) if ends else None,
    }


_DETAILS_SQL: dict[str, str] = {}


def _details_sql() -> str:
    quote = connection.ops.quote_name

    def table(model) -> str:
        return quote(model._meta.db_table)

    def column(model, name: str) -> str:
        return quote(model._meta.get_field(name).column)

    task_inspectors = Task.inspectors.through
    task_items = Task.items.through
    # Columns: part, id, name, photo, sort 1, sort 2, certificate number, valid from, valid until, status.
    return f"""
        SELECT 0, tb.{column(TaskBody, "id")}, b.{column(EnforcementBody, "name")}, NULL, NULL, NULL,
               NULL, NULL, NULL, NULL
        FROM {table(TaskBody)} tb
        INNER JOIN {table(EnforcementBody)} b ON b.{column(EnforcementBody, "id")} = tb.{column(TaskBody, "body")}
        WHERE tb.{column(TaskBody, "task")} = %s
        UNION ALL
        SELECT 1, i.{column(Inspector, "id")}, i.{column(Inspector, "name")}, i.{column(Inspector, "photo")},
               b.{column(EnforcementBody, "code")}, i.{column(Inspector, "name")},
               c.{column(Certificate, "number")}, c.{column(Certificate, "valid_from")},
               c.{column(Certificate, "valid_until")}, c.{column(Certificate, "status")}
        FROM {table(task_inspectors)} ti
        INNER JOIN {table(Inspector)} i ON i.{column(Inspector, "id")} = ti.{column(task_inspectors, "inspector")}
        INNER JOIN {table(EnforcementBody)} b ON b.{column(EnforcementBody, "id")} = i.{column(Inspector, "body")}
        LEFT OUTER JOIN {table(Certificate)} c
            ON c.{column(Certificate, "inspector")} = i.{column(Inspector, "id")}
        WHERE ti.{column(task_inspectors, "task")} = %s
        UNION ALL
        SELECT 2, it.{column(InspectionItem, "id")}, it.{column(InspectionItem, "name")}, NULL,
               f.{column(Field, "code")}, it.{column(InspectionItem, "code")}, NULL, NULL, NULL, NULL
        FROM {table(task_items)} ti
        INNER JOIN {table(InspectionItem)} it
            ON it.{column(InspectionItem, "id")} = ti.{column(task_items, "inspectionitem")}
        INNER JOIN {table(Field)} f ON f.{column(Field, "id")} = it.{column(InspectionItem, "field")}
        WHERE ti.{column(task_items, "task")} = %s
        ORDER BY 1, 5, 6, 2, 9 DESC
    """


def _date(value):
    # SQLite returns dates as text; PostgreSQL as dates.
    return datetime.date.fromisoformat(value) if isinstance(value, str) else value


def _with_certificate(inspector: dict, certificate, day) -> tuple[dict, Certificate | None]:
    """The inspector and the certificate to show; an inspector without a certificate valid today (suspended
    or revoked by a supervision decision, expired) carries the reason, which the page shows plainly."""
    status = certificate.status_on(day) if certificate else None
    if status != Certificate.Status.VALID:
        label = Certificate.Status(status).label if status else "无执法证件记录"
        inspector = {**inspector, "not_valid": label}
    return inspector, certificate


def _certificate_for(certificates, day):
    """The certificate to show: the one valid on `day`, else the newest."""
    for certificate in certificates:
        if certificate.status_on(day) == Certificate.Status.VALID:
            return certificate
    return certificates[0] if certificates else None


def code_with_task(public_id: int) -> InspectionCode | None:
    """The code with its task, in one query that is built once: compiling the ORM's query cost more than
    everything else a scan does (bench/bench_scan.py). Rows become model instances as the ORM makes them,
    through the database's converters."""
    key = (connection.alias, connection.vendor)
    plan = _CODE_SQL.get(key)
    if plan is None:
        quote = connection.ops.quote_name
        code_meta, task_meta = InspectionCode._meta, Task._meta
        code_fields, task_fields = code_meta.concrete_fields, task_meta.concrete_fields
        columns = [f"c.{quote(f.column)}" for f in code_fields] + [
            f"t.{quote(f.column)}" for f in task_fields
        ]
        sql = (
            f"SELECT {', '.join(columns)} FROM {quote(code_meta.db_table)} c "
            f"INNER JOIN {quote(task_meta.db_table)} t "
            f"ON t.{quote(task_meta.pk.column)} = c.{quote(code_meta.get_field('task').column)} "
            f"WHERE c.{quote(code_meta.get_field('public_id').column)} = %s"
        )
        plan = (sql, len(code_fields), rows.field_converters(connection, [*code_fields, *task_fields]))
        _CODE_SQL[key] = plan
    sql, split, converters = plan
    with connection.cursor() as cursor:
        cursor.execute(sql, [public_id])
        row = cursor.fetchone()
    if row is None:
        return None
    values = rows.converted(connection, row, converters)
    code = InspectionCode.from_db(
        connection.alias, [f.attname for f in InspectionCode._meta.concrete_fields], values[:split]
    )
    code.task = Task.from_db(
        connection.alias, [f.attname for f in Task._meta.concrete_fields], values[split:]
    )
    return code


_CODE_SQL: dict[tuple[str, str], tuple[str, int, list]] = {}

# --- The card in the cache ------------------------------------------------------------------------------------

CARD_KEY = "scan-card:{}:{}"  # CARD_FORMAT, the public id
VERSION_KEY = "scan-card-v:{}"
# Shared with the registry, which bumps it after bulk writes of people and certificates (core/cache.py).
GENERATION_KEY = core_cache.REGISTRY_GENERATION_KEY
# Tasks whose card may show inspectors: a completed or cancelled task's page shows none.
_SHOWS_INSPECTORS = (
    Task.Status.DRAFT,
    Task.Status.SUBMITTED,
    Task.Status.APPROVED,
    Task.Status.NOTIFIED,
    Task.Status.IN_PROGRESS,
)


_CODE_FIELDS = [f.attname for f in InspectionCode._meta.concrete_fields]
_TASK_FIELDS = [f.attname for f in Task._meta.concrete_fields]
# Part of every card's key: a deployment that changes either model's fields never reads a card kept before it.
CARD_FORMAT = hashlib.sha256(f"1 {_CODE_FIELDS} {_TASK_FIELDS}".encode()).hexdigest()[:8]


class Card:
    """A code with its task, the names of the task's bodies, `details` while it is being built, and what the scan
    page made of it (`page`, the portal's). Kept as the fields' values, not as model instances: unpickling two
    model instances cost a third of a cached scan's own work; the instances are made when first asked for."""

    def __init__(self, code: InspectionCode, details: dict | None, fresh_until: datetime.date | None) -> None:
        self._code = code
        self.details = details  # `details(code.task, day)`, for a task whose page shows them; not kept
        self.bodies = [body["name"] for body in details["bodies"]] if details else None
        self.fresh_until = fresh_until
        self.page: dict = {}
        self._values = (
            tuple(getattr(code, name) for name in _CODE_FIELDS),
            tuple(getattr(code.task, name) for name in _TASK_FIELDS),
        )

    @property
    def code(self) -> InspectionCode:
        """The code with its task, as they were when the card was built."""
        if self._code is None:
            code_values, task_values = self._values
            self._code = _restore(InspectionCode, _CODE_FIELDS, code_values)
            self._code._state.fields_cache["task"] = _restore(Task, _TASK_FIELDS, task_values)
        return self._code

    def __getstate__(self) -> dict:
        return {
            "values": self._values,
            "bodies": self.bodies,
            "fresh_until": self.fresh_until,
            "page": self.page,
        }

    def __setstate__(self, state: dict) -> None:
        self._values, self.bodies = state["values"], state["bodies"]
        self.fresh_until, self.page = state["fresh_until"], state["page"]
        self._code = self.details = None


def _restore(model, names: list[str], values: tuple):
    """An instance of `model` with the values it had, made as unpickling makes one: without `__init__` and its
    signals, which for a task's thirty fields cost more than the rest of reading the card."""
    instance = model.__new__(model)
    instance.__dict__.update(zip(names, values, strict=True))
    instance._state = ModelState()
    instance._state.adding, instance._state.db = False, connection.alias
    return instance


@dataclass
class Lookup:
    limited: bool
    card: Card | None
    # The versions as they were before this scan read anything from the database: a card built from what it
    # reads is stored under them (None: the cache could not be read, and nothing is stored).
    stamp: bytes | None


def look_up(public_id: int | None, count: ratelimit.Counter | None, today: datetime.date) -> Lookup:
    """Count the scan against the address's limit and read the code's card, in one round trip."""
    if public_id is None or settings.SCAN_CARD_SECONDS <= 0:
        limited, _ = ratelimit.count_and_get(count, [])
        return Lookup(limited, None, None)
    keys = [CARD_KEY.format(CARD_FORMAT, public_id), VERSION_KEY.format(public_id), GENERATION_KEY]
    limited, values = ratelimit.count_and_get(count, keys)
    if limited or values is None:
        return Lookup(limited, None, None)
    blob, version, generation = values
    stamp = _stamp(version, generation)
    card = None
    if isinstance(blob, bytes) and blob.startswith(stamp + b"|"):
        card = pickle.loads(blob[len(stamp) + 1 :])
        if card.fresh_until is not None and today >= card.fresh_until:
            card = None
    return Lookup(False, card, stamp)


# What the page makes of a card, once, before the card is kept (the portal registers its section's renderer:
# inspections does not import the portal).
PAGE_BUILDERS: list[Callable[[Card], None]] = []


def register_page_builder(builder: Callable[[Card], None]) -> None:
    if builder not in PAGE_BUILDERS:
        PAGE_BUILDERS.append(builder)


def build(code: InspectionCode, today: datetime.date) -> Card:
    """The card of a code just read with its task: its details when its page shows them, and what the page
    makes of them."""
    details_ = details(code.task, today) if code.task.status in _SHOWS_INSPECTORS else None
    card = Card(code=code, details=details_, fresh_until=details_["fresh_until"] if details_ else None)
    for builder in PAGE_BUILDERS:
        builder(card)
    return card


def refresh(public_ids) -> int:
    """Build and keep the cards of these codes now, so that the first scan finds its card ready (the services
    call this when a task is told to the enterprise and when its visit starts: `refresh_on_commit`). Returns
    how many were kept. Never raises: a card not built now is built by the first scan that needs it."""
    if settings.SCAN_CARD_SECONDS <= 0:
        return 0
    kept = 0
    today = timezone.localdate()
    for public_id in public_ids:
        try:
            # The versions before the read, as a scan takes them (`look_up`).
            values = core_cache.get_raw([VERSION_KEY.format(public_id), GENERATION_KEY])
            if values is None:
                return kept
            code = code_with_task(public_id)
            if code is None:
                continue
            store(public_id, _stamp(*values), build(code, today))
            kept += 1
        except Exception:
            logger.exception("扫码卡片预生成失败（首次扫码时再生成）：检查码 %s", public_id)
    return kept


def refresh_on_commit(task: Task) -> None:
    """When the change to `task` commits, build its code's card (after the versions the change counts up)."""

    def run() -> None:
        refresh(InspectionCode.objects.filter(task_id=task.pk).values_list("public_id", flat=True))

    if settings.SCAN_CARD_SECONDS > 0:
        transaction.on_commit(run, robust=True)


def _stamp(version, generation) -> bytes:
    return b"%d.%d" % (int(version or 0), int(generation or 0))


def store(public_id: int, stamp: bytes, card: Card) -> None:
    """Keep the card under the versions read before it was built (`Lookup.stamp`)."""
    seconds = settings.SCAN_CARD_SECONDS
    if seconds <= 0:
        return
    if card.fresh_until is not None:
        until = timezone.make_aware(datetime.datetime.combine(card.fresh_until, datetime.time.min))
        seconds = min(seconds, int((until - timezone.now()).total_seconds()))
        if seconds <= 0:
            return
    core_cache.set_raw(
        CARD_KEY.format(CARD_FORMAT, public_id),
        stamp + b"|" + pickle.dumps(card, pickle.HIGHEST_PROTOCOL),
        seconds,
    )


def _bump(keys: list[str]) -> None:
    """Count the versions up now, and again when the change commits: a scan between the two reads what the
    database had before the change and stores its card under the first bump, which the second makes stale."""
    if not keys or settings.SCAN_CARD_SECONDS <= 0:
        return
    timeout = settings.SCAN_CARD_SECONDS + 60  # outlives every card stamped before the bump
    core_cache.bump(keys, timeout=None if GENERATION_KEY in keys else timeout)
    transaction.on_commit(
        lambda: core_cache.bump(keys, timeout=None if GENERATION_KEY in keys else timeout), robust=True
    )


def forget_codes(public_ids) -> None:
    _bump([VERSION_KEY.format(public_id) for public_id in public_ids])


def forget_tasks(task_ids) -> None:
    """The cards of these tasks' codes are stale."""
    task_ids = [task_id for task_id in task_ids if task_id is not None]
    if task_ids:
        forget_codes(InspectionCode.objects.filter(task_id__in=task_ids).values_list("public_id", flat=True))


def forget_inspectors(inspector_ids) -> None:
    """The cards of the tasks not yet completed that have these inspectors are stale."""
    inspector_ids = [pk for pk in inspector_ids if pk is not None]
    if inspector_ids:
        forget_codes(
            InspectionCode.objects.filter(
                task__inspectors__in=inspector_ids, task__status__in=_SHOWS_INSPECTORS
            ).values_list("public_id", flat=True)
        )


def forget_all() -> None:
    """Every card is stale (a body, item or field renamed; people or certificates imported in bulk)."""
    _bump([GENERATION_KEY])


# Signal handlers (connected in apps.py): a cache concern, not a business rule, as integrations/webhooks.py's.


def on_task_saved(sender, instance, **kwargs) -> None:
    # A task in draft or submitted has never had a code (codes are issued on approval or an emergency start,
    # and neither status is reached again after that): no card to forget, no query on every draft's save.
    if instance.status in (Task.Status.DRAFT, Task.Status.SUBMITTED):
        return
    forget_tasks([instance.pk])


def on_code_saved(sender, instance, **kwargs) -> None:
    forget_codes([instance.public_id])


def on_task_part_saved(sender, instance, **kwargs) -> None:
    forget_tasks([instance.task_id])


def on_task_links_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """Task.inspectors and Task.items: from the task's side `instance` is the task; from the other side the
    changed tasks are `pk_set` (all of the inspector's or item's tasks when cleared)."""
    if not action.startswith("post_"):
        return
    if not reverse:
        forget_tasks([instance.pk])
    elif pk_set:
        forget_tasks(pk_set)
    else:
        forget_all()


def on_inspector_saved(sender, instance, **kwargs) -> None:
    forget_inspectors([instance.pk])


def on_certificate_saved(sender, instance, **kwargs) -> None:
    forget_inspectors([instance.inspector_id])


def on_registry_saved(sender, instance, **kwargs) -> None:
    forget_all()
