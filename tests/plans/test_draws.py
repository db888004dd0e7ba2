"""Random draw services (F-14): commit, reveal, withdrawal and conflicts of interest, for what they do and
what they refuse; a refusal saves nothing."""

from __future__ import annotations

import datetime
import hashlib
import importlib.util
import re
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.utils import timezone

from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.models import AuditEvent
from jianchama.core.roles import Role
from jianchama.inspections import services as task_services
from jianchama.inspections.models import Task
from jianchama.plans import draws
from jianchama.plans.models import ConflictOfInterest, Plan, RandomDraw
from jianchama.registry.models import Certificate, EnforcementBody, Region
from tests.factories import (
    BodyFactory,
    CertificateFactory,
    EnterpriseFactory,
    FieldFactory,
    InspectorFactory,
    ItemFactory,
    RegionFactory,
    filed_plan,
    user_for,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
DAY = datetime.timedelta(days=1)
GRADES = "A" * 4 + "B" * 8 + "C" * 4 + "D" * 4  # 20 enterprises in Jinshan


def load_verifier():
    spec = importlib.util.spec_from_file_location("verify_draw", ROOT / "scripts" / "verify_draw.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_world() -> SimpleNamespace:
    w = SimpleNamespace()
    w.city = RegionFactory()
    w.jinshan = RegionFactory(code="310116", name="金山区", level=Region.Level.DISTRICT, parent=w.city)
    w.zhujing = RegionFactory(code="310116101", name="朱泾镇", level=Region.Level.TOWN, parent=w.jinshan)
    w.minhang = RegionFactory(code="310112", name="闵行区", level=Region.Level.DISTRICT, parent=w.city)
    w.gas = FieldFactory()
    w.market = FieldFactory(code="market", name="市场监管")
    w.body = BodyFactory(name="金山区建设和管理委员会", region=w.jinshan, fields=[w.gas])
    w.other_body = BodyFactory(name="闵行区建设和管理委员会", region=w.minhang, fields=[w.gas])
    w.item = ItemFactory(name="燃气经营许可情况检查", field=w.gas, bodies=[w.body])

    def inspector(name, body=None, **certificate):
        person = InspectorFactory(name=name, body=body or w.body)
        person.certificate = CertificateFactory(inspector=person, **certificate)
        return person

    today = timezone.localdate()
    w.inspectors = [inspector(name) for name in ("张三", "李四", "王五", "赵六")]
    w.expired = inspector("过期证件人员", valid_until=today - DAY)
    w.inactive = inspector("离岗人员")
    w.inactive.is_active = False
    w.inactive.save()
    w.wrong_field = inspector("市场监管证件人员", fields=[w.market])
    w.outsider = inspector("闵行执法员", body=w.other_body)

    w.head = user_for(Role.BODY_ADMIN, body=w.body, full_name="金山建管委负责人")
    w.inspector_user = user_for(Role.INSPECTOR, body=w.body)
    w.other_head = user_for(Role.BODY_ADMIN, body=w.other_body)
    w.supervisor = user_for(Role.SUPERVISOR, region=w.jinshan)

    w.enterprises = [
        EnterpriseFactory(
            name=f"金山燃气企业{i:02d}",
            region=w.zhujing if i % 2 else w.jinshan,
            industry="燃气生产和供应业" if i < 18 else "餐饮业",
            risk_grade=grade,
        )
        for i, grade in enumerate(GRADES)
    ]
    w.mh_enterprise = EnterpriseFactory(name="闵行燃气公司", region=w.minhang, risk_grade="D")
    w.plan = filed_plan(w.body, items=[w.item], method=Plan.Method.RANDOM, created_by=w.head)
    return w


@pytest.fixture
def w(db) -> SimpleNamespace:
    return build_world()


def window():
    today = timezone.localdate()
    return {"window_start": today, "window_end": today + 10 * DAY}


def commit(w, **overrides):
    args = {"plan": w.plan, "enterprise_count": 5, **overrides}
    return draws.commit_draw(
        overrides.pop("actor", w.head), **{k: v for k, v in args.items() if k != "actor"}
    )


def revealed(w, **overrides):
    draw = commit(w, **overrides)
    return draws.reveal_draw(w.head, draw=draw, **window())


def keys(*inspectors) -> set[str]:
    return {person.certificate.number for person in inspectors}


# --- Commit ---------------------------------------------------------------------------------------------


def test_commit_snapshots_both_pools_and_commits_to_a_secret_seed(w):
    draw = commit(w)
    assert draw.status == RandomDraw.Status.COMMITTED
    assert draw.algorithm == "jcm-draw-v1"
    # The pool: the body's district only, sorted by USCC, with each enterprise's risk grade.
    expected = sorted([e.uscc, e.risk_grade] for e in w.enterprises)
    assert draw.pool == expected
    assert draw.pool_hash == hashlib.sha256("".join(f"{u}\t{g}\n" for u, g in expected).encode()).hexdigest()
    # The inspector pool: active, of the body, a certificate valid today in the plan's field.
    assert {i["certificates"][0] for i in draw.inspector_pool} == keys(*w.inspectors)
    assert [i["name"] for i in draw.inspector_pool] == ["张三", "李四", "王五", "赵六"]
    assert draw.inspector_pool_hash == draws.sha256_hex(draws.encode_inspector_pool(draw.inspector_pool))
    # A 32-byte seed from `secrets`, kept back; its SHA-256 is the commitment.
    assert len(bytes.fromhex(draw.seed)) == 32
    assert draw.seed_commitment == hashlib.sha256(bytes.fromhex(draw.seed)).hexdigest()
    published = draws.published_record(draw)
    assert "seed" not in published and "result" not in published
    assert published["seed_commitment"] == draw.seed_commitment
    event = AuditEvent.objects.get(action="draw.committed")
    assert event.after["pool_hash"] == draw.pool_hash and event.after["pool_size"] == 20
    assert draw.seed not in str(event.after)


def test_two_commits_never_share_a_seed(w):
    first = commit(w)
    draws.withdraw_draw(w.head, draw=first, reason="测试")
    second = commit(w)
    assert first.seed != second.seed and first.seed_commitment != second.seed_commitment


def test_the_pool_follows_the_plans_target_scope(w):
    w.plan.target_industries = ["燃气生产和供应业"]
    w.plan.target_risk_grades = ["B", "C"]
    w.plan.save()
    w.plan.target_regions.set([w.zhujing])
    draw = commit(w, enterprise_count=1)
    expected = {
        e.uscc
        for e in w.enterprises
        if e.industry == "燃气生产和供应业" and e.risk_grade in "BC" and e.region == w.zhujing
    }
    assert {uscc for uscc, _ in draw.pool} == expected and expected


def test_a_listed_pool_is_the_list(w):
    w.plan.target_enterprises.set(w.enterprises[:3])
    draw = commit(w, enterprise_count=3)
    assert [u for u, _ in draw.pool] == sorted(e.uscc for e in w.enterprises[:3])


def test_conflicts_of_interest_are_snapshotted_with_the_inspector(w):
    zhang, li = w.inspectors[:2]
    draws.record_conflict(w.head, inspector=zhang, enterprise=w.enterprises[0], reason="配偶在该企业任职")
    draws.record_conflict(w.head, inspector=zhang, enterprise=w.enterprises[1], reason="曾在该企业任职")
    draws.record_conflict(w.head, inspector=li, enterprise=w.mh_enterprise, reason="亲属任股东")
    draw = commit(w)
    by_name = {i["name"]: i for i in draw.inspector_pool}
    assert by_name["张三"]["conflicts"] == sorted([w.enterprises[0].uscc, w.enterprises[1].uscc])
    # Only enterprises of the pool are named; the reason is never published.
    assert by_name["李四"]["conflicts"] == []
    assert "配偶" not in str(draws.published_record(draw))


def test_an_inspector_with_two_certificates_is_named_by_the_smaller_number(w):
    zhang = w.inspectors[0]
    extra = CertificateFactory(inspector=zhang, number="00000000001")
    draw = commit(w)
    entry = next(i for i in draw.inspector_pool if i["name"] == "张三")
    assert entry["certificates"] == [extra.number, zhang.certificate.number]
    assert draw.inspector_pool[0] == entry  # sorted by the smaller number


def test_certificates_must_cover_every_field_of_the_plan(w):
    w.body.fields.add(w.market)
    market_item = ItemFactory(name="燃气器具检查", field=w.market, bodies=[w.body])
    w.plan.items.add(market_item)
    both = w.inspectors[:2]
    for person in both:
        CertificateFactory(inspector=person, fields=[w.market])
    draw = commit(w)
    assert {i["name"] for i in draw.inspector_pool} == {"张三", "李四"}
    assert all(len(i["certificates"]) == 2 for i in draw.inspector_pool)


# --- Refusals at commit: nothing saved --------------------------------------------------------------------


@pytest.fixture
def nothing_saved(w):
    events = AuditEvent.objects.count()
    yield
    assert RandomDraw.objects.count() == 0
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("who", ["inspector_user", "other_head", "supervisor"])
def test_only_an_admin_of_the_plans_body_commits(w, nothing_saved, who):
    with pytest.raises(PermissionDenied, match="金山区建设和管理委员会的管理员"):
        commit(w, actor=getattr(w, who))


def test_a_plan_not_filed_is_refused(w, nothing_saved):
    Plan.objects.filter(pk=w.plan.pk).update(status=Plan.Status.BUREAU_REVIEW)
    with pytest.raises(DomainError, match="尚未备案（当前状态：待区司法局备案）"):
        commit(w)


def test_a_published_plan_may_be_drawn(w):
    Plan.objects.filter(pk=w.plan.pk).update(status=Plan.Status.PUBLISHED)
    assert commit(w).pk


def test_a_plan_not_random_is_refused(w, nothing_saved):
    Plan.objects.filter(pk=w.plan.pk).update(method=Plan.Method.ROUTINE)
    with pytest.raises(DomainError, match="检查方式为「日常检查」，不是双随机抽查"):
        commit(w)


def test_an_ended_plan_is_refused(w, nothing_saved):
    today = timezone.localdate()
    Plan.objects.filter(pk=w.plan.pk).update(period_start=today - 100 * DAY, period_end=today - DAY)
    with pytest.raises(DomainError, match=r"的期间已于.*结束"):
        commit(w)


def test_an_empty_pool_is_refused(w, nothing_saved):
    w.plan.target_industries = ["不存在的行业"]
    w.plan.save()
    with pytest.raises(DomainError, match="目标范围内没有企业，不能抽取"):
        commit(w)


def test_a_pool_smaller_than_asked_is_refused(w, nothing_saved):
    with pytest.raises(DomainError, match="企业库只有20户，少于拟抽取的21户"):
        commit(w, enterprise_count=21)


@pytest.mark.parametrize("count", [0, -1])
def test_the_count_must_be_positive(w, nothing_saved, count):
    with pytest.raises(DomainError, match="抽取企业数应为正整数"):
        commit(w, enterprise_count=count)


def test_fewer_than_two_per_task_is_refused(w, nothing_saved):
    with pytest.raises(DomainError, match="每户执法人员不得少于2人"):
        commit(w, inspectors_per_task=1)


def test_a_body_with_fewer_than_two_eligible_inspectors_is_refused(w, nothing_saved):
    Certificate.objects.filter(inspector__in=w.inspectors[1:]).update(status=Certificate.Status.SUSPENDED)
    with pytest.raises(DomainError, match="在岗执法人员只有1人，少于每户所需的2人"):
        commit(w)


def test_more_per_task_than_the_body_has_is_refused(w, nothing_saved):
    with pytest.raises(DomainError, match="在岗执法人员只有4人，少于每户所需的5人"):
        commit(w, inspectors_per_task=5)


def test_an_enterprise_every_inspector_but_one_is_conflicted_with_is_refused(w, nothing_saved):
    target = w.enterprises[0]
    for person in w.inspectors[:3]:
        ConflictOfInterest.objects.create(
            inspector=person, enterprise=target, reason="测试", recorded_by=w.head
        )
    with pytest.raises(DomainError, match=f"企业{target.name}（{target.uscc}）与3名执法人员存在利益冲突"):
        commit(w)


@pytest.mark.parametrize(
    ("strata", "message"),
    [
        ({"A": "0.5", "B": "0.4"}, "各风险等级的抽取比例之和应为1（当前为0.9）"),
        ({"A": 0.6, "B": 0.6}, "各风险等级的抽取比例之和应为1（当前为1.2）"),
        ({"E": "0.5", "B": "0.5"}, "风险等级「E」不存在（可用的等级：A、B、C、D）"),
        ({"A": "一半", "B": "0.5"}, "风险等级A的抽取比例「一半」不是数字"),
        ({"A": "-0.5", "B": "1.5"}, "风险等级A的抽取比例应在0到1之间"),
        ({"A": "0.0000001", "B": "0.9999999"}, "最多保留6位小数"),
    ],
)
def test_bad_strata_are_refused(w, nothing_saved, strata, message):
    with pytest.raises(DomainError, match=re.escape(message)):
        commit(w, strata=strata)


def test_a_stratum_smaller_than_its_quota_is_refused(w, nothing_saved):
    # 10 × 0.5 = 5 from grade A, which has 4.
    with pytest.raises(DomainError, match=r"风险等级A的企业只有4户，按比例0.5应抽取5户"):
        commit(w, enterprise_count=10, strata={"A": "0.5", "B": "0.5"})


def test_a_second_pending_draw_is_refused(w):
    first = commit(w)
    with pytest.raises(DomainError, match=f"已有一次待抽取的随机抽取（#{first.pk}），请先抽取或撤销"):
        commit(w)
    assert RandomDraw.objects.count() == 1


def test_an_unpublished_item_is_refused(w, nothing_saved):
    w.item.is_published = False
    w.item.save()
    with pytest.raises(DomainError, match="不在已公布的检查事项清单中"):
        commit(w)


# --- Reveal ---------------------------------------------------------------------------------------------


def test_reveal_publishes_the_seed_and_creates_one_submitted_task_per_drawn_enterprise(w):
    draw = revealed(w, enterprise_count=6, strata={"A": "0.25", "B": "0.5", "D": "0.25"})
    assert draw.status == RandomDraw.Status.REVEALED and draw.revealed_at
    assert draw.result == draws.run_draw(draws.record_of(draw))
    # Largest remainder: 1.5 / 3 / 1.5 → 1 / 3 / 1, one left for A (tie with D, A first).
    assert Counter(e["risk_grade"] for e in draw.result) == {"A": 2, "B": 3, "D": 1}
    tasks = {t.enterprise.uscc: t for t in Task.objects.filter(draw=draw).select_related("enterprise")}
    assert list(tasks) and set(tasks) == {e["uscc"] for e in draw.result}
    for entry in draw.result:
        task = tasks[entry["uscc"]]
        assert task.kind == Task.Kind.RANDOM and task.plan == w.plan and task.draw == draw
        assert task.status == Task.Status.SUBMITTED
        assert {c.number for i in task.inspectors.all() for c in i.certificates.all()} >= set(
            entry["inspectors"]
        )
        assert task.inspectors.count() == 2
        assert list(task.items.all()) == [w.item]
        assert task.legal_basis == w.item.legal_basis
        assert (task.window_start, task.window_end) == (window()["window_start"], window()["window_end"])
    event = AuditEvent.objects.get(action="draw.revealed")
    assert event.after["seed"] == draw.seed and event.after["drawn"] == 6
    assert AuditEvent.objects.filter(action="task.submitted").count() == 6
    # The published record passes the standalone verifier's checks.
    assert load_verifier().verify(draws.published_record(draw)) == []


def test_drawn_tasks_pass_the_qualification_gate(w):
    draw = revealed(w, enterprise_count=2)
    for task in Task.objects.filter(draw=draw):
        assert task_services.approval_problems(task) == []


def test_a_conflicted_inspector_is_never_sent(w):
    zhang = w.inspectors[0]
    for enterprise in w.enterprises[:10]:
        draws.record_conflict(w.head, inspector=zhang, enterprise=enterprise, reason="测试")
    draw = revealed(w, enterprise_count=20)
    conflicted = {e.uscc for e in w.enterprises[:10]}
    for entry in draw.result:
        assert len(set(entry["inspectors"])) == 2
        if entry["uscc"] in conflicted:
            assert zhang.certificate.number not in entry["inspectors"]
    assert any(zhang.certificate.number in e["inspectors"] for e in draw.result)  # elsewhere he is drawn


def test_a_conflict_recorded_after_the_commitment_is_a_published_late_exclusion(w):
    draw = commit(w, enterprise_count=20)
    zhang = w.inspectors[0]
    for enterprise in w.enterprises:
        draws.record_conflict(w.head, inspector=zhang, enterprise=enterprise, reason="测试")
    draw = draws.reveal_draw(w.head, draw=draw, **window())
    number = zhang.certificate.number
    assert all(number not in e["inspectors"] for e in draw.result)
    assert {(e["inspector"], e["reason"]) for e in draw.late_exclusions} == {(number, "承诺后登记的利益冲突")}
    assert len(draw.late_exclusions) == 20
    assert load_verifier().verify(draws.published_record(draw)) == []


def test_an_inspector_no_longer_qualified_is_excluded_everywhere(w):
    draw = commit(w, enterprise_count=20)
    li = w.inspectors[1]
    Certificate.objects.filter(inspector=li).update(status=Certificate.Status.SUSPENDED)
    w.inspectors[2].is_active = False
    w.inspectors[2].save()
    draw = draws.reveal_draw(w.head, draw=draw, **window())
    assert {e["inspector"]: e["reason"] for e in draw.late_exclusions} == {
        li.certificate.number: f"{timezone.localdate().year}年{timezone.localdate().month}月{timezone.localdate().day}日无覆盖检查事项领域的有效执法证",
        w.inspectors[2].certificate.number: "已不在岗",
    }
    assert all(e["uscc"] == "*" for e in draw.late_exclusions)
    assert {k for e in draw.result for k in e["inspectors"]} == keys(w.inspectors[0], w.inspectors[3])


def test_too_few_inspectors_left_at_reveal_refuses_and_saves_nothing(w):
    draw = commit(w)
    Certificate.objects.filter(inspector__in=w.inspectors[1:]).update(status=Certificate.Status.REVOKED)
    events = AuditEvent.objects.count()
    with pytest.raises(DomainError, match=r"可抽取的执法人员只有1人.*可撤销本次抽取后重新发起"):
        draws.reveal_draw(w.head, draw=draw, **window())
    draw.refresh_from_db()
    assert draw.status == RandomDraw.Status.COMMITTED and draw.late_exclusions == [] and draw.result == []
    assert not Task.objects.exists() and AuditEvent.objects.count() == events
    assert "seed" not in draws.published_record(draw)


def test_a_failure_half_way_through_task_creation_saves_nothing(w, monkeypatch):
    draw = commit(w)
    calls = []
    real_create = task_services.create_task

    def failing_create(actor, **kwargs):
        calls.append(kwargs["enterprise"])
        if len(calls) == 3:
            raise DomainError("模拟的第三个任务创建失败")
        return real_create(actor, **kwargs)

    monkeypatch.setattr(task_services, "create_task", failing_create)
    events = AuditEvent.objects.count()
    with pytest.raises(DomainError, match="模拟的第三个任务创建失败"):
        draws.reveal_draw(w.head, draw=draw, **window())
    draw.refresh_from_db()
    assert len(calls) == 3
    assert draw.status == RandomDraw.Status.COMMITTED and draw.result == []
    assert not Task.objects.exists() and AuditEvent.objects.count() == events


def test_a_task_the_frequency_check_refuses_stays_a_draft_and_the_draw_stands(w, monkeypatch):
    draw = commit(w)
    real_submit = task_services.submit_task
    calls = []

    def submit(actor, *, task):
        calls.append(task)
        if len(calls) == 2:
            raise DomainError("该任务超出检查频次规则，不予提交：模拟")
        return real_submit(actor, task=task)

    monkeypatch.setattr(task_services, "submit_task", submit)
    draw = draws.reveal_draw(w.head, draw=draw, **window())
    assert draw.status == RandomDraw.Status.REVEALED
    refused = calls[1]
    assert draw.unsubmitted == [
        {
            "task": refused.number,
            "uscc": refused.enterprise.uscc,
            "reason": "该任务超出检查频次规则，不予提交：模拟",
        }
    ]
    statuses = Counter(Task.objects.filter(draw=draw).values_list("status", flat=True))
    assert statuses == {Task.Status.SUBMITTED: 4, Task.Status.DRAFT: 1}
    assert AuditEvent.objects.get(action="draw.revealed").after["not_submitted"] == draw.unsubmitted


@pytest.mark.parametrize("who", ["inspector_user", "other_head", "supervisor"])
def test_only_an_admin_of_the_plans_body_reveals(w, who):
    draw = commit(w)
    with pytest.raises(PermissionDenied):
        draws.reveal_draw(getattr(w, who), draw=draw, **window())
    assert not Task.objects.exists()


def test_a_draw_is_revealed_once(w):
    draw = revealed(w)
    with pytest.raises(InvalidTransition, match="已抽取并公开"):
        draws.reveal_draw(w.head, draw=draw, **window())
    assert Task.objects.count() == 5


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (-1, 5, "检查日期不能早于今天"),
        (5, 1, "检查日期止不能早于日期起"),
        (300, 400, "检查日期应在检查计划的期间内"),
        (0, 100, "检查日期跨度不能超过90天"),
    ],
)
def test_the_window_must_fit_the_plan(w, start, end, message):
    draw = commit(w)
    today = timezone.localdate()
    with pytest.raises(DomainError, match=message):
        draws.reveal_draw(w.head, draw=draw, window_start=today + start * DAY, window_end=today + end * DAY)
    assert not Task.objects.exists()


def test_a_tampered_snapshot_is_refused_at_reveal(w):
    draw = commit(w)
    pool = draw.pool
    pool[0][1] = "D" if pool[0][1] != "D" else "A"
    RandomDraw.objects.filter(pk=draw.pk).update(pool=pool)
    with pytest.raises(DomainError, match="企业库快照与承诺时公布的散列值不符"):
        draws.reveal_draw(w.head, draw=draw, **window())
    assert not Task.objects.exists()


# --- Withdrawal -----------------------------------------------------------------------------------------


def test_withdrawal_publishes_the_seed_and_allows_a_new_draw(w):
    draw = commit(w)
    with pytest.raises(DomainError, match="请写明撤销原因"):
        draws.withdraw_draw(w.head, draw=draw, reason=" ")
    with pytest.raises(PermissionDenied):
        draws.withdraw_draw(w.other_head, draw=draw, reason="测试")
    draw = draws.withdraw_draw(w.head, draw=draw, reason="两名执法人员调离")
    published = draws.published_record(draw)
    assert published["status"] == "withdrawn" and published["seed"] == draw.seed
    assert published["withdrawal_reason"] == "两名执法人员调离"
    assert load_verifier().verify(published) == []
    with pytest.raises(InvalidTransition, match="已撤销"):
        draws.reveal_draw(w.head, draw=draw, **window())
    assert commit(w).pk != draw.pk
    assert AuditEvent.objects.get(action="draw.withdrawn").after["seed"] == draw.seed


def test_a_revealed_draw_cannot_be_withdrawn(w):
    draw = revealed(w)
    with pytest.raises(InvalidTransition):
        draws.withdraw_draw(w.head, draw=draw, reason="测试")


# --- Conflicts of interest ------------------------------------------------------------------------------


def test_record_a_conflict(w):
    conflict = draws.record_conflict(
        w.head, inspector=w.inspectors[0], enterprise=w.enterprises[0], reason=" 配偶在该企业任职 "
    )
    assert conflict.reason == "配偶在该企业任职" and conflict.recorded_by == w.head
    event = AuditEvent.objects.get(action="conflict.recorded")
    assert event.after["enterprise"] == w.enterprises[0].uscc
    with pytest.raises(DomainError, match="的利益冲突已登记"):
        draws.record_conflict(w.head, inspector=w.inspectors[0], enterprise=w.enterprises[0], reason="再次")


def test_record_a_conflict_refusals(w):
    with pytest.raises(PermissionDenied, match="只有金山区建设和管理委员会的管理员"):
        draws.record_conflict(
            w.other_head, inspector=w.inspectors[0], enterprise=w.enterprises[0], reason="x"
        )
    with pytest.raises(PermissionDenied):
        draws.record_conflict(
            w.inspector_user, inspector=w.inspectors[0], enterprise=w.enterprises[0], reason="x"
        )
    with pytest.raises(DomainError, match="请写明利益冲突情形"):
        draws.record_conflict(w.head, inspector=w.inspectors[0], enterprise=w.enterprises[0], reason="")
    assert not ConflictOfInterest.objects.exists()


def test_conflicts_are_seen_by_the_body_and_its_supervisors_only(w):
    draws.record_conflict(w.head, inspector=w.inspectors[0], enterprise=w.enterprises[0], reason="x")
    assert ConflictOfInterest.objects.visible_to(w.inspector_user).count() == 1
    assert ConflictOfInterest.objects.visible_to(w.supervisor).count() == 1
    assert ConflictOfInterest.objects.visible_to(w.other_head).count() == 0
    contact = user_for(Role.ENTERPRISE_CONTACT, enterprise=w.enterprises[0])
    assert ConflictOfInterest.objects.visible_to(contact).count() == 0


def test_a_city_body_draws_from_the_whole_city(w):
    city_body = BodyFactory(
        name="上海市燃气管理处", level=EnforcementBody.Level.CITY, region=w.city, fields=[w.gas]
    )
    w.item.bodies.add(city_body)
    for name in ("市甲", "市乙"):
        CertificateFactory(inspector=InspectorFactory(name=name, body=city_body))
    head = user_for(Role.BODY_ADMIN, body=city_body)
    plan = filed_plan(city_body, items=[w.item], method=Plan.Method.RANDOM, created_by=head)
    draw = draws.commit_draw(head, plan=plan, enterprise_count=21)
    assert len(draw.pool) == 21
