"""The scheduled jobs of supervision and complaints: their schedules exist after migrating, each names a
function that runs, and running one twice does no more than once."""

import dataclasses
from importlib import import_module

import pytest
from django_q.models import Schedule

from jianchama.core.roles import Role
from jianchama.supervision import jobs
from jianchama.supervision.models import RuleRun, SamplingRound
from tests.factories import BodyFactory, DistrictFactory, user_for

pytestmark = pytest.mark.django_db

EXPECTED = {
    "supervision-monthly-rules": Schedule.MONTHLY,
    "supervision-rules-daily": Schedule.DAILY,
    "supervision-rules-weekly": Schedule.WEEKLY,
    "supervision-deadline-reminders": Schedule.DAILY,
    "supervision-quarterly-sampling": Schedule.QUARTERLY,
    "complaints-deadline-reminders": Schedule.DAILY,
    "inspections-evaluation-releases": Schedule.MONTHLY,
    "supervision-guidance-reminders": Schedule.DAILY,
}


def _resolve(path: str):
    module, name = path.rsplit(".", 1)
    return getattr(import_module(module), name)


def test_every_schedule_exists_repeats_and_names_a_function():
    schedules = {s.name: s for s in Schedule.objects.filter(name__in=EXPECTED)}
    assert {name: s.schedule_type for name, s in schedules.items()} == EXPECTED
    for schedule in schedules.values():
        assert schedule.repeats == -1 and schedule.next_run is not None
        assert callable(_resolve(schedule.func)), schedule.func


def test_the_scheduled_functions_run_on_an_empty_database():
    for path in Schedule.objects.filter(name__in=EXPECTED).values_list("func", flat=True):
        assert _resolve(path)() in (0, [])


def test_the_monthly_run_is_recorded_as_the_system_s():
    assert jobs.run_monthly_rules() == 0
    run = RuleRun.objects.get()
    assert run.status == RuleRun.Status.DONE and run.triggered_by is None


def test_the_daily_run_is_incremental_and_the_weekly_one_full():
    assert Schedule.objects.get(name="supervision-rules-daily").func.endswith("run_daily_rules")
    assert Schedule.objects.get(name="supervision-rules-weekly").func.endswith("run_monthly_rules")
    assert jobs.run_daily_rules() == 0 and jobs.run_monthly_rules() == 0
    daily, weekly = RuleRun.objects.order_by("pk")
    assert daily.incremental and not weekly.incremental
    assert daily.audit_sequence is not None and weekly.audit_sequence is not None


def test_the_quarterly_sampling_commits_once_per_district_and_quarter():
    district = DistrictFactory()
    for _ in range(12):
        BodyFactory(region=district)
    user_for(Role.SUPERVISOR, region=district)
    assert jobs.commit_quarterly_sampling() == 1
    sampling_round = SamplingRound.objects.get()
    assert sampling_round.region == district and sampling_round.body_count == 2  # ⌈10% × 12⌉
    assert sampling_round.status == "committed"  # the supervisor reveals it
    assert jobs.commit_quarterly_sampling() == 0
    assert SamplingRound.objects.count() == 1


def test_a_run_whose_worker_died_midway_is_resumed_and_does_its_work_once(monkeypatch):
    """The worker is killed during the second rule (a BaseException no rule catches, as a SIGKILL would end the
    process there): the queue delivers the job again, which runs only the rules not finished, and no finding
    is stored twice."""
    from jianchama.supervision import rules as rules_module
    from jianchama.supervision.models import Finding
    from jianchama.supervision.rules import RULES, Hit

    body = BodyFactory()

    class WorkerKilled(BaseException):
        pass

    calls = {"first": 0, "second": 0}

    def first(ctx):
        calls["first"] += 1
        return [Hit(key="k1", body_id=body.pk, period=ctx.today.replace(day=1), description="第一条规则命中")]

    def second(ctx):
        calls["second"] += 1
        if calls["second"] == 1:
            raise WorkerKilled
        return [Hit(key="k2", body_id=body.pk, period=ctx.today.replace(day=1), description="第二条规则命中")]

    monkeypatch.setitem(RULES, "no_code", dataclasses.replace(RULES["no_code"], find=first))
    monkeypatch.setitem(
        RULES, "code_not_scanned", dataclasses.replace(RULES["code_not_scanned"], find=second)
    )
    supervisor = user_for(Role.PLATFORM_ADMIN)
    run = rules_module.start_run(supervisor, rules=["no_code", "code_not_scanned"])
    with pytest.raises(WorkerKilled):
        jobs.execute_rule_run(run.pk)
    run.refresh_from_db()
    assert run.status == RuleRun.Status.RUNNING and set(run.stats) == {"no_code"}

    jobs.execute_rule_run(run.pk)  # the job delivered again
    run.refresh_from_db()
    assert run.status == RuleRun.Status.DONE and set(run.stats) == {"no_code", "code_not_scanned"}
    assert calls == {"first": 1, "second": 2}
    assert Finding.objects.filter(rule="no_code").count() == 1
    assert Finding.objects.filter(rule="code_not_scanned").count() == 1
    assert run.new_findings == 2
