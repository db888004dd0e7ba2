"""Incremental runs of the data rules (F-30, issue 16): after changes made by the services (new visits, a
visit left without a result while the days pass, a task cancelled, a certificate changed), an incremental
run finds exactly the new findings a full run finds on the same data, while looking only at the changed
tasks."""

from __future__ import annotations

import datetime

import pytest
from django.db import transaction
from django.utils import timezone

from jianchama.inspections import services
from jianchama.inspections.models import Scan, Task
from jianchama.registry import services as registry_services
from jianchama.supervision.models import Finding, RuleRun
from jianchama.supervision.rules import RULES, run_rules
from tests.inspections.conftest import build_scenario

DAY = datetime.timedelta(days=1)


@pytest.fixture
def s(db):
    return build_scenario()


def scanned(task: Task) -> Task:
    Scan.objects.create(
        code=task.code, scanned_at=timezone.now(), outcome=Scan.Outcome.GENUINE, client_hash="h"
    )
    return task


class Rollback(Exception):
    pass


def new_findings(today: datetime.date, *, incremental: bool) -> tuple[set[tuple], RuleRun]:
    """The findings a run at `today` would add, the run undone afterwards (so the other kind of run sees
    the same data and the same findings before it)."""
    found: dict[str, object] = {}
    try:
        with transaction.atomic():
            run = run_rules("系统", today=today, incremental=incremental)
            found["findings"] = {
                (f.rule, f.key, f.body_id, f.period, f.description, f.task_id)
                for f in Finding.objects.filter(run=run)
            }
            found["run"] = run
            raise Rollback
    except Rollback:
        pass
    return found["findings"], found["run"]


def test_incremental_run_finds_what_a_full_run_finds_after_changes(s):
    today = timezone.localdate()
    scanned(s.recorded())  # clean
    unscanned = s.recorded()  # code never scanned: found by the first run
    assert run_rules("系统", today=today).new_findings >= 1
    assert Finding.objects.filter(rule="code_not_scanned", key=str(unscanned.pk)).exists()

    # A day's changes, all through the services.
    new_unscanned = s.recorded()  # a new visit whose code is never scanned
    unrecorded = s.in_progress()  # visited, result never recorded: late once the days pass
    cancelled = s.notified()
    services.cancel_task(s.head, task=cancelled, reason="企业已停业")
    later = today + 20 * DAY

    incremental, inc_run = new_findings(later, incremental=True)
    full, full_run = new_findings(later, incremental=False)
    assert incremental == full
    found = {(rule, key) for rule, key, *_ in incremental}
    assert ("code_not_scanned", str(new_unscanned.pk)) in found
    assert ("late_record", str(unrecorded.pk)) in found
    assert ("code_not_scanned", str(unscanned.pk)) not in found  # found before, not again

    # The incremental run looked at the changed tasks only; the full one at everything.
    stats = inc_run.stats
    changed = {new_unscanned.pk, unrecorded.pk, cancelled.pk}
    assert stats["no_code"]["scope"] == "incremental" and stats["no_code"]["tasks"] == len(changed)
    assert stats["plan_not_filed"]["scope"] == "full"
    assert inc_run.incremental and not full_run.incremental
    assert all("scope" not in figures for figures in full_run.stats.values())


def test_a_changed_certificate_runs_its_rule_in_full(s):
    today = timezone.localdate()
    scanned(s.recorded())
    run_rules("系统", today=today)
    visit = Task.objects.get(status=Task.Status.RESULT_RECORDED)
    certificate = s.inspector2.certificates.get()
    # The certificate turns out to have been valid only from tomorrow: the old visit breaks the rule
    # without any change to the task.
    registry_services.update_certificate(
        s.head,
        certificate=certificate,
        valid_from=today + DAY,
        valid_until=today + 400 * DAY,
    )
    incremental, inc_run = new_findings(today, incremental=True)
    full, _ = new_findings(today, incremental=False)
    assert incremental == full
    assert ("uncertified_inspector", str(visit.pk)) in {(r, k) for r, k, *_ in incremental}
    assert inc_run.stats["uncertified_inspector"]["scope"] == "full"
    assert "registry.Certificate" in inc_run.stats["uncertified_inspector"]["why"]
    assert inc_run.stats["no_code"] == {**inc_run.stats["no_code"], "scope": "incremental", "tasks": 0}


def test_nothing_changed_looks_at_no_task_but_time_still_counts(s):
    today = timezone.localdate()
    unrecorded = s.in_progress()
    run_rules("系统", today=today)
    assert not Finding.objects.filter(rule="late_record").exists()
    incremental, run = new_findings(today + 20 * DAY, incremental=True)
    full, _ = new_findings(today + 20 * DAY, incremental=False)
    assert incremental == full
    assert ("late_record", str(unrecorded.pk)) in {(r, k) for r, k, *_ in incremental}
    assert run.stats["too_few_inspectors"]["tasks"] == 0


def test_the_first_incremental_run_is_a_full_one(s):
    s.recorded()
    run = run_rules("系统", incremental=True)
    assert all(figures["scope"] == "full" for figures in run.stats.values())
    assert {code for code, figures in run.stats.items() if figures.get("why") == "no earlier run"} == {
        code for code, definition in RULES.items() if definition.incremental
    }
    assert Finding.objects.filter(rule="code_not_scanned").exists()


def test_the_command_runs_incrementally(s, capsys):
    from django.core.management import call_command

    s.recorded()
    call_command("run_supervision_rules")
    s.recorded()  # one changed task
    call_command("run_supervision_rules", "--incremental")
    out = capsys.readouterr().out
    assert "no_code" in out and "（增量：1 个变更的任务）" in out
    assert RuleRun.objects.order_by("pk").last().incremental
