"""The tamper-evident audit log: every state change is appended, each row hashing the one before.

The hash covers the row's content and the previous row's hash, so changing, inserting or deleting any
stored row breaks the chain at that point; `verify_chain` names the first broken link.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from .models import AuditEvent

GENESIS_HASH = "0" * 64


def _normalise(value: Any) -> Any:
    """JSON-safe values, so what is hashed is exactly what the JSON column stores and returns."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False))


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


def compute_hash(*, sequence: int, occurred_at: str, actor_id: int | None, actor_label: str, action: str,
                 object_type: str, object_id: str, object_repr: str, before: Any, after: Any,
                 prev_hash: str) -> str:
    payload = json.dumps(
        [sequence, occurred_at, actor_id, actor_label, action, object_type, object_id, object_repr,
         before, after, prev_hash],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _event_hash(event: AuditEvent) -> str:
    return compute_hash(
        sequence=event.sequence,
        occurred_at=event.occurred_at.astimezone(datetime.UTC).isoformat(timespec="microseconds"),
        actor_id=event.actor_id, actor_label=event.actor_label, action=event.action,
        object_type=event.object_type, object_id=event.object_id, object_repr=event.object_repr,
        before=event.before, after=event.after, prev_hash=event.prev_hash,
    )


def record(*, actor, action: str, obj: models.Model | None = None, object_type: str = "",
           object_id: str = "", object_repr: str = "", before: Any = None, after: Any = None) -> AuditEvent:
    """Append one event. Call inside the service's transaction, so the event and the change commit together."""
    if obj is not None:
        object_type = object_type or obj._meta.label
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:255]
    with transaction.atomic():
        # Serialise appenders: the last row is locked (PostgreSQL) and SQLite writes one transaction at a time.
        last = AuditEvent.objects.select_for_update().order_by("-sequence").only("sequence", "hash").first()
        event = AuditEvent(
            sequence=(last.sequence + 1) if last else 1,
            occurred_at=timezone.now(),
            actor=actor if getattr(actor, "pk", None) else None,
            actor_label=(str(actor) if getattr(actor, "pk", None) else (actor or "系统"))[:150],
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            object_repr=object_repr[:255],
            before=_normalise(before),
            after=_normalise(after),
            prev_hash=last.hash if last else GENESIS_HASH,
        )
        event.hash = _event_hash(event)
        event.save(force_insert=True)
    return event


@dataclass
class BrokenLink:
    sequence: int
    reason: str


def verify_chain(batch_size: int = 5000) -> tuple[int, BrokenLink | None]:
    """Walk the whole chain in order. Returns (events checked, first broken link or None)."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for event in _iter_events(batch_size):
        if event.sequence != expected_seq:
            return checked, BrokenLink(expected_seq, f"缺少第 {expected_seq} 条记录（下一条为第 {event.sequence} 条）")
        if event.prev_hash != expected_prev:
            return checked, BrokenLink(event.sequence, "前一条哈希与链上不符：此前的记录被删除或修改")
        if _event_hash(event) != event.hash:
            return checked, BrokenLink(event.sequence, "内容与其哈希不符：此条记录被修改")
        expected_prev = event.hash
        expected_seq += 1
        checked += 1
    return checked, None


def _iter_events(batch_size: int) -> Iterator[AuditEvent]:
    last_seq = 0
    while True:
        batch = list(AuditEvent.objects.filter(sequence__gt=last_seq).order_by("sequence")[:batch_size])
        if not batch:
            return
        yield from batch
        last_seq = batch[-1].sequence


def history(obj: models.Model) -> models.QuerySet[AuditEvent]:
    """The events about one object, oldest first (a timeline)."""
    return AuditEvent.objects.filter(object_type=obj._meta.label, object_id=str(obj.pk)).order_by("sequence")
