"""Issue 16, "Data that keeps growing": the audit log is partitioned by month on PostgreSQL, months ahead are
made by a daily job, old months leave the database as files with a retention/archive command, and "the audit
chain verifies across partitions" — including after months were archived."""

from __future__ import annotations

import csv
import datetime
import gzip
import hashlib
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django_q.models import Schedule

from jianchama.core import audit, jobs, partitions
from jianchama.core.models import AuditArchive, AuditEvent

pytestmark = pytest.mark.django_db

postgresql_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="partitions are PostgreSQL's (SQLite has none)"
)

UTC = datetime.UTC


def record_at(monkeypatch, when: datetime.datetime, n: int, tag: str) -> None:
    """n events as if recorded at `when` (the time is part of each event's hash, so it is set as they are
    recorded, not changed afterwards)."""
    monkeypatch.setattr(audit.timezone, "now", lambda: when)
    for i in range(n):
        audit.record(actor="系统", action="test.change", object_type="test.Thing", object_id=f"{tag}{i}")
    monkeypatch.undo()


def month_of_each_row() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text, count(*) FROM core_auditevent GROUP BY 1")
        return dict(cursor.fetchall())


@postgresql_only
def test_the_audit_log_is_partitioned_by_month_with_months_ahead_made_daily():
    assert partitions.is_partitioned("core_auditevent")
    today = datetime.datetime.now(UTC).date()
    months = [p.start for p in partitions.partitions("core_auditevent") if p.start]
    assert today.replace(day=1) in months and len(months) >= 4  # this month and three ahead
    assert partitions.partitions("core_auditevent")[-1].name == "core_auditevent_default"
    assert Schedule.objects.get(name="core-ensure-partitions").func == "jianchama.core.jobs.ensure_partitions"
    assert jobs.ensure_partitions() == []  # nothing missing: harmless to run again
    later = today.replace(day=1) + datetime.timedelta(days=32 * 6)
    made = [name for name in partitions.ensure(months_ahead=1, today=later) if name.startswith("core_")]
    assert made == [
        f"core_auditevent_p{later:%Y%m}",
        f"core_auditevent_p{(later + datetime.timedelta(days=31)):%Y%m}",
    ]


@postgresql_only
def test_rows_land_in_their_month_and_the_chain_verifies_across_partitions(monkeypatch):
    # Rows of months that have no partition yet wait in the DEFAULT one...
    record_at(monkeypatch, datetime.datetime(2026, 8, 20, 9, tzinfo=UTC), 3, "aug")
    record_at(monkeypatch, datetime.datetime(2026, 9, 5, 9, tzinfo=UTC), 4, "sep")
    record_at(monkeypatch, datetime.datetime(2026, 10, 31, 23, 59, tzinfo=UTC), 2, "oct")
    assert month_of_each_row() == {"core_auditevent_default": 9}
    # ...and move into their month when it is made.
    made = partitions.ensure(months_ahead=2, today=datetime.date(2026, 8, 1))
    made = [name for name in made if name.startswith("core_")]
    assert made == ["core_auditevent_p202608", "core_auditevent_p202609", "core_auditevent_p202610"]
    record(3)
    counts = month_of_each_row()
    assert counts["core_auditevent_p202608"] == 3 and counts["core_auditevent_p202609"] == 4
    assert counts["core_auditevent_p202610"] == 2 and "core_auditevent_default" not in counts
    assert audit.verify_chain() == (12, None)
    # A query on the time column reads only the months it names.
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN SELECT * FROM core_auditevent WHERE occurred_at >= '2026-09-01' AND occurred_at < '2026-10-01'"
        )
        plan = " ".join(row[0] for row in cursor.fetchall())
    assert "core_auditevent_p202609" in plan and "p202608" not in plan and "p202610" not in plan


def record(n: int) -> None:
    for i in range(n):
        audit.record(actor="系统", action="test.now", object_type="test.Thing", object_id=str(i))


@postgresql_only
def test_archived_months_leave_the_database_as_files_and_the_rest_still_verifies(monkeypatch, tmp_path):
    record_at(monkeypatch, datetime.datetime(2026, 8, 20, 9, tzinfo=UTC), 3, "aug")
    record_at(monkeypatch, datetime.datetime(2026, 9, 5, 9, tzinfo=UTC), 4, "sep")
    record_at(monkeypatch, datetime.datetime(2026, 10, 2, 9, tzinfo=UTC), 2, "oct")
    partitions.ensure(months_ahead=0, today=datetime.date(2026, 8, 1))
    partitions.ensure(months_ahead=0, today=datetime.date(2026, 9, 1))
    partitions.ensure(months_ahead=0, today=datetime.date(2026, 10, 1))
    call_command("audit_checkpoint_key", "--if-missing", stdout=StringIO())
    call_command("audit_checkpoint", stdout=StringIO())  # the head (9) signed before archiving
    ninth = AuditEvent.objects.get(sequence=9).hash

    out = StringIO()
    call_command("archive_audit", "--before", "2026-10-01", "--to", str(tmp_path), stdout=out)
    assert "已归档 2026年8月：第 1–3 条，3 条" in out.getvalue()
    assert "已归档 2026年9月：第 4–7 条，4 条" in out.getvalue()
    assert sorted(AuditEvent.objects.values_list("sequence", flat=True)) == [
        8,
        9,
        10,
        11,
    ]  # + 2 archive events
    assert not any(
        p.start and p.start < datetime.date(2026, 10, 1) for p in partitions.partitions("core_auditevent")
    )

    # The files hold the rows, in order, with the hash the chain had; their SHA-256 is recorded.
    august, september = AuditArchive.objects.order_by("first_sequence")
    with gzip.open(tmp_path / "core_auditevent_p202609.csv.gz", "rt", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["sequence"]) for r in rows] == [4, 5, 6, 7]
    assert rows[-1]["hash"] == september.last_hash and rows[0]["object_id"] == "sep0"
    assert september.sha256 == hashlib.sha256((tmp_path / september.file_name).read_bytes()).hexdigest()
    assert (
        audit.archive_figures(september)
        == AuditEvent.objects.get(action="audit.archived", after__first_sequence=4).after
    )

    # The chain verifies from the last archived hash, and the checkpoint taken before still holds.
    out, err = StringIO(), StringIO()
    call_command("verify_audit", stdout=out, stderr=err)
    assert "已校验 4 条审计记录" in out.getvalue() and "审计日志完整" in out.getvalue()
    assert AuditEvent.objects.get(sequence=9).hash == ninth

    # An archive row made up or changed afterwards is caught.
    AuditArchive.objects.filter(pk=september.pk).update(last_hash="f" * 64)
    _count, broken = audit.verify_chain()
    assert broken is not None and broken.sequence == 4 and "归档" in broken.reason
    AuditArchive.objects.filter(pk=september.pk).update(last_hash=september.last_hash)
    AuditArchive.objects.filter(pk=august.pk).delete()
    assert "归档记录不连续" in audit.verify_chain()[1].reason


@postgresql_only
def test_a_month_that_would_leave_a_gap_at_the_chain_s_start_is_not_archived(monkeypatch, tmp_path):
    record_at(monkeypatch, datetime.datetime(2026, 9, 5, 9, tzinfo=UTC), 2, "sep")
    # An event dated earlier than its predecessor (a clock set back): September would not start the chain.
    record_at(monkeypatch, datetime.datetime(2026, 8, 5, 9, tzinfo=UTC), 1, "aug")
    partitions.ensure(months_ahead=1, today=datetime.date(2026, 8, 1))
    with pytest.raises(CommandError, match="不紧接已归档的记录"):
        call_command("archive_audit", "--before", "2026-10-01", "--to", str(tmp_path), stdout=StringIO())
    assert AuditEvent.objects.count() == 3 and not AuditArchive.objects.exists()
    assert list(tmp_path.iterdir()) == []  # the file of the month kept is deleted
    assert audit.verify_chain() == (3, None)


def test_the_archive_command_says_what_is_wrong():
    with pytest.raises(CommandError, match="日期“2026-13-01”无效"):
        call_command("archive_audit", "--before", "2026-13-01", stdout=StringIO())
    if connection.vendor != "postgresql":
        with pytest.raises(CommandError, match="仅 PostgreSQL 分区"):
            call_command("archive_audit", "--before", "2026-01-01", stdout=StringIO())
        assert partitions.ensure() == [] and partitions.partitions("core_auditevent") == []


@postgresql_only
def test_webhook_deliveries_are_partitioned_and_their_old_months_archived(tmp_path):
    """The webhook delivery log, which nothing refers to, is partitioned the same way; `archive_months` moves
    its old months to files (no chain to record them in)."""
    from jianchama.integrations.models import Webhook, WebhookDelivery
    from tests.api.conftest import build_body

    w = build_body("甲", 31011600100)
    hook = Webhook.objects.create(
        client=w.client_obj, url="https://body.example/hook", events=["scan.recorded"]
    )
    old = [
        WebhookDelivery.objects.create(webhook=hook, event="scan.recorded", payload={"n": n})
        for n in range(3)
    ]
    WebhookDelivery.objects.filter(pk__in=[d.pk for d in old]).update(
        created_at=datetime.datetime(
            2026, 9, 10, 8, tzinfo=UTC
        )  # into the default partition, until September's is made
    )
    recent = WebhookDelivery.objects.create(webhook=hook, event="scan.recorded", payload={"n": 9})
    partitions.ensure(months_ahead=0, today=datetime.date(2026, 9, 1))
    assert partitions.is_partitioned("integrations_webhookdelivery")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text, count(*) FROM integrations_webhookdelivery GROUP BY 1"
        )
        counts = dict(cursor.fetchall())
    assert counts["integrations_webhookdelivery_p202609"] == 3

    out = StringIO()
    call_command(
        "archive_months",
        "--table",
        "integrations_webhookdelivery",
        "--before",
        "2026-10-01",
        "--to",
        str(tmp_path),
        stdout=out,
    )
    assert "已归档 2026年9月：3 条" in out.getvalue()
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [recent.pk]
    with gzip.open(
        tmp_path / "integrations_webhookdelivery_p202609.csv.gz", "rt", encoding="utf-8"
    ) as handle:
        assert sorted(int(r["id"]) for r in csv.DictReader(handle)) == sorted(d.pk for d in old)
    hook.delete()  # the delivery log goes with its webhook, partitioned or not
    assert not WebhookDelivery.objects.exists()


def test_the_months_command_refuses_the_audit_log_and_unknown_tables():
    with pytest.raises(CommandError, match="archive_audit"):
        call_command(
            "archive_months", "--table", "core_auditevent", "--before", "2026-01-01", stdout=StringIO()
        )
    with pytest.raises(CommandError, match="不是按月分区的表"):
        call_command("archive_months", "--table", "core_user", "--before", "2026-01-01", stdout=StringIO())
