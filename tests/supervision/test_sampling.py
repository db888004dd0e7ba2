"""Quarterly sampling (F-31): the count, commit and reveal, the published record and its standalone verifier,
score sheets, reviews that become findings; what each service refuses; who sees what."""

from __future__ import annotations

import copy
import datetime
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.test import override_settings
from django.utils import timezone

from jianchama.core.audit import AuditEvent
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.roles import Role
from jianchama.plans import draws
from jianchama.registry.models import EnforcementBody, Region
from jianchama.supervision import sampling
from jianchama.supervision.models import (
    Finding,
    Method,
    SampledBody,
    SamplingReview,
    SamplingRound,
    ScoreSheet,
)
from tests.factories import BodyFactory, RegionFactory, user_for

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "verify_sampling.py"

ITEMS = [
    {"name": "检查计划按时备案并公告", "max": 30},
    {"name": "执法人员持证并出示检查码", "max": 40},
    {"name": "检查记录完整", "max": 30},
]


def build_world(bodies: int = 23) -> SimpleNamespace:
    w = SimpleNamespace()
    w.city = RegionFactory()
    w.jinshan = RegionFactory(code="310116", name="金山区", level=Region.Level.DISTRICT, parent=w.city)
    w.town = RegionFactory(code="310116100", name="朱泾镇", level=Region.Level.TOWN, parent=w.jinshan)
    w.minhang = RegionFactory(code="310112", name="闵行区", level=Region.Level.DISTRICT, parent=w.city)
    w.bodies = [BodyFactory(code=f"JS{n:03d}", region=w.jinshan) for n in range(bodies - 1)]
    w.bodies.append(BodyFactory(code="JSTOWN", region=w.town, level=EnforcementBody.Level.TOWN))
    w.inactive = BodyFactory(code="JSOLD", region=w.jinshan, is_active=False)
    w.mh_body = BodyFactory(code="MH001", region=w.minhang)
    w.supervisor = user_for(Role.SUPERVISOR, region=w.jinshan, full_name="金山监督员")
    w.mh_supervisor = user_for(Role.SUPERVISOR, region=w.minhang)
    w.year, w.quarter = sampling.quarter_of(timezone.localdate())
    return w


@pytest.fixture
def w(db):
    return build_world()


def commit(w, **kwargs):
    args = {"year": w.year, "quarter": w.quarter}
    return sampling.commit_round(w.supervisor, **{**args, **kwargs})


def revealed(w, **kwargs):
    return sampling.reveal_round(w.supervisor, sampling_round=commit(w, **kwargs))


def sheet(w, method=Method.CASE_FILE_REVIEW, **kwargs):
    return sampling.create_score_sheet(
        w.supervisor, **{"name": "案卷评查评分表", "method": method, "items": ITEMS, **kwargs}
    )


def full_scores(**overrides):
    return {**{item["name"]: item["max"] for item in ITEMS}, **overrides}


# --- The count and the algorithm ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "ratio", "count"),
    [
        (1, "0.1", 1),
        (9, "0.1", 1),
        (10, "0.1", 1),
        (11, "0.1", 2),
        (23, "0.1", 3),
        (100, "0.1", 10),
        (23, "0.25", 6),
    ],
)
def test_count_is_at_least_ten_percent_and_never_none(size, ratio, count):
    assert sampling.count_for(size, ratio) == count


def test_ratio_is_never_below_ten_percent():
    assert sampling.normalise_ratio("0.10") == ("0.1", [])
    assert sampling.normalise_ratio("15%") == ("0.15", [])
    assert "不得低于10%" in sampling.normalise_ratio("0.05")[1][0]
    assert "不能超过100%" in sampling.normalise_ratio("1.5")[1][0]
    assert "不是数字" in sampling.normalise_ratio("十分之一")[1][0]


def test_quarters():
    assert sampling.quarter_of(datetime.date(2026, 11, 23)) == (2026, 4)
    assert sampling.quarter_bounds(2026, 4) == (datetime.date(2026, 10, 1), datetime.date(2026, 12, 31))
    assert sampling.quarter_bounds(2026, 1) == (datetime.date(2026, 1, 1), datetime.date(2026, 3, 31))


def test_the_algorithm_uses_the_plans_primitives_and_is_deterministic():
    pool = [[f"B{n:03d}", f"单位{n}"] for n in range(30)]
    record = {
        "algorithm": sampling.ALGORITHM,
        "region": {"code": "310116", "name": "金山区"},
        "year": 2026,
        "quarter": 4,
        "body_count": 3,
        "committed_at": "2026-11-23T01:02:03.000004Z",
        "pool": pool,
        "pool_hash": draws.sha256_hex(sampling.encode_pool(pool)),
        "seed": "ab" * 32,
    }
    first = sampling.run_sampling(record)
    assert first == sampling.run_sampling(copy.deepcopy(record))
    assert len(first) == 3 and len(set(first)) == 3
    assert sampling.run_sampling({**record, "seed": "cd" * 32}) != first
    assert sampling.run_sampling({**record, "quarter": 3}) != first
    # The verifier script is a second implementation: it agrees.
    verifier = load_verifier()
    assert verifier.redraw(record) == first


def load_verifier():
    import importlib.util

    spec = importlib.util.spec_from_file_location("verify_sampling", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- Commit -------------------------------------------------------------------------------------------------


def test_commit_snapshots_the_regions_active_bodies_and_hides_the_seed(w):
    sampling_round = commit(w)
    codes = [code for code, _name in sampling_round.pool]
    assert codes == sorted(b.code for b in w.bodies)  # the town's body in, the inactive and Minhang's out
    assert sampling_round.body_count == 3  # ⌈10% × 23⌉
    assert sampling_round.ratio == "0.1" and sampling_round.algorithm == "jcm-sampling-v1"
    assert sampling_round.pool_hash == draws.sha256_hex(sampling.encode_pool(sampling_round.pool))
    assert sampling_round.seed_commitment == draws.commitment_of(sampling_round.seed)
    record = sampling.published_record(sampling_round)
    assert "seed" not in record and "result" not in record
    assert record["status"] == "committed" and record["pool_hash"] == sampling_round.pool_hash
    event = AuditEvent.objects.get(action="sampling.committed")
    assert sampling_round.seed not in json.dumps(event.after, ensure_ascii=False)


def test_ratio_can_be_raised_from_the_setting_or_the_call(w):
    with override_settings(SAMPLING_RATIO="0.2"):
        assert commit(w).body_count == 5
    assert commit(w, year=w.year + 1, ratio="0.5").body_count == 12  # ⌈50% × 23⌉


def test_commit_refusals(w):
    inspector = user_for(Role.BODY_ADMIN, body=w.bodies[0])
    with pytest.raises(PermissionDenied):
        sampling.commit_round(inspector, year=w.year, quarter=w.quarter, region=w.jinshan)
    with pytest.raises(PermissionDenied, match="金山区"):
        sampling.commit_round(w.mh_supervisor, year=w.year, quarter=w.quarter, region=w.jinshan)
    with pytest.raises(DomainError, match="不得低于10%"):
        commit(w, ratio="0.05")
    with pytest.raises(DomainError, match="季度应为1至4"):
        commit(w, quarter=5)
    with pytest.raises(DomainError, match=r"已于.*结束"):
        commit(w, year=w.year - 1)
    assert not SamplingRound.objects.exists()
    first = commit(w)
    with pytest.raises(DomainError, match="每个季度只能有一次有效抽查"):
        commit(w)
    sampling.reveal_round(w.supervisor, sampling_round=first)
    with pytest.raises(DomainError, match="每个季度只能有一次有效抽查"):
        commit(w)
    assert SamplingRound.objects.count() == 1


def test_a_withdrawn_round_publishes_its_seed_and_makes_room_for_another(w):
    first = commit(w)
    with pytest.raises(DomainError, match="撤销原因"):
        sampling.withdraw_round(w.supervisor, sampling_round=first, reason=" ")
    with pytest.raises(PermissionDenied):
        sampling.withdraw_round(w.mh_supervisor, sampling_round=first, reason="单位名录有误")
    withdrawn = sampling.withdraw_round(w.supervisor, sampling_round=first, reason="单位名录有误")
    assert withdrawn.status == SamplingRound.Status.WITHDRAWN
    record = sampling.published_record(withdrawn)
    assert record["seed"] == first.seed and record["withdrawal_reason"] == "单位名录有误"
    with pytest.raises(InvalidTransition):
        sampling.reveal_round(w.supervisor, sampling_round=withdrawn)
    second = commit(w)
    assert second.pk != first.pk and second.seed != first.seed


def test_an_empty_region_is_refused(w):
    empty = RegionFactory(code="310117", name="松江区", level=Region.Level.DISTRICT, parent=w.city)
    supervisor = user_for(Role.SUPERVISOR, region=empty)
    with pytest.raises(DomainError, match="没有有效的执法单位"):
        sampling.commit_round(supervisor, year=w.year, quarter=w.quarter)


def test_the_job_commits_once_per_district_and_quarter(w):
    rounds = sampling.commit_quarterly_rounds()
    assert sorted(r.region.code for r in rounds) == ["310112", "310116"]
    assert all(r.created_by is None for r in rounds)
    assert sampling.commit_quarterly_rounds() == []
    assert AuditEvent.objects.filter(action="sampling.committed", actor_label="系统").count() == 2


# --- Reveal -------------------------------------------------------------------------------------------------


def test_reveal_draws_the_committed_number_as_the_algorithm_says(w):
    sampling_round = commit(w)
    with pytest.raises(PermissionDenied):
        sampling.reveal_round(w.mh_supervisor, sampling_round=sampling_round)
    sampling_round = sampling.reveal_round(w.supervisor, sampling_round=sampling_round)
    assert sampling_round.status == SamplingRound.Status.REVEALED
    assert sampling_round.result == sampling.run_sampling(sampling.record_of(sampling_round))
    sampled = list(SampledBody.objects.filter(round=sampling_round).order_by("position"))
    assert [s.body.code for s in sampled] == sampling_round.result and len(sampled) == 3
    record = sampling.published_record(sampling_round)
    assert record["seed"] == sampling_round.seed and record["result"] == sampling_round.result
    assert [b["code"] for b in record["bodies"]] == sampling_round.result
    with pytest.raises(InvalidTransition, match="已抽取并公开"):
        sampling.reveal_round(w.supervisor, sampling_round=sampling_round)
    assert AuditEvent.objects.filter(action="sampling.revealed").count() == 1


def test_reveal_refuses_a_tampered_snapshot_and_saves_nothing(w):
    sampling_round = commit(w)
    pool = sampling_round.pool
    pool[0][1] = "改过的名称"
    SamplingRound.objects.filter(pk=sampling_round.pk).update(pool=pool)
    with pytest.raises(DomainError, match="快照与承诺时公布的散列值不符"):
        sampling.reveal_round(w.supervisor, sampling_round=sampling_round)
    sampling_round.refresh_from_db()
    assert sampling_round.status == SamplingRound.Status.COMMITTED and not SampledBody.objects.exists()


def test_a_body_deactivated_after_the_commitment_is_still_drawn_as_published(w):
    sampling_round = commit(w, ratio="1")
    EnforcementBody.objects.filter(pk=w.bodies[0].pk).update(is_active=False)
    sampling_round = sampling.reveal_round(w.supervisor, sampling_round=sampling_round)
    assert w.bodies[0].code in sampling_round.result


# --- The standalone verifier, as a subprocess -----------------------------------------------------------------


def run_script(path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(path), *args], capture_output=True, text=True)


def published(w, tmp_path, change=None) -> Path:
    record = sampling.published_record(w.round)
    if change:
        change(record)
    path = tmp_path / "sampling.json"
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def wr(w):
    w.round = revealed(w)
    return w


def test_the_verifier_accepts_the_published_round(wr, tmp_path):
    done = run_script(
        published(wr, tmp_path), "--pool-hash", wr.round.pool_hash, "--commitment", wr.round.seed_commitment
    )
    assert done.returncode == 0, done.stdout
    assert "核验通过" in done.stdout and "3家执法单位与公布结果相同" in done.stdout


def test_the_verifier_accepts_a_commitment_before_the_reveal(w, tmp_path):
    w.round = commit(w)
    done = run_script(published(w, tmp_path))
    assert done.returncode == 0 and "随机种子尚未公布" in done.stdout


def swap_body_code(record):
    record["pool"][0][0] = "JS999"


def change_seed(record):
    record["seed"] = "00" * 32


def change_result(record):
    record["result"] = [code for code, _name in record["pool"] if code not in record["result"]][:1] + record[
        "result"
    ][1:]


def change_count(record):
    record["body_count"] = 2
    record["result"] = record["result"][:2]


def rewrite_as_a_whole(record):
    # The pool changed, its hash recomputed and the result redrawn: consistent in itself.
    record["pool"][0][1] = "另一个名称"
    record["pool_hash"] = draws.sha256_hex(sampling.encode_pool(record["pool"]))
    record["result"] = sampling.run_sampling(record)
    names = dict(record["pool"])
    record["bodies"] = [{"code": code, "name": names[code]} for code in record["result"]]
    record["reviews"] = [r for r in record["reviews"] if r["code"] in record["result"]]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (swap_body_code, "执法单位库快照散列不符"),
        (change_seed, "随机种子与承诺值不符"),
        (change_result, "抽取结果不符"),
        (change_count, "抽取单位数不符"),
    ],
)
def test_the_verifier_fails_on_any_change(wr, tmp_path, change, message):
    done = run_script(published(wr, tmp_path, change))
    assert done.returncode == 1
    assert "核验未通过" in done.stdout and message in done.stdout


def test_the_verifier_catches_a_record_rewritten_as_a_whole_with_the_noted_hash(wr, tmp_path):
    path = published(wr, tmp_path, rewrite_as_a_whole)
    assert run_script(path).returncode == 0  # consistent in itself: only the values noted beforehand catch it
    done = run_script(path, "--pool-hash", wr.round.pool_hash)
    assert done.returncode == 1 and "与抽取前公布的不同" in done.stdout


# --- Score sheets -------------------------------------------------------------------------------------------


def test_a_supervisor_makes_and_edits_a_score_sheet(w):
    made = sheet(w, pass_score=70)
    assert made.region == w.jinshan and made.full_marks == 100 and made.pass_score == 70
    edited = sampling.update_score_sheet(
        w.supervisor, sheet=made, items=[*ITEMS, {"name": "投诉处理及时", "max": "20"}], name="新评分表"
    )
    assert edited.full_marks == 120 and edited.items[-1] == {"name": "投诉处理及时", "max": 20}
    events = AuditEvent.objects.filter(action__startswith="sampling.sheet_").order_by("sequence")
    assert [e.action for e in events] == ["sampling.sheet_created", "sampling.sheet_updated"]


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "至少要有一个评分项目"),
        ([{"name": "", "max": 10}], "没有名称"),
        ([{"name": "甲", "max": 10}, {"name": "甲", "max": 5}], "重复"),
        ([{"name": "甲", "max": 0}], "分值应在1至1000之间"),
        ([{"name": "甲", "max": "十"}], "不是整数"),
    ],
)
def test_bad_score_sheet_items_are_refused(w, items, message):
    with pytest.raises(DomainError, match=message):
        sheet(w, items=items)
    assert not ScoreSheet.objects.exists()


def test_score_sheet_refusals(w):
    with pytest.raises(DomainError, match="合格线"):
        sheet(w, pass_score=120)
    with pytest.raises(DomainError, match="请选择抽查方式"):
        sheet(w, method="phone")
    with pytest.raises(PermissionDenied):
        sampling.create_score_sheet(
            user_for(Role.BODY_ADMIN, body=w.bodies[0]), name="x", method=Method.CASE_FILE_REVIEW, items=ITEMS
        )
    made = sheet(w)
    with pytest.raises(PermissionDenied):
        sampling.update_score_sheet(w.mh_supervisor, sheet=made, name="闵行改")
    with pytest.raises(DomainError, match="没有这些内容"):
        sampling.update_score_sheet(w.supervisor, sheet=made, region=w.minhang)


# --- Reviews --------------------------------------------------------------------------------------------------


@pytest.fixture
def rv(wr):
    wr.sampled = SampledBody.objects.filter(round=wr.round).order_by("position").first()
    wr.sheet = sheet(wr)
    return wr


def review(w, **kwargs):
    args = {
        "sampled": w.sampled,
        "method": Method.CASE_FILE_REVIEW,
        "sheet": w.sheet,
        "scores": full_scores(),
    }
    return sampling.record_review(w.supervisor, **{**args, **kwargs})


def test_a_passing_review_makes_no_finding(rv):
    done = review(rv, scores=full_scores(**{"检查记录完整": 20}), notes="案卷规范")
    assert done.total == 90 and done.full_marks == 100 and done.passed and done.finding is None
    assert done.pass_score == 60 and done.reviewer == rv.supervisor
    assert done.reviewed_on == timezone.localdate()
    assert not Finding.objects.exists()
    assert AuditEvent.objects.filter(action="sampling.reviewed").count() == 1


def test_a_review_below_the_pass_mark_becomes_a_finding(rv):
    with override_settings(SAMPLING_PASS_SCORE=80):
        done = review(rv, scores=full_scores(**{"执法人员持证并出示检查码": 10}))
    assert done.total == 70 and not done.passed and done.pass_score == 80
    finding = done.finding
    assert finding.source == Finding.Source.SAMPLING and finding.body == rv.sampled.body
    assert "低于合格线80%" in finding.title and finding.severity == "medium"
    assert finding.evidence == [{"model": "supervision.SamplingReview", "pk": done.pk, "label": str(done)}]


def test_the_sheets_own_pass_mark_wins_and_the_mark_itself_passes(rv):
    rv.sheet = sampling.update_score_sheet(rv.supervisor, sheet=rv.sheet, pass_score=95)
    at_the_mark = review(rv, scores=full_scores(**{"检查记录完整": 25}))
    assert at_the_mark.total == 95 and at_the_mark.passed and at_the_mark.finding is None
    second = SampledBody.objects.filter(round=rv.round).order_by("position")[1]
    below = review(rv, sampled=second, scores=full_scores(**{"检查记录完整": 24}))
    assert below.pass_score == 95 and not below.passed and below.finding is not None


def test_an_item_marked_as_a_problem_becomes_a_finding_even_when_passing(rv):
    done = review(
        rv,
        scores=full_scores(**{"检查记录完整": 25}),
        problem_items=["检查记录完整"],
        item_notes={"检查记录完整": "两份案卷缺少现场照片"},
    )
    assert done.passed and done.finding is not None
    assert "发现问题：检查记录完整" in done.finding.title
    assert "两份案卷缺少现场照片" in done.finding.description and done.finding.severity == "low"
    assert done.problem_items[0]["note"] == "两份案卷缺少现场照片"


def test_review_refusals_save_nothing(rv):
    with pytest.raises(DomainError) as refusal:
        review(
            rv,
            scores={"检查计划按时备案并公告": 31, "不存在的项目": 3, "检查记录完整": "x"},
            problem_items=["检查计划按时备案并公告"],
        )
    problems = refusal.value.problems
    assert any("没有「不存在的项目」" in p for p in problems)
    assert any("应在0至30分之间" in p for p in problems)
    assert any("请为「执法人员持证并出示检查码」打分" in p for p in problems)
    assert any("不是整数" in p for p in problems)
    with pytest.raises(DomainError, match="标记为存在问题，请写明问题"):
        review(rv, problem_items=["检查记录完整"])
    with pytest.raises(DomainError, match="与所选抽查方式不符"):
        review(rv, method=Method.DOCUMENT_REVIEW)
    with pytest.raises(DomainError, match="不能晚于今天"):
        review(rv, reviewed_on=timezone.localdate() + datetime.timedelta(days=1))
    with pytest.raises(DomainError, match="不能早于抽取日期"):
        review(rv, reviewed_on=timezone.localdate() - datetime.timedelta(days=1))
    with pytest.raises(PermissionDenied):
        sampling.record_review(
            rv.mh_supervisor,
            sampled=rv.sampled,
            method=Method.CASE_FILE_REVIEW,
            sheet=rv.sheet,
            scores=full_scores(),
        )
    sampling.update_score_sheet(rv.supervisor, sheet=rv.sheet, is_active=False)
    rv.sheet.refresh_from_db()
    with pytest.raises(DomainError, match="已停用"):
        review(rv)
    assert not SamplingReview.objects.exists() and not Finding.objects.exists()


def test_one_review_per_method_and_the_sheet_is_copied(rv):
    first = review(rv)
    with pytest.raises(DomainError, match=r"已于.*评查"):
        review(rv)
    other = sheet(rv, method=Method.DOCUMENT_REVIEW, name="资料查阅评分表")
    review(rv, method=Method.DOCUMENT_REVIEW, sheet=other)
    sampling.update_score_sheet(rv.supervisor, sheet=rv.sheet, items=[{"name": "只剩一项", "max": 10}])
    first.refresh_from_db()
    assert [e["name"] for e in first.scores] == [item["name"] for item in ITEMS]
    with pytest.raises(DomainError, match="不能改变抽查方式"):
        sampling.update_score_sheet(rv.supervisor, sheet=rv.sheet, method=Method.ONSITE_OBSERVATION)


def test_a_committed_round_cannot_be_reviewed(w):
    sampling_round = commit(w, ratio="1")
    made = sheet(w)
    fake = SampledBody.objects.create(round=sampling_round, body=w.bodies[0], position=1)
    with pytest.raises(InvalidTransition, match="尚未抽取"):
        sampling.record_review(
            w.supervisor, sampled=fake, method=Method.CASE_FILE_REVIEW, sheet=made, scores=full_scores()
        )


# --- Who sees what ----------------------------------------------------------------------------------------------


def test_visibility(rv):
    done = review(rv, scores=full_scores(**{"执法人员持证并出示检查码": 0}))
    body_admin = user_for(Role.BODY_ADMIN, body=rv.sampled.body)
    other_admin = user_for(Role.BODY_ADMIN, body=next(b for b in rv.bodies if b != rv.sampled.body))
    inspector = user_for(Role.INSPECTOR, body=rv.sampled.body)
    government = user_for(Role.DISTRICT_GOVERNMENT, region=rv.jinshan)
    contact = user_for(Role.ENTERPRISE_CONTACT)
    from django.contrib.auth.models import AnonymousUser

    anonymous = AnonymousUser()
    reviews = SamplingReview.objects
    assert list(reviews.visible_to(rv.supervisor)) == [done]
    assert list(reviews.visible_to(government)) == [done]
    assert list(reviews.visible_to(body_admin)) == [done]
    for user in (rv.mh_supervisor, other_admin, inspector, contact, anonymous):
        assert not reviews.visible_to(user).exists()
    sheets = ScoreSheet.objects
    assert sheets.visible_to(rv.supervisor).count() == 1 and sheets.visible_to(body_admin).count() == 1
    assert not sheets.visible_to(rv.mh_supervisor).exists()
    assert not sheets.visible_to(contact).exists() and not sheets.visible_to(anonymous).exists()
    # Rounds are public from the commitment on; who was drawn is public once revealed.
    assert SamplingRound.objects.visible_to(anonymous).count() == 1
    assert SampledBody.objects.visible_to(anonymous).count() == 3
    assert sampling.can_review(rv.supervisor, rv.sampled) and not sampling.can_review(body_admin, rv.sampled)


def test_a_city_wide_sheet_serves_the_district(w):
    city_supervisor = user_for(Role.SUPERVISOR, region=w.city)
    city_sheet = sampling.create_score_sheet(
        city_supervisor, name="全市案卷评查评分表", method=Method.CASE_FILE_REVIEW, items=ITEMS
    )
    assert list(ScoreSheet.objects.visible_to(w.supervisor)) == [city_sheet]
    assert not sampling.can_edit_sheet(w.supervisor, city_sheet)
    w.round = revealed(w)
    sampled = SampledBody.objects.filter(round=w.round).first()
    done = sampling.record_review(
        w.supervisor, sampled=sampled, method=Method.CASE_FILE_REVIEW, sheet=city_sheet, scores=full_scores()
    )
    assert done.passed
    minhang_sheet = sampling.create_score_sheet(
        w.mh_supervisor, name="闵行评分表", method=Method.DOCUMENT_REVIEW, items=ITEMS
    )
    assert minhang_sheet not in ScoreSheet.objects.visible_to(w.supervisor)
    with pytest.raises(DomainError, match="不适用于"):
        sampling.record_review(
            w.supervisor,
            sampled=sampled,
            method=Method.DOCUMENT_REVIEW,
            sheet=minhang_sheet,
            scores=full_scores(),
        )
