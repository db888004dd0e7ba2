"""The scan log written in batches (issue 16): the scans that change nothing and show no link to their own row
are appended to a Redis stream by the scan page and written to the `Scan` table by a flusher, a thousand rows a
statement, instead of one INSERT each inside the request.

Which scans: a genuine code that starts nothing (anyone's scan but the enterprise's first, which starts the
visit in a transaction of its own) and a code not yet valid. Every other outcome is written at once, as before:
the page of a failed code links to its report (举报) and the page of a completed one to "scan again", both
signed with the scan's row id.

At least once, never twice: each scan carries a random key of its own, made by the page (`Scan.log_id`,
unique). The flusher reads the stream in a consumer group, writes the rows in one transaction, and only then
acknowledges and deletes the entries. A flusher that dies after reading leaves its entries pending in the
group; the next flush claims entries pending longer than `SCAN_LOG_CLAIM_SECONDS` and writes them again, and
the rows already written are found by their key and not added again. A scan whose entry cannot be appended
(Redis unreachable) is written at once instead, with its key: none is lost on the page's side, and none is
written twice should the entry have reached the stream after all. Redis must keep what it acknowledged across
its own restarts for this to hold (appendonly, and a `maxmemory-policy` that never evicts keys without an
expiry: README, Production).

Who flushes: `manage.py flush_scan_log` (every second, for ever: a service beside the task worker), and the task
worker's schedule `inspections-flush-scan-log` every minute, which writes whatever waits if that service is not
running. Without Redis (`SCAN_LOG_STREAM` off: development, tests) every scan is written at once.

The `scan.recorded` webhook event of a batched scan is emitted when its row is written, once."""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import secrets
import socket
import time

from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError, IntegrityError, close_old_connections, connection, transaction
from redis.exceptions import ResponseError

from jianchama.core.cache import UNREACHABLE, call, log_unreachable, redis_client

from .models import Scan

logger = logging.getLogger(__name__)

STREAM_KEY = "scan-log"
GROUP = "scan-table"
BATCH = 1000
# The PostgreSQL advisory lock a batch's transaction holds shared (`write`) and a reader of the highest scan id
# takes exclusively for a moment (`no_batch_in_flight`): ids are drawn when a batch is inserted and become
# visible only when it commits, so without it a reader could pass over a batch committed after a higher id.
BATCH_LOCK = 0x5CA7_106
# Entries of the stream a page reads to show the scans not yet written (`recent_scans`): more than a second of
# the page at its goal (1,000 scans/s), which is as long as an entry waits while the flusher service runs.
PEEK = 2000


def enabled() -> bool:
    return settings.SCAN_LOG_STREAM and _client() is not None


def _client():
    return redis_client(caches["default"])


def _stream() -> str:
    return caches["default"].make_key(STREAM_KEY)


def append(
    *,
    key: str,
    code_id: int,
    scanned_at: datetime.datetime,
    outcome: str,
    enterprise_id: int | None,
    client_hash: str,
) -> bool:
    """Append one scan to the stream; False (and nothing appended) when the stream is off or Redis cannot be
    reached, and the caller writes the row itself, with the same `key` (`Scan.log_id`): should the entry have
    reached the stream after all, the flusher finds the row and does not add it twice."""
    if not settings.SCAN_LOG_STREAM or _client() is None:
        return False
    # One field, the scan's values joined by "|" (none of them can hold one): the flusher parses one string per
    # scan instead of six pairs.
    entry = f"{key}|{code_id}|{scanned_at.isoformat()}|{outcome}|{enterprise_id or ''}|{client_hash}"
    try:
        call("XADD", _stream(), "*", "s", entry)
    except UNREACHABLE as error:
        log_unreachable("xadd", error)
        return False
    return True


def new_key() -> str:
    """A scan's idempotency key (`Scan.log_id`)."""
    return secrets.token_hex(10)


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def flush(
    *,
    consumer: str | None = None,
    count: int = BATCH,
    block_ms: int | None = None,
    claim_idle_ms: int | None = None,
) -> int:
    """Write one batch of waiting scans to the table; the number of entries handled (0: none waited). Entries
    another flusher read and never acknowledged are taken over once they have waited `claim_idle_ms`
    (default SCAN_LOG_CLAIM_SECONDS); `block_ms`: wait that long for new entries when none wait."""
    client = _client()
    if client is None:
        return 0
    consumer = consumer or consumer_name()
    stream = _stream()
    if claim_idle_ms is None:
        claim_idle_ms = settings.SCAN_LOG_CLAIM_SECONDS * 1000
    _ensure_group(client, stream)
    reply = client.xautoclaim(
        stream, GROUP, consumer, min_idle_time=claim_idle_ms, start_id="0-0", count=count
    )
    entries = [(entry_id, fields) for entry_id, fields in reply[1] if fields]
    if not entries:
        read = client.xreadgroup(GROUP, consumer, {stream: ">"}, count=count, block=block_ms)
        for _name, items in read or []:
            entries.extend((entry_id, fields) for entry_id, fields in items if fields)
    if not entries:
        return 0
    write(entries)
    ids = [entry_id for entry_id, _ in entries]
    pipe = client.pipeline(transaction=True)
    pipe.xack(stream, GROUP, *ids)
    pipe.xdel(stream, *ids)
    pipe.execute()
    return len(entries)


def _ensure_group(client, stream: str) -> None:
    # From the stream's first entry ("0"), so that entries appended before the group existed are not skipped.
    try:
        client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except ResponseError as error:
        if "BUSYGROUP" not in str(error):  # else the group exists
            raise


def write(entries: list[tuple]) -> int:
    """Write the scans of these stream entries, skipping those already written (a replayed batch); the number
    of rows added. One transaction: the rows and their webhook events are written together or not at all."""
    scans = []
    for entry_id, fields in entries:
        try:
            scans.append(_values(fields))
        except (ValueError, TypeError):
            logger.error("扫码日志条目无法解析，已跳过：%s %r", entry_id, fields)
    with transaction.atomic():
        rows = None
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [BATCH_LOCK])
            try:
                with transaction.atomic():
                    rows = _insert_postgresql(scans)
            except IntegrityError:  # a row the table refuses: row by row below, the others still written
                rows = None
        if rows is None:
            rows = _insert(scans)
        _emit_events(rows)
    return len(rows)


_COLUMNS = ("log_id", "code_id", "scanned_at", "outcome", "enterprise_id", "client_hash")


def _values(fields: dict) -> tuple:
    entry = fields.get(b"s", fields.get("s", b""))
    key, code_id, scanned_at, outcome, enterprise_id, client_hash = (
        entry.decode() if isinstance(entry, bytes) else entry
    ).split("|")
    return (
        key,
        int(code_id),
        datetime.datetime.fromisoformat(scanned_at),
        outcome,
        int(enterprise_id) if enterprise_id else None,
        client_hash,
    )


def _insert_postgresql(scans: list[tuple]) -> list[tuple]:
    """One INSERT … SELECT FROM unnest(arrays) per batch: the rows already there (a replay) are skipped by the
    unique key and the statement returns the keys it added. Django's bulk_create compiles every value on its
    own, which cost more than the flusher's whole round trip."""
    meta = Scan._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in _COLUMNS)
    types = ("varchar", "bigint", "timestamptz", "varchar", "bigint", "varchar")
    arrays = ", ".join(f"%s::{kind}[]" for kind in types)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT DO NOTHING RETURNING {quote(meta.get_field('log_id').column)}"
    )
    written: set[str] = set()
    for start in range(0, len(scans), BATCH):
        chunk = scans[start : start + BATCH]
        with connection.cursor() as cursor:
            cursor.execute(sql, [list(column) for column in zip(*chunk, strict=True)])
            written.update(row[0] for row in cursor.fetchall())
    return [values for values in scans if values[0] in written]


def _insert(scans: list[tuple]) -> list[tuple]:
    done = set(
        Scan.objects.filter(log_id__in=[values[0] for values in scans]).values_list("log_id", flat=True)
    )
    rows = [_scan(values) for values in scans if values[0] not in done]
    try:
        with transaction.atomic():
            Scan.objects.bulk_create(rows, batch_size=BATCH, ignore_conflicts=True)
    except IntegrityError:
        rows = _write_one_by_one(rows)
    written = {row.log_id for row in rows}
    return [values for values in scans if values[0] in written]


def _scan(values: tuple) -> Scan:
    return Scan(**dict(zip(_COLUMNS, values, strict=True)))


def _write_one_by_one(rows: list[Scan]) -> list[Scan]:
    """A row the table refuses (a code or enterprise that no longer exists) must not hold back the others:
    it is logged, with everything it said, and left out."""
    written = []
    for row in rows:
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except IntegrityError as error:
            logger.error(
                "扫码记录无法写入，已跳过：%s（code=%s outcome=%s scanned_at=%s enterprise=%s log_id=%s）",
                error,
                row.code_id,
                row.outcome,
                row.scanned_at,
                row.enterprise_id,
                row.log_id,
            )
        else:
            written.append(row)
    return written


def _emit_events(written: list[tuple]) -> None:
    """The `scan.recorded` event of each scan written (`_COLUMNS` values), when anyone listens."""
    from . import workflow
    from .models import InspectionCode

    listeners = workflow.listening("scan.recorded") if written else []
    if not listeners:
        return
    codes = InspectionCode.objects.select_related("task").in_bulk({values[1] for values in written})
    for _key, code_id, scanned_at, outcome, *_ in written:
        code = codes.get(code_id)
        if code is None:
            continue
        data = {"scanned_at": scanned_at.isoformat(), "outcome": outcome}
        for listener in listeners:
            listener("scan.recorded", code.task, data)


@contextlib.contextmanager
def no_batch_in_flight():
    """While this holds, no batch is being written: the batches under way have committed, and those to come
    draw ids above every id drawn before. A reader that takes the highest `Scan` id inside it (the statistics'
    watermark) passes over no batched scan. (A scan written at once draws its id and commits in one statement.)"""
    if connection.vendor != "postgresql":  # SQLite writes one transaction at a time
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [BATCH_LOCK])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [BATCH_LOCK])


def recent_scans(code_id: int, limit: int) -> list[Scan]:
    """The code's `limit` latest scans, newest first: its rows, and its scans still waiting in the stream
    (unsaved `Scan`s, `log_id` set), so that a page looked at right after a scan shows it (the task's page). Only
    the stream's newest PEEK entries are looked at: should the flusher have stopped, older ones show once written."""
    rows = list(Scan.objects.filter(code_id=code_id).order_by("-scanned_at", "-pk")[:limit])
    client = _client() if settings.SCAN_LOG_STREAM else None
    if client is None:
        return rows
    try:
        entries = client.xrevrange(_stream(), count=PEEK)
    except UNREACHABLE as error:
        log_unreachable("xrevrange", error)
        return rows
    written = {row.log_id for row in rows if row.log_id}
    waiting_scans = []
    for _entry_id, fields in entries:
        try:
            values = _values(fields)
        except (ValueError, TypeError):
            continue
        # Written already but not yet acknowledged: its row may be among `rows`, or older than them all.
        if values[1] == code_id and values[0] not in written:
            waiting_scans.append(_scan(values))
    if not waiting_scans:
        return rows
    keys = [scan.log_id for scan in waiting_scans]
    written = set(Scan.objects.filter(log_id__in=keys).values_list("log_id", flat=True))
    waiting_scans = [scan for scan in waiting_scans if scan.log_id not in written]
    return sorted(rows + waiting_scans, key=lambda scan: scan.scanned_at, reverse=True)[:limit]


def waiting() -> int:
    """Entries not yet written (appended and not yet acknowledged); 0 without the stream."""
    client = _client()
    if client is None:
        return 0
    try:
        return client.xlen(_stream())
    except UNREACHABLE:
        return 0


def flush_for(seconds: float = 50.0, *, block_ms: int = 1000, stop: list | None = None) -> int:
    """Flush for `seconds` (the flusher service): a batch as soon as an entry waits, then at most one a second
    (`SCAN_LOG_FLUSH_SECONDS`) unless a full batch waits, so that a busy page costs the database one INSERT
    of up to a thousand rows a second. Returns the entries handled; stops early once `stop` is not empty."""
    if not settings.SCAN_LOG_STREAM or _client() is None:
        return 0
    deadline = time.monotonic() + seconds
    consumer = consumer_name()
    handled = 0
    while time.monotonic() < deadline and not stop:
        started = time.monotonic()
        _close_old_connections()
        try:
            done = flush(consumer=consumer, block_ms=block_ms)
        except UNREACHABLE as error:
            log_unreachable("flush", error)
            time.sleep(1)
            continue
        except DatabaseError:
            # The entries stay pending and are taken over after SCAN_LOG_CLAIM_SECONDS.
            logger.exception("扫码记录写入数据库失败，稍后重试")
            _close_old_connections()
            time.sleep(1)
            continue
        handled += done
        if 0 < done < BATCH:
            time.sleep(max(0.0, settings.SCAN_LOG_FLUSH_SECONDS - (time.monotonic() - started)))
    return handled


def _close_old_connections() -> None:
    """As Django does between requests: a long-running flusher drops a broken or expired connection. Never
    inside a transaction (a test's), which that would end."""
    if not connection.in_atomic_block:
        close_old_connections()


def flush_pending() -> int:
    """Write whatever waits now and return (the minute schedule): the safety net for when the flusher service
    does not run. Bounded, so that a backlog cannot hold a task worker past its timeout."""
    if not settings.SCAN_LOG_STREAM or _client() is None:
        return 0
    deadline = time.monotonic() + min(50, max(settings.Q_CLUSTER.get("timeout", 60) - 10, 5))
    consumer = consumer_name()
    handled = 0
    while time.monotonic() < deadline:
        done = flush(consumer=consumer)
        handled += done
        if not done:
            break
    return handled
