"""The tamper-evident audit log: every state change is appended, each row hashing the one before.

The hash covers the row's content and the previous row's hash, so changing, inserting or deleting any
stored row breaks the chain at that point; `verify_chain` names the first broken link.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from .models import AuditArchive, AuditEvent

GENESIS_HASH = "0" * 64


def _parse_float(text: str) -> float | int:
    # PostgreSQL's jsonb keeps numbers as numeric: 1e20 comes back as 100000000000000000000 and -0.0 as 0,
    # which would hash differently. Whole floats are stored as integers so both databases return them as is.
    number = float(text)
    return int(number) if number.is_integer() else number


def _strip_nul(value: Any) -> Any:
    # PostgreSQL cannot store U+0000 in jsonb; the rest of the text is kept.
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_strip_nul(v) for v in value]
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    return value


def _normalise(value: Any) -> Any:
    """JSON-safe values, so what is hashed is exactly what the JSON column stores and returns.

    Dates, times and decimals become strings (DjangoJSONEncoder), tuples lists, keys strings; NaN and
    infinities (which jsonb refuses) become the strings "NaN", "Infinity", "-Infinity".
    """
    text = json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)
    normalised = json.loads(text, parse_float=_parse_float, parse_constant=str)
    return _strip_nul(normalised) if "\\u0000" in text else normalised


def snapshot(instance: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """The concrete field values of a model instance (many-to-many included), for before/after."""
    data: dict[str, Any] = {}
    opts = instance._meta
    for field in opts.concrete_fields:
        if fields and field.name not in fields:
            continue
        value = field.value_from_object(instance)
        if isinstance(value, (datetime.date, datetime.datetime, Decimal)):
            value = value.isoformat() if not isinstance(value, Decimal) else str(value)
        elif hasattr(value, "name") and not isinstance(value, str):  # file fields
            value = value.name or ""
        data[field.attname if field.is_relation else field.name] = value
    if instance.pk:
        for field in opts.many_to_many:
            if fields and field.name not in fields:
                continue
            data[field.name] = sorted(related.pk for related in field.value_from_object(instance))
    return _normalise(data)


def compute_hash(
    *,
    sequence: int,
    occurred_at: str,
    actor_id: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    object_repr: str,
    before: Any,
    after: Any,
    prev_hash: str,
) -> str:
    payload = json.dumps(
        [
            sequence,
            occurred_at,
            actor_id,
            actor_label,
            action,
            object_type,
            object_id,
            object_repr,
            before,
            after,
            prev_hash,
        ],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _event_hash(event: AuditEvent) -> str:
    return compute_hash(
        sequence=event.sequence,
        occurred_at=event.occurred_at.astimezone(datetime.UTC).isoformat(timespec="microseconds"),
        actor_id=event.actor_id,
        actor_label=event.actor_label,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        object_repr=event.object_repr,
        before=event.before,
        after=event.after,
        prev_hash=event.prev_hash,
    )


# Any fixed number: the key of the PostgreSQL advisory lock that serialises appenders.
_APPEND_LOCK_KEY = 0x4A43_4155  # "JCAU"


def _lock_chain() -> None:
    """Hold the append lock until the surrounding transaction ends, so sequence and prev_hash are the latest.

    Locking the last row is not enough on PostgreSQL: a waiter re-reads the same (old) last row after the
    holder commits, and an empty table has no row to lock. SQLite needs nothing here: settings open every
    transaction IMMEDIATE, so writers already run one at a time.
    """
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_APPEND_LOCK_KEY])


def _actor_label(actor) -> str:
    if isinstance(actor, str):
        return actor or "系统"
    if getattr(actor, "pk", None):
        return str(actor)
    return "系统"


def record(
    *,
    actor,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    before: Any = None,
    after: Any = None,
) -> AuditEvent:
    """Append one event. Call inside the service's transaction, so the event and the change commit together.

    `actor` is a user, or a short text such as "系统" or "数据导入" for changes nobody made by hand.

    Appending holds the chain's lock until the transaction ends (`_lock_chain`), so every audited
    transaction in the system waits for the one before it to commit: call it last in the service, after
    everything else it writes. Everything that does not depend on the chain's head is done before the lock.
    """
    return record_all(
        dict(
            actor=actor,
            action=action,
            obj=obj,
            object_type=object_type,
            object_id=object_id,
            object_repr=object_repr,
            before=before,
            after=after,
        )
    )[0]


def record_all(*events: dict[str, Any]) -> list[AuditEvent]:
    """Append several events in this order (each given as `record`'s arguments), taking the chain's lock once:
    for a transaction of two steps (a task created and submitted at once)."""
    made = [_new_event(**event) for event in events]
    # No savepoint of its own inside the service's transaction (two round trips, while the chain's lock is
    # held): an event that fails to insert fails the change with it, which is what the log needs anyway.
    with transaction.atomic(savepoint=False):
        connection = transaction.get_connection()
        if connection.vendor == "postgresql" and len(made) > 1:
            _append_many_postgresql(connection, made)
        elif connection.vendor == "postgresql":
            _append_postgresql(connection, made[0])
        else:
            _lock_chain()
            for event in made:
                last = AuditEvent.objects.order_by("-sequence").only("sequence", "hash").first()
                event.sequence = (last.sequence + 1) if last else 1
                event.occurred_at = timezone.now()
                event.prev_hash = last.hash if last else GENESIS_HASH
                event.hash = _event_hash(event)
                event.save(force_insert=True)
    return made


def _new_event(
    *,
    actor,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    before: Any = None,
    after: Any = None,
) -> AuditEvent:
    if obj is not None:
        object_type = object_type or obj._meta.label
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)
    return AuditEvent(
        actor=actor if isinstance(actor, models.Model) and actor.pk else None,
        actor_label=_actor_label(actor)[:150],
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        object_repr=object_repr[:255],
        before=_normalise(before),
        after=_normalise(after),
    )


def _hashed_middle(event: AuditEvent) -> str:
    """What `compute_hash` serialises between the event's time and the previous hash, as it writes it: the
    hashed list's items are written one after another, so the list's text is "[" + sequence + "," + time +
    "," + this + "," + previous hash + "]"."""
    return json.dumps(
        [
            event.actor_id,
            event.actor_label,
            event.action,
            event.object_type,
            event.object_id,
            event.object_repr,
            event.before,
            event.after,
        ],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )[1:-1]


# The append in one statement on PostgreSQL, once the lock is held: it reads the chain's head (a statement
# after the lock's, so it sees what the previous holder committed), numbers and hashes the event the way
# `compute_hash` does (sha256 over the same text: Python writes all of it but the sequence and the previous
# hash, which only the head gives) and inserts it. Built once per process from the model.
_APPEND_SQL: str | None = None


def _append_sql(connection) -> str:
    global _APPEND_SQL
    if _APPEND_SQL is None:
        quote = connection.ops.quote_name
        table = quote(AuditEvent._meta.db_table)
        columns = ", ".join(
            quote(name)
            for name in (
                "sequence",
                "occurred_at",
                "actor_id",
                "actor_label",
                "action",
                "object_type",
                "object_id",
                "object_repr",
                "before",
                "after",
                "prev_hash",
                "hash",
            )
        )
        _APPEND_SQL = (
            f"WITH head AS (SELECT {quote('sequence')} AS seq, {quote('hash')} AS digest FROM {table} "
            f"ORDER BY {quote('sequence')} DESC LIMIT 1), "
            "link AS (SELECT coalesce((SELECT seq FROM head), 0) + 1 AS seq, "
            "coalesce((SELECT digest FROM head), %s::text) AS prev) "
            f"INSERT INTO {table} ({columns}) "
            "SELECT link.seq, %s, %s, %s, %s, %s, %s, %s, %s, %s, link.prev, "
            "encode(sha256(convert_to('[' || link.seq::text || ',' || %s::text || ',' || %s::text || ',\"' "
            "|| link.prev || '\"]', 'UTF8')), 'hex') FROM link "
            f"RETURNING {quote('id')}, {quote('sequence')}, {quote('prev_hash')}, {quote('hash')}"
        )
    return _APPEND_SQL


def _append_postgresql(connection, event: AuditEvent) -> None:
    prepared = {
        name: AuditEvent._meta.get_field(name).get_db_prep_save(getattr(event, name), connection)
        for name in ("before", "after")
    }
    middle = _hashed_middle(event)
    sql = _append_sql(connection)
    _lock_chain()
    # From here to the commit every other audited transaction waits: only the time and one statement.
    event.occurred_at = timezone.now()
    occurred = json.dumps(event.occurred_at.astimezone(datetime.UTC).isoformat(timespec="microseconds"))
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                GENESIS_HASH,
                event.occurred_at,
                event.actor_id,
                event.actor_label,
                event.action,
                event.object_type,
                event.object_id,
                event.object_repr,
                prepared["before"],
                prepared["after"],
                occurred,
                middle,
            ],
        )
        event.pk, event.sequence, event.prev_hash, event.hash = cursor.fetchone()
    event._state.adding = False
    event._state.db = connection.alias


# Several events appended by one statement (`record_all`): the first as `_append_sql` does, each next one
# numbered and hashed from the row the one before it inserted (a data-modifying CTE reads the one before's
# RETURNING). One round trip while the lock is held instead of one per event. Built once per count.
_APPEND_MANY_SQL: dict[int, str] = {}
_APPENDED_COLUMNS = (
    "occurred_at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "before",
    "after",
)


def _append_many_sql(connection, count: int) -> str:
    if count not in _APPEND_MANY_SQL:
        quote = connection.ops.quote_name
        table = quote(AuditEvent._meta.db_table)
        columns = ", ".join(quote(name) for name in ("sequence", *_APPENDED_COLUMNS, "prev_hash", "hash"))
        values = ", ".join(["%s"] * len(_APPENDED_COLUMNS))
        returning = f"{quote('id')}, {quote('sequence')}, {quote('prev_hash')}, {quote('hash')}"

        def digest(seq: str, prev: str) -> str:
            return (
                f"encode(sha256(convert_to('[' || ({seq})::text || ',' || %s::text || ',' || %s::text || ',\"' "
                f"|| {prev} || '\"]', 'UTF8')), 'hex')"
            )

        parts = [
            f"head AS (SELECT {quote('sequence')} AS seq, {quote('hash')} AS digest FROM {table} "
            f"ORDER BY {quote('sequence')} DESC LIMIT 1)",
            "link AS (SELECT coalesce((SELECT seq FROM head), 0) + 1 AS seq, "
            "coalesce((SELECT digest FROM head), %s::text) AS prev)",
            f"e0 AS (INSERT INTO {table} ({columns}) SELECT link.seq, {values}, link.prev, "
            f"{digest('link.seq', 'link.prev')} FROM link RETURNING {returning})",
        ]
        for n in range(1, count):
            seq, prev = f"e{n - 1}.{quote('sequence')} + 1", f"e{n - 1}.{quote('hash')}"
            parts.append(
                f"e{n} AS (INSERT INTO {table} ({columns}) SELECT {seq}, {values}, {prev}, "
                f"{digest(seq, prev)} FROM e{n - 1} RETURNING {returning})"
            )
        _APPEND_MANY_SQL[count] = (
            "WITH "
            + ", ".join(parts)
            + " "
            + " UNION ALL ".join(f"SELECT {returning} FROM e{n}" for n in range(count))
        )
    return _APPEND_MANY_SQL[count]


def _append_many_postgresql(connection, events: list[AuditEvent]) -> None:
    prepared = [
        [
            AuditEvent._meta.get_field(name).get_db_prep_save(getattr(e, name), connection)
            for name in ("before", "after")
        ]
        for e in events
    ]
    middles = [_hashed_middle(event) for event in events]
    sql = _append_many_sql(connection, len(events))
    _lock_chain()
    # From here to the commit every other audited transaction waits: only the time and one statement.
    now = timezone.now()
    occurred = json.dumps(now.astimezone(datetime.UTC).isoformat(timespec="microseconds"))
    params: list[Any] = [GENESIS_HASH]
    for event, (before, after), middle in zip(events, prepared, middles, strict=True):
        event.occurred_at = now
        params += [
            now,
            event.actor_id,
            event.actor_label,
            event.action,
            event.object_type,
            event.object_id,
            event.object_repr,
            before,
            after,
            occurred,
            middle,
        ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = sorted(cursor.fetchall(), key=lambda row: row[1])
    for event, (pk, sequence, prev_hash, digest) in zip(events, rows, strict=True):
        event.pk, event.sequence, event.prev_hash, event.hash = pk, sequence, prev_hash, digest
        event._state.adding = False
        event._state.db = connection.alias


@dataclass
class BrokenLink:
    sequence: int
    reason: str


def verify_chain(batch_size: int = 5000) -> tuple[int, BrokenLink | None]:
    """Walk the whole chain in order. Returns (events checked, first broken link or None).

    Months moved to files (`archive_before`) are the chain's first links: the walk starts after the last
    archive, from its hash, once the archives are found to follow each other from the first event and each
    to be recorded by its own "audit.archived" event in the chain."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    archives = list(AuditArchive.objects.order_by("first_sequence"))
    for archive in archives:
        if archive.first_sequence != expected_seq or archive.last_sequence < archive.first_sequence:
            return checked, BrokenLink(
                expected_seq,
                f"归档记录不连续：应从第 {expected_seq} 条起，归档从第 {archive.first_sequence} 条起",
            )
        expected_seq, expected_prev = archive.last_sequence + 1, archive.last_hash
    recorded = {
        (e.after or {}).get("first_sequence"): e.after
        for e in AuditEvent.objects.filter(action="audit.archived").only("after")
    }
    for archive in archives:
        if recorded.get(archive.first_sequence) != archive_figures(archive):
            return checked, BrokenLink(
                archive.first_sequence,
                f"第 {archive.first_sequence}–{archive.last_sequence} 条的归档记录与审计日志中的归档事件不符",
            )
    for event in _iter_events(batch_size, after=expected_seq - 1):
        if event.sequence != expected_seq:
            return checked, BrokenLink(
                expected_seq, f"缺少第 {expected_seq} 条记录（下一条为第 {event.sequence} 条）"
            )
        if event.prev_hash != expected_prev:
            if event.sequence == 1:
                return checked, BrokenLink(1, "第 1 条记录的前一条哈希不是链的起点：此条记录被修改")
            return checked, BrokenLink(
                event.sequence,
                f"所记的前一条哈希与第 {event.sequence - 1} 条记录不符：第 {event.sequence - 1} 条记录被修改或替换",
            )
        if _event_hash(event) != event.hash:
            return checked, BrokenLink(event.sequence, "内容与其哈希不符：此条记录被修改")
        expected_prev = event.hash
        expected_seq += 1
        checked += 1
    return checked, None


def _iter_events(batch_size: int, after: int = 0) -> Iterator[AuditEvent]:
    last_seq = after
    while True:
        batch = list(AuditEvent.objects.filter(sequence__gt=last_seq).order_by("sequence")[:batch_size])
        if not batch:
            return
        yield from batch
        last_seq = batch[-1].sequence


def archive_figures(archive: AuditArchive) -> dict[str, Any]:
    """What the "audit.archived" event records of an archive (and verify_chain compares)."""
    return {
        "first_sequence": archive.first_sequence,
        "last_sequence": archive.last_sequence,
        "last_hash": archive.last_hash,
        "file_name": archive.file_name,
        "sha256": archive.sha256,
        "rows": archive.rows,
    }


def archive_before(before: datetime.date, directory=None) -> list[AuditArchive]:
    """Move the audit log's months that end on or before `before` (UTC months) out of the database into
    gzip CSV files (PostgreSQL's monthly partitions, core/partitions.py). Each month is recorded as an
    AuditArchive and by an "audit.archived" event, in the transaction that drops it. Refused where it would
    leave a gap at the chain's start. Returns the archives made."""
    from jianchama.core.errors import DomainError

    from . import partitions

    made: list[AuditArchive] = []

    def record_archive(cursor, archived: partitions.Archived) -> None:
        cursor.execute(f'SELECT min(sequence), max(sequence), count(*) FROM "{archived.partition}"')
        first, last, rows = cursor.fetchone()
        if not rows:
            return
        previous = AuditArchive.objects.order_by("-last_sequence").first()
        expected = previous.last_sequence + 1 if previous else 1
        if first != expected or last - first + 1 != rows:
            raise DomainError(
                f"{archived.start:%Y年%-m月}的审计记录（第 {first}–{last} 条，共 {rows} 条）不紧接已归档的记录"
                f"（应从第 {expected} 条起）：未归档"
            )
        last_hash = AuditEvent.objects.filter(sequence=last).values_list("hash", flat=True).get()
        archive = AuditArchive.objects.create(
            first_sequence=first,
            last_sequence=last,
            last_hash=last_hash,
            starts_on=archived.start,
            ends_on=archived.end,
            file_name=archived.path.name,
            sha256=archived.sha256,
            rows=rows,
        )
        record(actor="系统", action="audit.archived", obj=archive, after=archive_figures(archive))
        made.append(archive)

    partitions.archive("core_auditevent", before, directory, on_archive=record_archive)
    return made


def history(obj: models.Model) -> models.QuerySet[AuditEvent]:
    """The events about one object, oldest first (a timeline)."""
    return AuditEvent.objects.filter(object_type=obj._meta.label, object_id=str(obj.pk)).order_by("sequence")


# What each action code means, for timelines. Other apps add theirs with `register_actions`.
ACTION_LABELS: dict[str, str] = {
    "user.login_by_code": "企业联系人验证码登录",
    "calendar.set_year": "录入年度节假日安排",
    "calendar.load_library": "从日历库载入节假日安排",
    "demo.load": "载入演示数据",
    "core.export_queued": "导出已交后台任务队列生成",
    "audit.archived": "审计日志按月归档",
}


def register_actions(labels: dict[str, str]) -> None:
    """Add Chinese labels for an app's action codes (call from the app's `AppConfig.ready`)."""
    ACTION_LABELS.update(labels)


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


@dataclass
class Change:
    """One line of a readable diff: a field, or an item added to or removed from a list."""

    label: str
    before: Any = None
    after: Any = None


def _fields(object_type: str) -> dict[str, Any]:
    """The model's fields by name and by column name (`body` and `body_id`)."""
    from django.apps import apps

    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return {}
    fields: dict[str, Any] = {}
    for field in model._meta.get_fields():
        if field.auto_created and not field.concrete:
            continue  # reverse relations: never in a snapshot, and a recorded key may share their name
        fields[field.name] = field
        if getattr(field, "attname", None):
            fields[field.attname] = field
    return fields


# Labels of keys that services record beside a model's fields (e.g. "measures" on a decision).
EXTRA_LABELS: dict[str, str] = {}


def register_field_labels(labels: dict[str, str]) -> None:
    """Add Chinese labels for keys an app records that are not model fields (from `AppConfig.ready`)."""
    EXTRA_LABELS.update(labels)


# How recorded values that are codes read: per key, a table {code: label} (an outcome, a rule's slug, a
# channel) or a function of the stored value (a record named by its key, a finding summarised by its message).
# A key's table also names the keys of a dict stored under it (deliveries: {"sms": 2} → 短信：2).
VALUE_LABELS: dict[str, dict[str, str] | Callable[[Any], str]] = {}


def register_value_labels(key: str, labels: dict[str, str] | Callable[[Any], str]) -> None:
    """Say in Chinese what a recorded key's coded values mean (from `AppConfig.ready`)."""
    current = VALUE_LABELS.get(key)
    if isinstance(labels, dict) and isinstance(current, dict):
        current.update(labels)
    else:
        VALUE_LABELS[key] = dict(labels) if isinstance(labels, dict) else labels


def _label(fields: dict[str, Any], key: str) -> str:
    field = fields.get(key)
    if field is None:
        return EXTRA_LABELS.get(key, key)
    return str(getattr(field, "verbose_name", "") or key)


def _is_key(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _display_field(field: Any, value: Any, key: str = "") -> str:
    """A stored value as the pages say it: a choice's label, a related record's name, a date in Chinese, a
    file's name. Values the field cannot read are shown as stored."""
    # A model field's own choices first; the registered labels name what no field describes.
    if key in VALUE_LABELS and value not in (None, "", []) and not getattr(field, "choices", None):
        return _display(value, key)
    if field is None or value is None or value == "" or value == []:
        return _display(value, key)
    if isinstance(value, list):
        if (field.many_to_many or field.one_to_many) and all(_is_key(v) for v in value):
            names = {obj.pk: str(obj) for obj in field.related_model._default_manager.filter(pk__in=value)}
            return "、".join(names.get(pk, f"（已删除：{pk}）") for pk in value)
        return "、".join(_display_field(field, v) for v in value)
    if getattr(field, "choices", None):
        return str(dict(field.flatchoices).get(value, value))
    if field.is_relation:
        # Some services recorded a related record by its name or code rather than its key: shown as stored.
        if not _is_key(value):
            return _display(value)
        related = field.related_model._default_manager.filter(pk=value).first()
        return str(related) if related is not None else f"（已删除：{value}）"
    if isinstance(field, models.DateTimeField) and isinstance(value, str):
        moment = parse_datetime(value)
        if moment is not None:
            if timezone.is_aware(moment):
                moment = timezone.localtime(moment)
            return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"
    elif isinstance(field, models.DateField) and isinstance(value, str):
        day = parse_date(value)
        if day is not None:
            return f"{day.year}年{day.month}月{day.day}日"
    if isinstance(field, models.FileField) and isinstance(value, str):
        return value.rsplit("/", 1)[-1]
    return _display(value)


def _display(value: Any, key: str = "") -> str:
    labels = VALUE_LABELS.get(key)
    if callable(labels) and value not in (None, "", [], {}) and not isinstance(value, list):
        return labels(value)
    if value is None or value == "":
        return "（空）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(_display(v, key) for v in value) if value else "（无）"
    if isinstance(value, dict):
        if not value:
            return "（无）"
        names = labels if isinstance(labels, dict) else {}
        return "；".join(
            f"{names.get(k) or EXTRA_LABELS.get(k, k)}：{_display(v, '' if k in names else k)}"
            for k, v in value.items()
        )
    if isinstance(labels, dict):
        return labels.get(str(value), str(value))
    return str(value)


def changes(event: AuditEvent) -> list[Change]:
    """What an event changed, in words: the fields that differ, or the items added to and removed from a list."""
    before, after = event.before, event.after
    if isinstance(before, dict) or isinstance(after, dict):
        before, after = before or {}, after or {}
        if not isinstance(before, dict) or not isinstance(after, dict):
            return [Change("内容", _display(before), _display(after))]
        fields = _fields(event.object_type)
        # A creation lists the new values only; a deletion the old ones only.
        return [
            Change(
                _label(fields, key),
                _display_field(fields.get(key), before.get(key), key) if event.before else None,
                _display_field(fields.get(key), after.get(key), key) if event.after else None,
            )
            for key in list(before) + [k for k in after if k not in before]
            if before.get(key) != after.get(key)
        ]
    if isinstance(before, list) or isinstance(after, list):
        before_items = {json.dumps(i, ensure_ascii=False, sort_keys=True): i for i in before or []}
        after_items = {json.dumps(i, ensure_ascii=False, sort_keys=True): i for i in after or []}
        removed = [
            Change("删除", before=_display(v)) for k, v in before_items.items() if k not in after_items
        ]
        added = [Change("新增", after=_display(v)) for k, v in after_items.items() if k not in before_items]
        return removed + added
    if before == after:
        return []
    return [Change("内容", _display(before), _display(after))]


def related_label(value: Any) -> str:
    """A record named as 'app_label.Model:pk' (a notification's subject): its kind and its name."""
    from django.apps import apps

    label, _, pk = str(value).partition(":")
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        return str(value)
    obj = model._default_manager.filter(pk=pk).first() if pk.isdigit() else None
    return f"{model._meta.verbose_name}：{obj if obj is not None else f'（已删除：{pk}）'}"


register_value_labels("related", related_label)
register_field_labels({"related": "相关记录", "comment": "意见"})
