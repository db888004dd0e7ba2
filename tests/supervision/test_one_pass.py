"""The one pass of a full run (issue 16): the rules that each scanned the whole task table (no code, code never
scanned, outside a plan, too few inspectors, result recorded late, frequency breach) have their visits flagged by one query, then each rule runs on its
flagged visits only. A full run with it finds exactly the findings a full run without it finds (the rules'
own queries over every visit): same rules, keys, bodies, months, descriptions and evidence."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection, transaction
from django.utils import timezone

from jianchama.inspections.models import InspectionCode, Scan, Task
from jianchama.plans.models import Plan
from jianchama.supervision.models import Finding, RuleRun
from jianchama.supervision.rules import ONE_PASS_FLAGS, RULES, one_pass, run_rules
from tests.inspections.conftest import build_scenario


class Rollback(Exception):
    pass


def full_run_findings(settings, *, one_pass_on: bool) -> tuple[set[tuple], RuleRun]:
    """The findings of a full run, with or without the one pass, the run undone afterwards (so the other
    run sees the same data and no findings before it)."""
    settings.SUPERVISION_ONE_PASS = one_pass_on
    found: dict[str, object] = {}
    try:
        with transaction.atomic():
            run = run_rules("系统")
            found["findings"] = {
                (f.rule, f.key, f.body_id, f.period, f.description, f.task_id, str(f.evidence))
                for f in Finding.objects.filter(run=run)
            }
            found["run"] = run
            raise Rollback
    except Rollback:
        pass
    return found["findings"], found["run"]


def assert_same_findings_and_each_flag_used(settings) -> RuleRun:
    alone, plain_run = full_run_findings(settings, one_pass_on=False)
    together, run = full_run_findings(settings, one_pass_on=True)
    assert run.status == plain_run.status == RuleRun.Status.DONE
    assert together == alone
    for code in ONE_PASS_FLAGS:
        figures = run.stats[code]
        assert figures["one_pass"] >= figures["hits"] and "one_pass" not in plain_run.stats[code]
        # Each rule has findings here: a flag dropped (or made stricter) loses them and the sets differ.
        assert 0 < figures["hits"] == plain_run.stats[code]["hits"], (code, figures)
        assert {f for f in together if f[0] == code}
    return run


@pytest.fixture
def s(db):
    return build_scenario()


def scanned(task: Task) -> Task:
    Scan.objects.create(
        code=task.code, scanned_at=timezone.now(), outcome=Scan.Outcome.GENUINE, client_hash="h"
    )
    return task


def test_one_pass_finds_what_each_rule_finds_on_its_own(s, settings):
    clean = [scanned(s.recorded()) for _ in range(3)]
    remote = s.recorded(mode=Task.Mode.REMOTE)  # its code never scanned, one inspector: not a finding
    remote.inspectors.remove(s.inspector2)
    no_code = scanned(s.recorded())
    Scan.objects.filter(code__task=no_code).delete()
    InspectionCode.objects.filter(task=no_code).delete()
    never_scanned = s.recorded()
    Scan.objects.create(
        code=never_scanned.code, scanned_at=timezone.now(), outcome=Scan.Outcome.STALE, client_hash="h"
    )
    one, none = scanned(s.recorded()), scanned(s.recorded())
    one.inspectors.remove(s.inspector2)
    none.inspectors.clear()
    no_plan, draft_plan = scanned(s.recorded()), scanned(s.recorded())
    Task.objects.filter(pk=no_plan.pk).update(plan=None)
    Plan.objects.filter(pk=draft_plan.plan_id).update(status=Plan.Status.BUREAU_REVIEW)
    s.submitted()  # not visited: no visit rule looks at it
    # late_record: a result recorded 20 days after the visit, a visit 60 days ago still without one, and a
    # result recorded a few minutes more than 5 days after the visit (the flag compares times: looser than days)
    tz = timezone.get_current_timezone()
    long_ago = datetime.datetime.combine(
        timezone.localdate() - datetime.timedelta(days=60), datetime.time(23, 58)
    )
    late, waiting, edge = scanned(s.recorded()), scanned(s.in_progress()), scanned(s.recorded())
    Task.objects.filter(pk=late.pk).update(
        started_at=long_ago.replace(tzinfo=tz),
        result_recorded_at=(long_ago + datetime.timedelta(days=20)).replace(tzinfo=tz),
    )
    Task.objects.filter(pk=waiting.pk).update(started_at=long_ago.replace(tzinfo=tz))
    Task.objects.filter(pk=edge.pk).update(
        started_at=long_ago.replace(tzinfo=tz),
        result_recorded_at=(long_ago + datetime.timedelta(days=5, minutes=4)).replace(tzinfo=tz),
    )

    # frequency_breach (reads the approved and notified tasks too): refused, unjustified, exempted, a warning;
    # a notified task refused; a draft refused (no inspection: not read)
    def breach(action: str, exempted_by: str = "") -> list[dict]:
        return [{"rule": 1, "name": "同一企业每年不超过2次", "action": action, "exempted_by": exempted_by}]

    refused, unjustified, exempted, warned = (scanned(s.recorded()) for _ in range(4))
    notified, draft = s.notified(), s.draft()
    for task, findings in (
        (refused, breach("refuse")),
        (unjustified, breach("justify")),
        (exempted, breach("refuse", "complaint")),
        (warned, breach("warn")),
        (notified, breach("refuse")),
        (draft, breach("refuse")),
    ):
        Task.objects.filter(pk=task.pk).update(frequency_findings=findings)
    assert not one_pass([])

    flagged = one_pass(ONE_PASS_FLAGS)
    assert flagged["no_code"] == {no_code.pk}
    assert flagged["code_not_scanned"] == {never_scanned.pk}
    assert flagged["too_few_inspectors"] == {one.pk, none.pk}
    # The draft plan is every planned visit's of its body and year in the scenario: all of them are flagged.
    assert {no_plan.pk, draft_plan.pk} <= flagged["outside_plan"]
    assert flagged["late_record"] == {late.pk, waiting.pk, edge.pk}
    assert flagged["frequency_breach"] == {refused.pk, unjustified.pk, exempted.pk, warned.pk, notified.pk}
    # the other rules read the visits only: a notified task is not flagged for them
    assert not {remote.pk, notified.pk, draft.pk} & set().union(
        *(ids for code, ids in flagged.items() if code != "frequency_breach")
    )
    assert clean

    run = assert_same_findings_and_each_flag_used(settings)
    assert run.stats["no_code"]["hits"] == 1 and run.stats["too_few_inspectors"]["hits"] == 2
    assert run.stats["frequency_breach"]["hits"] == 3  # refused, unjustified, notified
    assert run.stats["late_record"]["hits"] >= 2  # late and waiting; edge depends on the calendar


def test_a_rule_with_more_flagged_visits_than_the_limit_runs_its_own_full_query(s, settings):
    for _ in range(2):
        task = s.recorded()
        InspectionCode.objects.filter(task=task).delete()
    settings.SUPERVISION_ONE_PASS_MAX_TASKS = 1
    run = run_rules("系统", rules=["no_code"])
    assert run.stats["no_code"]["hits"] == 2 and "one_pass" not in run.stats["no_code"]


def test_one_pass_on_the_generated_data(db, settings):
    """The generator's data (`make bench-supervision`'s), with a few visits per thousand planted to break each
    rule. PostgreSQL only, as the generator's supervision data."""
    from jianchama.demo import synthetic

    if connection.vendor != "postgresql":
        pytest.skip("the generator's supervision data is PostgreSQL's set-based SQL")
    synthetic.generate(enterprises=500, inspections=6000, seed=7, supervision=True, log=lambda line: None)
    run = assert_same_findings_and_each_flag_used(settings)
    assert sum(figures["hits"] for figures in run.stats.values()) > 100
    assert set(run.stats) == set(RULES)


@pytest.mark.django_db(transaction=True)
def test_a_full_run_on_two_connections_finds_what_a_run_on_one_finds(settings, monkeypatch):
    """SUPERVISION_RULE_WORKERS: a full run outside a transaction runs its rules on two connections at once
    (the one pass and its rules on one, the others on a thread's); the findings and each rule's figures are
    those of a run on one connection, the progress saved holds every rule. PostgreSQL only."""
    from jianchama.demo import synthetic
    from jianchama.supervision import rules

    if connection.vendor != "postgresql":
        pytest.skip("one connection only on SQLite (and the generator's supervision data is PostgreSQL's)")
    synthetic.generate(enterprises=300, inspections=3000, seed=11, supervision=True, log=lambda line: None)
    threads: list[object] = []
    monkeypatch.setattr(rules, "on_worker_done", threads.append)

    def findings_of(workers: int) -> tuple[set[tuple], RuleRun]:
        settings.SUPERVISION_RULE_WORKERS = workers
        Finding.objects.all().delete()
        run = run_rules("系统")
        found = {
            (f.rule, f.key, f.body_id, f.period, f.description, f.task_id, str(f.evidence))
            for f in Finding.objects.filter(run=run)
        }
        return found, run

    alone, one = findings_of(1)
    assert threads == []
    together, two = findings_of(2)
    assert len(threads) == 1  # the second connection's thread ran and closed
    assert two.status == one.status == RuleRun.Status.DONE, two.error
    assert together == alone and len(together) > 20
    assert set(two.stats) == set(one.stats) == set(RULES)
    assert {code: figures["hits"] for code, figures in two.stats.items()} == {
        code: figures["hits"] for code, figures in one.stats.items()
    }
    saved = RuleRun.objects.get(pk=two.pk)
    assert saved.stats == two.stats and saved.new_findings == two.new_findings == len(together)
