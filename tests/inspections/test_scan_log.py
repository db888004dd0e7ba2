"""The scan log written in batches (issue 16, inspections/scan_log.py), against the real Redis: the scans that
change nothing go through a stream and a flusher writes them; every scan made is recorded once, whatever dies
on the way (a flusher before acknowledging, Redis when appending), and the figures that count scans (the data
rule code_not_scanned, the statistics' scan rate) see them once flushed."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone

from jianchama.core import cache as core_cache
from jianchama.inspections import jobs, scan_log, services, signing
from jianchama.inspections.models import Finding, InspectionRecord, Scan, Task
from jianchama.statistics import build
from jianchama.statistics.models import DailyFact
from jianchama.supervision.rules import RULES, Context
from tests.inspections.conftest import build_scenario

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


@pytest.fixture
def s(db, redis_cache):
    return build_scenario()


def scan(client, task: Task, **kwargs) -> str:
    response = client.get("/C/" + signing.issue_token(task.code.public_id, **kwargs))
    assert response.status_code == 200
    return response.content.decode()


def rows() -> list[tuple]:
    return list(Scan.objects.order_by("scanned_at", "pk").values_list("code_id", "outcome", "enterprise_id"))


def test_scans_through_the_stream_are_the_scans_made(client, s):
    task = s.notified()
    later = s.notified(window_start=timezone.localdate() + 3 * DAY, window_end=timezone.localdate() + 9 * DAY)
    scan(client, task)
    scan(client, task)
    scan(client, later)  # not yet valid: no link on its page, so through the stream too
    scan(
        client, task, now=timezone.now() - datetime.timedelta(minutes=10)
    )  # stale: at once, for its report link
    client.force_login(s.contact)
    scan(client, task)  # the enterprise's first scan starts the visit: at once, in its transaction
    scan(client, task)  # its second starts nothing: through the stream
    assert [outcome for _, outcome, _ in rows()] == [Scan.Outcome.STALE, Scan.Outcome.GENUINE]
    assert scan_log.waiting() == 4
    assert scan_log.flush() == 4
    assert scan_log.waiting() == 0
    code, later_code = task.code.pk, later.code.pk
    assert rows() == [
        (code, "genuine", None),
        (code, "genuine", None),
        (later_code, "not_yet_valid", None),
        (code, "stale", None),
        (code, "genuine", s.enterprise.pk),
        (code, "genuine", s.enterprise.pk),
    ]
    for row in Scan.objects.all():
        assert len(row.client_hash) == 64 and "127.0.0.1" not in row.client_hash
        assert abs(row.scanned_at - timezone.now()) < datetime.timedelta(minutes=1)
    batched = Scan.objects.exclude(log_id=None)
    assert batched.count() == 4 and len(set(batched.values_list("log_id", flat=True))) == 4


def test_a_flush_that_dies_before_acknowledging_and_runs_again_adds_no_row_twice(client, s, monkeypatch):
    task = s.notified()
    for _ in range(5):
        scan(client, task)

    def die(*args, **kwargs):
        raise RuntimeError("killed after the INSERT committed, before XACK")

    # The rows are written and committed, then the flusher dies: the entries stay pending in the group.
    monkeypatch.setattr("redis.client.Pipeline.xack", die)
    with pytest.raises(RuntimeError):
        scan_log.flush(consumer="worker-1")
    monkeypatch.undo()
    assert Scan.objects.count() == 5 and scan_log.waiting() == 5
    # Not yet taken over (a live flusher may still be acknowledging them); then, once they have waited long
    # enough, another flusher takes them, finds their rows and adds none.
    assert scan_log.flush(consumer="worker-2", claim_idle_ms=60_000) == 0
    assert scan_log.flush(consumer="worker-2", claim_idle_ms=0) == 5
    assert Scan.objects.count() == 5 and scan_log.waiting() == 0


def test_a_flusher_that_dies_before_writing_loses_nothing(client, s, monkeypatch):
    task = s.notified()
    for _ in range(3):
        scan(client, task)
    monkeypatch.setattr(scan_log, "write", lambda entries: (_ for _ in ()).throw(RuntimeError("killed")))
    with pytest.raises(RuntimeError):
        scan_log.flush(consumer="worker-1")
    monkeypatch.undo()
    assert Scan.objects.count() == 0
    assert scan_log.flush(consumer="worker-2", claim_idle_ms=0) == 3
    assert Scan.objects.count() == 3


def test_a_scan_whose_entry_cannot_be_appended_is_written_at_once_and_only_once(client, s, monkeypatch):
    task = s.notified()

    def unreachable(*args):
        raise ConnectionError("Redis went away")

    real_call = core_cache.call
    monkeypatch.setattr(scan_log, "call", unreachable)
    scan(client, task)
    assert Scan.objects.count() == 1 and scan_log.waiting() == 0
    written = Scan.objects.get()
    # Should the entry have reached Redis after all (the reply was lost), the flusher finds its row.
    monkeypatch.setattr(scan_log, "call", real_call)
    entry = (
        f"{written.log_id}|{written.code_id}|{written.scanned_at.isoformat()}|genuine||{written.client_hash}"
    )
    real_call("XADD", scan_log._stream(), "*", "s", entry)
    assert scan_log.flush(consumer="worker-1") == 1
    assert Scan.objects.count() == 1


def test_without_the_stream_every_scan_is_written_at_once(client, s, settings):
    settings.SCAN_LOG_STREAM = False
    task = s.notified()
    scan(client, task)
    assert Scan.objects.count() == 1 and Scan.objects.get().log_id is None
    assert scan_log.flush() == 0


def test_the_flush_command_and_the_minute_job_write_what_waits(client, s):
    task = s.notified()
    scan(client, task)
    call_command("flush_scan_log", "--once")
    assert Scan.objects.count() == 1
    scan(client, task)
    assert jobs.flush_scan_log() == 1
    assert Scan.objects.count() == 2
    scan(client, task)
    call_command("flush_scan_log", "--seconds", "0.5")
    assert Scan.objects.count() == 3


def test_the_data_rule_sees_a_batched_scan_once_it_is_written(client, s):
    task = s.notified()
    services.check_in(s.inspector_user, task=task)
    scan(client, task)  # the enterprise scans during the visit, not logged in: through the stream
    task = s.recorded(task)

    def not_scanned() -> set[str]:
        context = Context(today=timezone.localdate(), now=timezone.now())
        return {hit.key for hit in RULES["code_not_scanned"].find(context)}

    assert not_scanned() == {str(task.pk)}
    scan_log.flush()
    assert not_scanned() == set()


def test_the_statistics_count_a_batched_scan_once_it_is_written(client, s):
    task = s.notified()
    services.check_in(s.inspector_user, task=task)
    scan(client, task)
    services.record_result(
        s.inspector_user,
        task=Task.objects.get(pk=task.pk),
        outcome=InspectionRecord.Outcome.NO_PROBLEM,
        summary="检查情况",
        findings=[
            services.FindingInput(item=item, entry=entry, result=Finding.Result.COMPLIANT)
            for item in task.items.all()
            for entry in item.checklist
        ],
    )
    build.rebuild_all()

    def scanned() -> int:
        return sum(DailyFact.objects.filter(field_id=0).values_list("scanned", flat=True))

    assert scanned() == 0
    scan_log.flush()
    build.refresh()
    assert scanned() == 1


def test_a_webhook_hears_of_a_batched_scan_once_when_its_row_is_written(client, s):
    from jianchama.integrations import services as integrations
    from jianchama.integrations.models import Webhook, WebhookDelivery

    api_client, _key = integrations.register_client(
        s.head, name="金山执法系统", vendor="某软件公司", contact="李工 13800000000", scopes=["scans:read"]
    )
    Webhook.objects.create(client=api_client, url="https://body.example/hook", events=["scan.recorded"])
    task = s.notified()
    scan(client, task)
    assert not WebhookDelivery.objects.exists()  # not before its row is written
    entries = core_cache.redis_client().xrange(scan_log._stream())
    scan_log.flush()
    [delivery] = WebhookDelivery.objects.all()
    assert delivery.event == "scan.recorded" and delivery.payload["data"]["outcome"] == "genuine"
    assert scan_log.write(entries) == 0  # the same entries again (a replay): no row, no event
    assert WebhookDelivery.objects.count() == 1 and Scan.objects.count() == 1


def scans_shown(page: str) -> list[str]:
    """The task page's scan list, one line per scan as the inspector reads it."""
    import re

    section = page.split("<h2>扫码记录</h2>", 1)[1].split("</ul>", 1)[0]
    return [re.sub(r"<[^>]+>", "", item).strip() for item in section.split("<li>")[1:]]


def test_the_task_page_shows_a_scan_still_waiting_in_the_stream_once(s):
    from django.test import Client

    task = s.notified()
    services.check_in(s.inspector_user, task=task)
    phone = Client()
    scan(phone, task)  # the enterprise's on-site person, not logged in: through the stream
    inspector = Client()
    inspector.force_login(s.inspector_user)

    def shown() -> list[str]:
        return scans_shown(inspector.get(f"/tasks/{task.pk}/").content.decode())

    assert Scan.objects.count() == 0 and scan_log.waiting() == 1
    [line] = shown()
    assert line.endswith("· 真实有效")
    # Written but not yet acknowledged (a flusher that died after committing): the row and its entry, shown once.
    entries = core_cache.redis_client().xrange(scan_log._stream())
    scan_log.write(entries)
    assert Scan.objects.count() == 1 and scan_log.waiting() == 1
    assert shown() == [line]
    scan_log.flush(claim_idle_ms=0)
    assert scan_log.waiting() == 0 and shown() == [line]


def test_a_rule_run_writes_the_waiting_scans_before_it_reads_them(client, s):
    from jianchama.supervision.models import Finding as SupervisionFinding
    from jianchama.supervision.rules import run_rules

    task = s.notified()
    services.check_in(s.inspector_user, task=task)
    scan(client, task)  # the enterprise scans during the visit, not logged in: through the stream
    s.recorded(task)
    assert Scan.objects.count() == 0
    run_rules(s.supervisor, rules=["code_not_scanned"])
    assert not SupervisionFinding.objects.filter(rule="code_not_scanned").exists()
    assert Scan.objects.filter(outcome=Scan.Outcome.GENUINE).count() == 1 and scan_log.waiting() == 0


@pytest.mark.django_db(transaction=True)
def test_the_statistics_watermark_waits_for_a_batch_being_written(redis_cache, monkeypatch):
    """On PostgreSQL a batch draws its ids when inserted and shows them when it commits: the statistics read the
    highest scan id only once no batch is under way, else a batch committed after a higher id (an anonymous
    scan's, written at once) would never be counted."""
    import threading

    from django.db import connection, connections
    from django.test import Client

    if connection.vendor != "postgresql":
        pytest.skip("SQLite writes one transaction at a time")
    s = build_scenario()
    task = s.notified()
    for _ in range(3):
        scan(Client(), task)
    entries = core_cache.redis_client().xrange(scan_log._stream())
    inserted, release = threading.Event(), threading.Event()
    real_emit = scan_log._emit_events

    def emit_then_wait(rows):
        real_emit(rows)
        inserted.set()  # the rows are inserted, their transaction not yet committed
        release.wait(10)

    monkeypatch.setattr(scan_log, "_emit_events", emit_then_wait)
    heads = []

    def flusher():
        try:
            scan_log.write(entries)
        finally:
            connections.close_all()

    def reader():
        try:
            head = build._heads()[1]
            # What the refresh then reads up to that head: every batched scan below it.
            heads.append((head, Scan.objects.filter(pk__lte=head).count()))
        finally:
            connections.close_all()

    writing = threading.Thread(target=flusher)
    writing.start()
    assert inserted.wait(10)
    # An anonymous scan written at once meanwhile, with a higher id, committed.
    later = Scan.objects.create(scanned_at=timezone.now(), outcome=Scan.Outcome.FORGED, client_hash="x" * 64)
    reading = threading.Thread(target=reader)
    reading.start()
    reading.join(0.5)
    assert reading.is_alive()  # waits for the batch under way
    release.set()
    writing.join(10)
    reading.join(10)
    batched = list(Scan.objects.exclude(log_id=None).values_list("pk", flat=True))
    assert len(batched) == 3 and max(batched) < later.pk
    assert heads == [(later.pk, 4)]
