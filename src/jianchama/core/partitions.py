"""Append-only tables partitioned by month on PostgreSQL (issue 16, "Data that keeps growing").

A partitioned table is a parent with one child table per calendar month of its time column (UTC months),
named `<table>_pYYYYMM`, and a DEFAULT child for a row outside every month that exists (none should land
there: `ensure` keeps `PARTITION_MONTHS_AHEAD` months ready, daily on the job queue). Queries are unchanged:
PostgreSQL reads the parent and skips the months a filter on the time column excludes. Old months leave the
database whole (`archive`): the child is copied to a gzip CSV file, detached and dropped, which takes no
time and leaves no bloat, instead of a DELETE over millions of rows.

PostgreSQL's rule for partitioned tables is that every unique index includes the partition column, so a
partitioned table's primary key is (id, time column) and it keeps no other unique constraint: the audit log's
sequence numbers are unique because appenders hold one lock (audit.record) and `verify_chain` finds a gap or
a repeat; no foreign key may point at a partitioned table, which is why only tables nothing refers to are
partitioned. SQLite has no partitions: there every function here does nothing and says so.
"""

from __future__ import annotations

import csv
import datetime
import gzip
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

__all__ = [
    "PARTITIONED",
    "Archived",
    "Partition",
    "archive",
    "ensure",
    "is_partitioned",
    "partition_table",
    "partitions",
]

# table → its time column. Only tables no foreign key points at (see the module's docstring).
PARTITIONED: dict[str, str] = {
    "core_auditevent": "occurred_at",
    "integrations_webhookdelivery": "created_at",
}

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Partition:
    name: str
    start: datetime.date | None  # None: the DEFAULT partition
    end: datetime.date | None
    rows: int  # PostgreSQL's estimate (reltuples), 0 before the first ANALYZE


@dataclass(frozen=True)
class Archived:
    partition: str
    path: Path
    rows: int
    sha256: str
    start: datetime.date
    end: datetime.date


def _month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def _next_month(day: datetime.date) -> datetime.date:
    return (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


def _quoted(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a table name: {name!r}")
    return f'"{name}"'


def _child(table: str, month: datetime.date) -> str:
    return f"{table}_p{month:%Y%m}"


def _bound(day: datetime.date) -> str:
    return f"'{day.isoformat()} 00:00:00+00'"


def is_partitioned(table: str) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relname = %s AND pg_table_is_visible(c.oid)",
            [table],
        )
        return cursor.fetchone() is not None


def partitions(table: str) -> list[Partition]:
    """The table's children, oldest month first, the DEFAULT partition last."""
    if not is_partitioned(table):
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), greatest(c.reltuples, 0)::bigint
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
            WHERE p.relname = %s AND pg_table_is_visible(p.oid)
            """,
            [table],
        )
        found = []
        for name, bound, rows in cursor.fetchall():
            if bound == "DEFAULT":
                found.append(Partition(name, None, None, rows))
                continue
            start, end = re.findall(r"'(\d{4}-\d{2}-\d{2})", bound)
            found.append(
                Partition(name, datetime.date.fromisoformat(start), datetime.date.fromisoformat(end), rows)
            )
    return sorted(found, key=lambda p: (p.start is None, p.start or datetime.date.min))


def _add_month(cursor, table: str, column: str, month: datetime.date) -> str:
    """Make `month`'s child. Rows of that month already in the DEFAULT child move into it, in the same
    transaction, so a month created late loses nothing (attaching checks the default holds none of it)."""
    child, end = _child(table, month), _next_month(month)
    default = f"{table}_default"
    cursor.execute(
        f"CREATE TABLE {_quoted(child)} (LIKE {_quoted(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    )
    cursor.execute(
        f"WITH moved AS (DELETE FROM {_quoted(default)} WHERE {column} >= {_bound(month)} "
        f"AND {column} < {_bound(end)} RETURNING *) INSERT INTO {_quoted(child)} SELECT * FROM moved"
    )
    cursor.execute(
        f"ALTER TABLE {_quoted(table)} ATTACH PARTITION {_quoted(child)} "
        f"FOR VALUES FROM ({_bound(month)}) TO ({_bound(end)})"
    )
    return child


def ensure(months_ahead: int | None = None, today: datetime.date | None = None) -> list[str]:
    """Create the children of this month and the next `months_ahead` months where missing; returns the
    names created. Daily on the job queue; harmless to run again."""
    if connection.vendor != "postgresql":
        return []
    months_ahead = settings.PARTITION_MONTHS_AHEAD if months_ahead is None else months_ahead
    today = today or timezone.now().astimezone(datetime.UTC).date()
    created = []
    for table, column in PARTITIONED.items():
        if not is_partitioned(table):
            continue
        existing = {p.start for p in partitions(table)}
        month = _month_start(today)
        with transaction.atomic(), connection.cursor() as cursor:
            for _ in range(months_ahead + 1):
                if month not in existing:
                    created.append(_add_month(cursor, table, column, month))
                month = _next_month(month)
    return created


def partition_table(schema_editor, table: str, column: str, months_ahead: int = 3) -> None:
    """Migration step: turn `table` into a table partitioned by month of `column`, keeping every row, the
    columns, the identity sequence's position, the indexes that are not unique and the foreign keys out of
    it. Its primary key becomes (id, column). Nothing happens on SQLite."""
    if schema_editor.connection.vendor != "postgresql":
        return
    old = f"{table}_unpartitioned"
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {_quoted(table)} RENAME TO {_quoted(old)}")
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype IN ('p', 'u'))",
            [old, old],
        )
        indexes = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('f', 'c')",
            [old],
        )
        constraints = cursor.fetchall()
        cursor.execute(f"SELECT min({column}), coalesce(max(id), 0) FROM {_quoted(old)}")
        first, last_id = cursor.fetchone()
        # Names of indexes and constraints are per schema: the old table's are freed for the new one.
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s",
            [old],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f"ALTER INDEX {_quoted(name)} RENAME TO {_quoted(name[:58] + '_old')}")
        for name, _definition in constraints:
            cursor.execute(
                f"ALTER TABLE {_quoted(old)} RENAME CONSTRAINT {_quoted(name)} TO {_quoted(name[:58] + '_old')}"
            )
        cursor.execute(
            f"CREATE TABLE {_quoted(table)} (LIKE {_quoted(old)} INCLUDING DEFAULTS INCLUDING IDENTITY "
            f"INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE ({column})"
        )
        cursor.execute(f"ALTER TABLE {_quoted(table)} ADD PRIMARY KEY (id, {column})")
        cursor.execute(f"ALTER TABLE {_quoted(table)} ALTER COLUMN id RESTART WITH {last_id + 1}")
        cursor.execute(f"CREATE TABLE {_quoted(table + '_default')} PARTITION OF {_quoted(table)} DEFAULT")
        today = timezone.now().astimezone(datetime.UTC).date()
        month = _month_start(first.astimezone(datetime.UTC).date() if first else today)
        stop = _month_start(today)
        for _ in range(months_ahead):
            stop = _next_month(stop)
        while month <= stop:
            _add_month(cursor, table, column, month)
            month = _next_month(month)
        cursor.execute(f"INSERT INTO {_quoted(table)} SELECT * FROM {_quoted(old)}")
        for definition in indexes:
            definition = definition.replace(f"ON public.{old} ", f"ON public.{table} ")
            definition = definition.replace(f"ON {old} ", f"ON {table} ")
            cursor.execute(definition)
        for name, definition in constraints:
            cursor.execute(f"ALTER TABLE {_quoted(table)} ADD CONSTRAINT {_quoted(name)} {definition}")
        cursor.execute(f"DROP TABLE {_quoted(old)}")


def archive(
    table: str,
    before: datetime.date,
    directory: Path | None = None,
    on_archive: Callable[[Any, Archived], None] | None = None,
) -> list[Archived]:
    """Move every month of `table` that ends on or before `before` out of the database, oldest first: its
    rows, ordered by id, into `<directory>/<child>.csv.gz` (a header line, then CSV), then the child is
    detached and dropped. Each month in a transaction of its own: `on_archive(cursor, archived)` runs in it
    before the drop (a record of the archive; raising keeps the month and deletes its file)."""
    if table not in PARTITIONED or not is_partitioned(table):
        return []
    directory = Path(directory or settings.PARTITION_ARCHIVE_DIR)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    done = []
    for part in partitions(table):
        if part.start is None or part.end > before:
            continue
        path = directory / f"{part.name}.csv.gz"
        digest, rows = hashlib.sha256(), 0
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {_quoted(part.name)} IN ACCESS EXCLUSIVE MODE")
                cursor.execute(f"SELECT * FROM {_quoted(part.name)} ORDER BY id")
                columns = [c.name for c in cursor.description]
                with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
                    writer = csv.writer(handle)
                    writer.writerow(columns)
                    while batch := cursor.fetchmany(5000):
                        writer.writerows(batch)
                        rows += len(batch)
                with path.open("rb") as handle:
                    while chunk := handle.read(1 << 20):
                        digest.update(chunk)
                archived = Archived(part.name, path, rows, digest.hexdigest(), part.start, part.end)
                if on_archive is not None:
                    on_archive(cursor, archived)
                cursor.execute(f"ALTER TABLE {_quoted(table)} DETACH PARTITION {_quoted(part.name)}")
                cursor.execute(f"DROP TABLE {_quoted(part.name)}")
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        done.append(archived)
    return done
