"""Quarterly sampling of enforcement bodies (F-31; seed 003 二（一）1): each quarter at least 10% of a region's
enterprise-related enforcement bodies, never fewer than one, are drawn verifiably and reviewed by document
review, on-site observation and case file review, each scored on a configurable score sheet.

The draw is made in two steps with the primitives of the plans' random draw (`plans/draws.py`): `commit_round`
snapshots the region's active bodies, publishes the snapshot's hash and a commitment to a secret seed;
`reveal_round` publishes the seed and the bodies drawn. docs/sampling.md specifies algorithm jcm-sampling-v1
byte by byte and `scripts/verify_sampling.py` re-runs it from the published JSON with nothing but Python.
A review below the pass mark, or with an item marked as a problem, becomes a finding.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from jianchama.core import audit
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied, raise_if
from jianchama.core.formats import chinese_date
from jianchama.core.models import User
from jianchama.core.roles import Role
from jianchama.core.workdays import add_working_days
from jianchama.plans.draws import Stream, commitment_of, partial_shuffle, sha256_hex, timestamp
from jianchama.registry import legal_acts
from jianchama.registry.legal_acts import LegalAct
from jianchama.registry.models import EnforcementBody, Region

from .models import (
    Finding,
    Method,
    SampledBody,
    SamplingReview,
    SamplingRound,
    SamplingShortfall,
    ScoreSheet,
    Severity,
)
from .services import create_finding, evidence_entry

ALGORITHM = "jcm-sampling-v1"
MIN_RATIO = Decimal("0.1")
RATIO_PLACES = 6
MAX_SHEET_ITEMS = 50
MAX_ITEM_POINTS = 1000

AUDIT_ACTIONS = {
    "sampling.committed": "公布季度抽查承诺值",
    "sampling.revealed": "季度抽查抽取并公开结果",
    "sampling.withdrawn": "撤销季度抽查",
    "sampling.sheet_created": "新建抽查评分表",
    "sampling.sheet_updated": "修改抽查评分表",
    "sampling.reviewed": "登记抽查评查结果",
    "sampling.shortfall": "发现抽查未落实",
}
audit.register_actions(AUDIT_ACTIONS)

ROUND_FIELDS = [
    "region",
    "year",
    "quarter",
    "algorithm",
    "ratio",
    "body_count",
    "pool_hash",
    "seed_commitment",
    "status",
    "withdrawal_reason",
]
SHEET_FIELDS = ["region", "name", "method", "items", "pass_score", "is_active"]
REVIEW_FIELDS = [
    "sampled",
    "method",
    "sheet",
    "scores",
    "total",
    "full_marks",
    "pass_score",
    "passed",
    "notes",
    "reviewed_on",
    "finding",
]

# One table of allowed transitions for a round.
ROUND_TRANSITIONS = {
    SamplingRound.Status.COMMITTED: {SamplingRound.Status.REVEALED, SamplingRound.Status.WITHDRAWN},
    SamplingRound.Status.REVEALED: set(),
    SamplingRound.Status.WITHDRAWN: set(),
}


def default_ratio() -> str:
    """settings.SAMPLING_RATIO, the share of bodies drawn each quarter (may be raised, never below 0.1)."""
    return str(getattr(settings, "SAMPLING_RATIO", "0.1"))


def default_pass_score() -> int:
    """settings.SAMPLING_PASS_SCORE: the pass mark as a percentage of a sheet's full marks (default 60)."""
    return int(getattr(settings, "SAMPLING_PASS_SCORE", 60))


# --- The algorithm (docs/sampling.md, "Algorithm jcm-sampling-v1"); pure, no database ------------------------


def encode_pool(pool: Iterable[Sequence[str]]) -> bytes:
    """One line per body, `CODE TAB NAME LF`, in the pool's order (sorted by code)."""
    return "".join([f"{code}\t{name}\n" for code, name in pool]).encode("utf-8")


def count_for(pool_size: int, ratio: str) -> int:
    """max(1, ⌈ratio × pool size⌉), in exact decimal arithmetic; 0 for an empty pool."""
    if pool_size == 0:
        return 0
    return max(1, math.ceil(Decimal(ratio) * pool_size))


def stream_key(
    *, seed: str, pool_hash: str, region: str, year: int, quarter: int, committed_at: str
) -> bytes:
    text = f"{ALGORITHM}\n{seed}\n{pool_hash}\n{region}\n{year}-Q{quarter}\n{committed_at}\n"
    return hashlib.sha256(text.encode("utf-8")).digest()


def run_sampling(record: Mapping[str, Any]) -> list[str]:
    """The draw, from a record shaped as the published JSON (seed included): the body codes in drawn order."""
    if record["algorithm"] != ALGORITHM:
        raise DomainError(f"不支持的抽取算法：{record['algorithm']}")
    stream = Stream(
        stream_key(
            seed=record["seed"],
            pool_hash=record["pool_hash"],
            region=record["region"]["code"],
            year=record["year"],
            quarter=record["quarter"],
            committed_at=record["committed_at"],
        )
    )
    codes = [code for code, _name in record["pool"]]
    return partial_shuffle(codes, record["body_count"], stream)


# --- Quarters and ratios ------------------------------------------------------------------------------------


def quarter_of(day: datetime.date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def quarter_bounds(year: int, quarter: int) -> tuple[datetime.date, datetime.date]:
    start = datetime.date(year, 3 * quarter - 2, 1)
    end = datetime.date(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1)
    return start, end - datetime.timedelta(days=1)


def normalise_ratio(raw: Any) -> tuple[str, list[str]]:
    """The ratio as a canonical decimal string, and what is wrong with it."""
    try:
        ratio = Decimal(str(raw).strip().rstrip("%")) / (100 if str(raw).strip().endswith("%") else 1)
    except (InvalidOperation, ValueError):
        return "", [f"抽查比例「{raw}」不是数字"]
    if not ratio.is_finite():
        return "", [f"抽查比例「{raw}」不是数字"]
    if ratio < MIN_RATIO:
        return "", [f"抽查比例不得低于10%（当前为{_percent(ratio)}）"]
    if ratio > 1:
        return "", [f"抽查比例不能超过100%（当前为{_percent(ratio)}）"]
    if ratio != round(ratio, RATIO_PLACES):
        return "", [f"抽查比例最多保留{RATIO_PLACES}位小数"]
    text = format(ratio.normalize(), "f")
    return text, []


def _percent(ratio: Decimal) -> str:
    return f"{format((ratio * 100).normalize(), 'f')}%"


def percent(ratio: str) -> str:
    return _percent(Decimal(ratio))


# --- Who may do what ------------------------------------------------------------------------------------


def _supervises_region(user, region: Region) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_platform_admin:
        return True
    return (
        user.role == Role.SUPERVISOR
        and user.region_id is not None
        and region.path.startswith(user.region.path)
    )


def can_commit(user) -> bool:
    return user.is_authenticated and (
        user.is_platform_admin or (user.role == Role.SUPERVISOR and user.region_id is not None)
    )


def can_manage_round(user, sampling_round: SamplingRound) -> bool:
    return _supervises_region(user, sampling_round.region)


def can_review(user, sampled: SampledBody) -> bool:
    return sampled.round.status == SamplingRound.Status.REVEALED and legal_acts.may_perform(
        user, LegalAct.SAMPLING_REVIEW, sampled.body
    )


def can_edit_sheet(user, sheet: ScoreSheet) -> bool:
    return _supervises_region(user, sheet.region)


def _transition(sampling_round: SamplingRound, to: str) -> None:
    if to not in ROUND_TRANSITIONS[sampling_round.status]:
        raise InvalidTransition(
            f"{sampling_round}当前状态为「{sampling_round.get_status_display()}」，"
            f"不能改为「{SamplingRound.Status(to).label}」"
        )
    sampling_round.status = to


def _record(actor, action: str, obj, before: dict | None, fields: list[str], **extra: Any) -> None:
    after = audit.snapshot(obj, fields)
    after.update(extra)
    audit.record(actor=actor, action=action, obj=obj, before=before, after=after)


# --- Commit ---------------------------------------------------------------------------------------------


def _clean(text: str) -> str:
    return " ".join(text.replace("\t", " ").replace("\r", " ").replace("\n", " ").split())


def snapshot_pool(region: Region) -> list[list[str]]:
    """The region's active bodies as `[code, name]` pairs, sorted by code in Python's (byte) order whatever the
    database's collation."""
    pairs = (
        EnforcementBody.objects.filter(is_active=True, region__path__startswith=region.path)
        .order_by()
        .values_list("code", "name")
    )
    return sorted([code, _clean(name)] for code, name in pairs)


def _region_for(actor, region: Region | None) -> Region:
    if region is not None:
        return region
    if isinstance(actor, str) or actor.region_id is None:
        raise DomainError("请选择抽查的区域")
    return actor.region


@transaction.atomic
def commit_round(
    actor,
    *,
    year: int,
    quarter: int,
    region: Region | None = None,
    ratio: str | Decimal | None = None,
) -> SamplingRound:
    """Snapshot the region's active bodies and publish the snapshot's hash and the seed's commitment; the seed
    stays secret until `reveal_round`. `actor` is a supervisor of the region, or the text "系统" for the job."""
    region = _region_for(actor, region)
    if not isinstance(actor, str) and not _supervises_region(actor, region):
        raise PermissionDenied(f"只有{region.name}司法局的执法监督人员可以发起{region.name}的季度抽查")
    problems = []
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        problems.append("年度无效")
    if not isinstance(quarter, int) or not 1 <= quarter <= 4:
        problems.append("季度应为1至4")
    ratio_text, ratio_problems = normalise_ratio(default_ratio() if ratio in (None, "") else ratio)
    problems += ratio_problems
    raise_if(problems, "季度抽查未发起")
    _start, end = quarter_bounds(year, quarter)
    if end < timezone.localdate():
        problems.append(f"{year}年第{quarter}季度已于{chinese_date(end)}结束，不能再发起该季度的抽查")
    # Lock the region's row so that two supervisors committing at once cannot both pass the check below.
    Region.objects.select_for_update().filter(pk=region.pk).first()
    live = SamplingRound.objects.live().filter(region=region, year=year, quarter=quarter).first()
    if live is not None:
        problems.append(
            f"{region.name}{year}年第{quarter}季度已有抽查（#{live.pk}，{live.get_status_display()}），"
            "每个季度只能有一次有效抽查；如需重新抽取，请先撤销待抽取的那一次"
        )
    pool = snapshot_pool(region)
    if not pool:
        problems.append(f"{region.name}没有有效的执法单位，无从抽查")
    bad = [code for code, _name in pool if any(c in code for c in "\t\n\r")]
    if bad:
        problems.append(f"单位编码{'、'.join(bad)}含有制表符或换行，不能写入快照，请先更正")
    raise_if(problems, "季度抽查未发起")

    seed = secrets.token_bytes(32).hex()
    try:
        with transaction.atomic():
            sampling_round = SamplingRound.objects.create(
                region=region,
                year=year,
                quarter=quarter,
                algorithm=ALGORITHM,
                ratio=ratio_text,
                body_count=count_for(len(pool), ratio_text),
                pool=pool,
                pool_hash=sha256_hex(encode_pool(pool)),
                seed_commitment=commitment_of(seed),
                seed=seed,
                created_by=None if isinstance(actor, str) else actor,
            )
    except IntegrityError as error:  # the unique live round, if the lock above was not enough (SQLite)
        raise DomainError(
            f"{region.name}{year}年第{quarter}季度已有抽查，每个季度只能有一次有效抽查"
        ) from error
    _record(actor, "sampling.committed", sampling_round, None, ROUND_FIELDS, pool_size=len(pool))
    return sampling_round


def commit_quarterly_rounds(today: datetime.date | None = None) -> list[SamplingRound]:
    """The job: for every district with active bodies and no live round this quarter, commit one as "系统".
    Idempotent: a second run the same quarter commits nothing. Revealing stays a supervisor's act."""
    year, quarter = quarter_of(today or timezone.localdate())
    committed = []
    for region in Region.objects.filter(level=Region.Level.DISTRICT):
        if SamplingRound.objects.live().filter(region=region, year=year, quarter=quarter).exists():
            continue
        if not EnforcementBody.objects.filter(is_active=True, region__path__startswith=region.path).exists():
            continue
        committed.append(commit_round("系统", region=region, year=year, quarter=quarter))
    return committed


# --- Reveal and withdraw --------------------------------------------------------------------------------


def _locked_round(sampling_round: SamplingRound) -> SamplingRound:
    return SamplingRound.objects.select_for_update().select_related("region").get(pk=sampling_round.pk)


def record_of(sampling_round: SamplingRound, *, with_seed: bool = True) -> dict[str, Any]:
    """The algorithm's input, shaped as in the published JSON."""
    record = {
        "algorithm": sampling_round.algorithm,
        "region": {"code": sampling_round.region.code, "name": sampling_round.region.name},
        "year": sampling_round.year,
        "quarter": sampling_round.quarter,
        "ratio": sampling_round.ratio,
        "body_count": sampling_round.body_count,
        "committed_at": timestamp(sampling_round.committed_at),
        "pool": sampling_round.pool,
        "pool_hash": sampling_round.pool_hash,
        "seed_commitment": sampling_round.seed_commitment,
    }
    if with_seed:
        record["seed"] = sampling_round.seed
    return record


def _integrity_problems(sampling_round: SamplingRound) -> list[str]:
    problems = []
    if sha256_hex(encode_pool(sampling_round.pool)) != sampling_round.pool_hash:
        problems.append("执法单位库快照与承诺时公布的散列值不符")
    if commitment_of(sampling_round.seed) != sampling_round.seed_commitment:
        problems.append("随机种子与承诺值不符")
    if sampling_round.body_count != count_for(len(sampling_round.pool), sampling_round.ratio):
        problems.append("抽取单位数与抽查比例不符")
    return problems


@transaction.atomic
def reveal_round(actor, *, sampling_round: SamplingRound) -> SamplingRound:
    """Publish the seed, run the algorithm and record the bodies drawn, in order. A body of the snapshot that
    has since been deactivated is still drawn as published: the draw is what was committed to."""
    sampling_round = _locked_round(sampling_round)
    if not can_manage_round(actor, sampling_round):
        raise PermissionDenied(f"只有{sampling_round.region.name}司法局的执法监督人员可以进行抽取")
    before = audit.snapshot(sampling_round, ROUND_FIELDS)
    _transition(sampling_round, SamplingRound.Status.REVEALED)
    raise_if(_integrity_problems(sampling_round), "未抽取")
    result = run_sampling(record_of(sampling_round))
    bodies = EnforcementBody.objects.in_bulk(result, field_name="code")
    raise_if([f"单位编码为{code}的执法单位已不在名录中" for code in result if code not in bodies], "未抽取")
    SampledBody.objects.bulk_create(
        [SampledBody(round=sampling_round, body=bodies[code], position=n) for n, code in enumerate(result, 1)]
    )
    sampling_round.result = result
    sampling_round.revealed_at = timezone.now()
    sampling_round.save(update_fields=["status", "result", "revealed_at"])
    _record(
        actor,
        "sampling.revealed",
        sampling_round,
        before,
        ROUND_FIELDS,
        seed=sampling_round.seed,
        result=result,
    )
    return sampling_round


@transaction.atomic
def withdraw_round(actor, *, sampling_round: SamplingRound, reason: str) -> SamplingRound:
    """Abandon a committed round (e.g. the registry of bodies was found wrong). Its seed is published with it,
    so anyone can see what it would have drawn: withdrawing is no quiet way to draw again."""
    sampling_round = _locked_round(sampling_round)
    if not can_manage_round(actor, sampling_round):
        raise PermissionDenied(f"只有{sampling_round.region.name}司法局的执法监督人员可以撤销季度抽查")
    before = audit.snapshot(sampling_round, ROUND_FIELDS)
    _transition(sampling_round, SamplingRound.Status.WITHDRAWN)
    raise_if([] if reason.strip() else ["请写明撤销原因（将与随机种子一并公开）"], "季度抽查未撤销")
    sampling_round.withdrawn_at = timezone.now()
    sampling_round.withdrawal_reason = reason.strip()
    sampling_round.save(update_fields=["status", "withdrawn_at", "withdrawal_reason"])
    _record(actor, "sampling.withdrawn", sampling_round, before, ROUND_FIELDS, seed=sampling_round.seed)
    return sampling_round


def published_record(sampling_round: SamplingRound) -> dict[str, Any]:
    """What `/supervision/sampling/<id>.json` serves: the commitment first; the seed once revealed or
    withdrawn; the result once revealed."""
    record: dict[str, Any] = {"format": "jianchama-sampling-round", "round": sampling_round.pk}
    record["status"] = sampling_round.status
    record.update(record_of(sampling_round, with_seed=False))
    if sampling_round.status == SamplingRound.Status.WITHDRAWN:
        record["withdrawn_at"] = timestamp(sampling_round.withdrawn_at)
        record["withdrawal_reason"] = sampling_round.withdrawal_reason
        record["seed"] = sampling_round.seed
    if sampling_round.status == SamplingRound.Status.REVEALED:
        names = dict((code, name) for code, name in sampling_round.pool)
        record["revealed_at"] = timestamp(sampling_round.revealed_at)
        record["seed"] = sampling_round.seed
        record["result"] = sampling_round.result
        record["bodies"] = [{"code": code, "name": names.get(code, "")} for code in sampling_round.result]
        record["reviews"] = published_reviews(sampling_round)
        raise_if(
            review_problems(
                record["result"], record["bodies"], record["reviews"], stored=_stored_codes(sampling_round)
            ),
            "季度抽查公开记录与抽中单位、评查记录不一致，暂不公开",
        )
    return record


def published_reviews(sampling_round: SamplingRound) -> list[dict[str, str]]:
    """The round's reviews as published: which drawn body was reviewed by which method, and when — no
    score, no finding (those stay with the bureau and the body). Sorted by body code, then method, in
    code-point order."""
    rows = SamplingReview.objects.filter(sampled__round=sampling_round).values_list(
        "sampled__body__code", "method", "reviewed_on"
    )
    return [
        {"code": code, "method": method, "reviewed_on": day.isoformat()} for code, method, day in sorted(rows)
    ]


def _stored_codes(sampling_round: SamplingRound) -> list[str]:
    return list(
        SampledBody.objects.filter(round=sampling_round)
        .order_by("position")
        .values_list("body__code", flat=True)
    )


def review_problems(
    result: Sequence[str],
    bodies: Sequence[Mapping[str, Any]],
    reviews: Sequence[Mapping[str, Any]],
    *,
    stored: Sequence[str] | None = None,
) -> list[str]:
    """The round's drawn bodies and reviews against its result (docs/sampling.md, "Verify"): the bodies listed
    are exactly the result, in order (and, on the platform, the SampledBody rows are too); every review is of
    a drawn body, by one of the three methods, at most once per body and method. The same check as
    `scripts/verify_sampling.py`."""
    problems = []
    if [b.get("code") for b in bodies] != list(result):
        problems.append("公布的抽中单位与抽取结果不一致")
    if stored is not None and list(stored) != list(result):
        problems.append("平台登记的抽中单位与抽取结果不一致")
    drawn, seen = set(result), set()
    for review in reviews:
        code, method = review.get("code"), review.get("method")
        if code not in drawn:
            problems.append(f"评查记录中的单位{code}不在抽取结果中")
        if method not in Method.values:
            problems.append(f"单位{code}的评查方式「{method}」不是三种抽查方式之一")
        if (code, method) in seen:
            problems.append(f"单位{code}以同一方式评查了两次")
        seen.add((code, method))
    return problems


# --- Score sheets ---------------------------------------------------------------------------------------


def normalise_items(items: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """Score sheet items as `[{"name", "max"}]`, and every problem with them."""
    if not isinstance(items, list) or not items:
        return [], ["评分表至少要有一个评分项目"]
    problems: list[str] = []
    clean: list[dict[str, Any]] = []
    seen: set[str] = set()
    if len(items) > MAX_SHEET_ITEMS:
        problems.append(f"评分项目不能超过{MAX_SHEET_ITEMS}项")
    for n, item in enumerate(items, start=1):
        name = _clean(str(item.get("name", ""))) if isinstance(item, Mapping) else ""
        raw = item.get("max") if isinstance(item, Mapping) else None
        if not name:
            problems.append(f"第{n}项评分项目没有名称")
            continue
        if len(name) > 100:
            problems.append(f"评分项目「{name[:20]}…」名称过长（最多100字）")
            continue
        if name in seen:
            problems.append(f"评分项目「{name}」重复")
            continue
        seen.add(name)
        try:
            points = int(str(raw).strip())
        except (TypeError, ValueError):
            problems.append(f"评分项目「{name}」的分值「{raw}」不是整数")
            continue
        if not 1 <= points <= MAX_ITEM_POINTS:
            problems.append(f"评分项目「{name}」的分值应在1至{MAX_ITEM_POINTS}之间（当前为{points}）")
            continue
        clean.append({"name": name, "max": points})
    return clean, problems


def _sheet_problems(name: str, method: str, pass_score: int | None) -> list[str]:
    problems = []
    if not name.strip():
        problems.append("请填写评分表名称")
    if method not in Method.values:
        problems.append("请选择抽查方式")
    if pass_score is not None and (not isinstance(pass_score, int) or not 0 <= pass_score <= 100):
        problems.append("合格线应为0至100之间的整数（得分率%）")
    return problems


@transaction.atomic
def create_score_sheet(
    actor,
    *,
    name: str,
    method: str,
    items: list[dict[str, Any]],
    pass_score: int | None = None,
    region: Region | None = None,
) -> ScoreSheet:
    """A score sheet for one method, for the supervisor's region."""
    if not can_commit(actor):
        raise PermissionDenied("只有司法局执法监督人员可以制定抽查评分表")
    region = _region_for(actor, region)
    if not _supervises_region(actor, region):
        raise PermissionDenied(f"只有{region.name}司法局的执法监督人员可以制定该区域的评分表")
    clean, problems = normalise_items(items)
    raise_if(_sheet_problems(name, method, pass_score) + problems, "评分表未保存")
    sheet = ScoreSheet.objects.create(
        region=region,
        name=name.strip()[:100],
        method=method,
        items=clean,
        pass_score=pass_score,
        created_by=actor,
    )
    _record(actor, "sampling.sheet_created", sheet, None, SHEET_FIELDS)
    return sheet


@transaction.atomic
def update_score_sheet(actor, *, sheet: ScoreSheet, **changes: Any) -> ScoreSheet:
    """Change a sheet's name, method, items, pass mark or whether it is in use. Reviews already made keep the
    items and pass mark they were scored on."""
    sheet = ScoreSheet.objects.select_for_update().select_related("region").get(pk=sheet.pk)
    if not can_edit_sheet(actor, sheet):
        raise PermissionDenied(f"只有{sheet.region.name}司法局的执法监督人员可以修改该评分表")
    unknown = set(changes) - {"name", "method", "items", "pass_score", "is_active"}
    if unknown:
        raise DomainError(f"评分表没有这些内容：{'、'.join(sorted(unknown))}")
    before = audit.snapshot(sheet, SHEET_FIELDS)
    name = changes.get("name", sheet.name)
    method = changes.get("method", sheet.method)
    pass_score = changes.get("pass_score", sheet.pass_score)
    items, problems = normalise_items(changes.get("items", sheet.items))
    if method != sheet.method and sheet.reviews.exists():
        problems.append("该评分表已用于评查，不能改变抽查方式；请另建一张评分表")
    raise_if(_sheet_problems(name, method, pass_score) + problems, "评分表未保存")
    sheet.name, sheet.method, sheet.items, sheet.pass_score = name.strip()[:100], method, items, pass_score
    sheet.is_active = bool(changes.get("is_active", sheet.is_active))
    sheet.save()
    _record(actor, "sampling.sheet_updated", sheet, before, SHEET_FIELDS)
    return sheet


# --- Reviews --------------------------------------------------------------------------------------------


def _score_problems(
    sheet: ScoreSheet, scores: Mapping[str, Any], problem_items: Iterable[str], item_notes: Mapping[str, str]
) -> tuple[list[dict[str, Any]], list[str]]:
    names = [item["name"] for item in sheet.items]
    problems = []
    entries = []
    flagged = set(problem_items)
    for unknown in sorted((set(scores) | flagged | set(item_notes)) - set(names)):
        problems.append(f"评分表「{sheet.name}」没有「{unknown}」这一项")
    for item in sheet.items:
        raw = scores.get(item["name"])
        if raw is None or str(raw).strip() == "":
            problems.append(f"请为「{item['name']}」打分")
            continue
        try:
            score = int(str(raw).strip())
        except ValueError:
            problems.append(f"「{item['name']}」的得分「{raw}」不是整数")
            continue
        if not 0 <= score <= item["max"]:
            problems.append(f"「{item['name']}」的得分应在0至{item['max']}分之间（当前为{score}）")
            continue
        note = _clean(str(item_notes.get(item["name"], "")))[:500]
        if item["name"] in flagged and not note:
            problems.append(f"「{item['name']}」标记为存在问题，请写明问题")
        entries.append(
            {
                "name": item["name"],
                "max": item["max"],
                "score": score,
                "problem": item["name"] in flagged,
                "note": note,
            }
        )
    return entries, problems


@transaction.atomic
def record_review(
    actor,
    *,
    sampled: SampledBody,
    method: str,
    sheet: ScoreSheet,
    scores: Mapping[str, Any],
    problem_items: Iterable[str] = (),
    item_notes: Mapping[str, str] | None = None,
    notes: str = "",
    reviewed_on: datetime.date | None = None,
) -> SamplingReview:
    """Score one sampled body by one method on a score sheet (`scores`: item name → points). A total below the
    pass mark, or an item marked as a problem, registers a finding (source 抽查) with the review as evidence."""
    sampled = SampledBody.objects.select_related("round__region", "body__region").get(pk=sampled.pk)
    legal_acts.require(actor, LegalAct.SAMPLING_REVIEW, sampled.body, "登记抽查评查")
    if sampled.round.status != SamplingRound.Status.REVEALED:
        raise InvalidTransition(f"{sampled.round}尚未抽取，不能登记评查")
    today = timezone.localdate()
    reviewed_on = reviewed_on or today
    problems = []
    if method not in Method.values:
        problems.append("请选择抽查方式")
    if sheet.method != method:
        problems.append(f"评分表「{sheet.name}」用于「{sheet.get_method_display()}」，与所选抽查方式不符")
    if not sheet.is_active:
        problems.append(f"评分表「{sheet.name}」已停用")
    if not sheet.region.path or not sampled.body.region.path.startswith(sheet.region.path):
        problems.append(f"评分表「{sheet.name}」不适用于{sampled.body.name}所在区域")
    if reviewed_on > today:
        problems.append("评查日期不能晚于今天")
    if sampled.round.revealed_at and reviewed_on < timezone.localdate(sampled.round.revealed_at):
        problems.append(
            f"评查日期不能早于抽取日期（{chinese_date(timezone.localdate(sampled.round.revealed_at))}）"
        )
    entries, score_problems = _score_problems(sheet, scores, problem_items, item_notes or {})
    problems += score_problems
    existing = SamplingReview.objects.filter(sampled=sampled, method=method).first()
    if existing is not None:
        problems.append(
            f"{sampled.body.name}本季度的「{Method(method).label}」已于{chinese_date(existing.reviewed_on)}评查"
        )
    raise_if(problems, "评查结果未保存")

    total = sum(entry["score"] for entry in entries)
    full = sum(entry["max"] for entry in entries)
    pass_score = sheet.pass_score if sheet.pass_score is not None else default_pass_score()
    # total / full ≥ pass_score %, in integers
    passed = total * 100 >= pass_score * full
    review = SamplingReview.objects.create(
        sampled=sampled,
        method=method,
        sheet=sheet,
        scores=entries,
        total=total,
        full_marks=full,
        pass_score=pass_score,
        passed=passed,
        notes=notes.strip(),
        reviewed_on=reviewed_on,
        reviewer=actor,
    )
    flagged = [entry for entry in entries if entry["problem"]]
    if not passed or flagged:
        review.finding = create_finding(
            actor,
            source=Finding.Source.SAMPLING,
            body=sampled.body,
            title=_finding_title(review, flagged),
            description=_finding_description(review, flagged),
            severity=Severity.MEDIUM if not passed else Severity.LOW,
            period=reviewed_on,
            evidence=[evidence_entry(review)],
        )
        review.save(update_fields=["finding"])
    _record(actor, "sampling.reviewed", review, None, REVIEW_FIELDS)
    return review


def _finding_title(review: SamplingReview, flagged: list[dict[str, Any]]) -> str:
    what = f"{review.sampled.round.period_label}抽查（{review.get_method_display()}）"
    if not review.passed:
        return f"{what}得分{review.total}/{review.full_marks}，低于合格线{review.pass_score}%"
    return f"{what}发现问题：{'、'.join(entry['name'] for entry in flagged)}"


def _finding_description(review: SamplingReview, flagged: list[dict[str, Any]]) -> str:
    lines = [f"评分表：{review.sheet.name}；得分{review.total}分（满分{review.full_marks}分）。"]
    lines += [f"{entry['name']}（{entry['score']}/{entry['max']}分）：{entry['note']}" for entry in flagged]
    if review.notes:
        lines.append(f"评查意见：{review.notes}")
    return "\n".join(lines)


# --- Sampling that silently falls short (seed 003 二（一）1, the supervisors' own work) ---------------------

DEFAULT_COMMIT_WORKING_DAYS = 10
DEFAULT_REVEAL_WORKING_DAYS = 5
SK = SamplingShortfall.Kind


def commit_working_days() -> int:
    """settings.SAMPLING_COMMIT_WORKING_DAYS: the quarter's round is committed by this working day of the
    quarter (default 10)."""
    return int(getattr(settings, "SAMPLING_COMMIT_WORKING_DAYS", DEFAULT_COMMIT_WORKING_DAYS))


def reveal_working_days() -> int:
    """settings.SAMPLING_REVEAL_WORKING_DAYS: the round is revealed within this many working days of its
    commitment (default 5)."""
    return int(getattr(settings, "SAMPLING_REVEAL_WORKING_DAYS", DEFAULT_REVEAL_WORKING_DAYS))


@dataclass
class QuarterProgress:
    """One district's sampling of one quarter against the target: the pool today (or as committed), the
    number the 10% rule asks for, what was drawn and reviewed, and every shortfall found so far."""

    region: Region
    year: int
    quarter: int
    pool_size: int
    target: int
    sampling_round: SamplingRound | None
    drawn: int
    reviewed: int
    commit_due: datetime.date
    reveal_due: datetime.date | None
    shortfalls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def period_label(self) -> str:
        return f"{self.year}年第{self.quarter}季度"

    @property
    def missing(self) -> int:
        return max(0, self.target - self.drawn)

    @property
    def reviewed_percent(self) -> str:
        return f"{self.reviewed * 100 / self.pool_size:.1f}%" if self.pool_size else "—"


def _local_day(moment: datetime.datetime | None) -> datetime.date | None:
    return timezone.localdate(moment) if moment else None


def quarter_progress(region: Region, year: int, quarter: int, today: datetime.date) -> QuarterProgress:
    """The district's sampling of the quarter as of `today`, and its shortfalls: not committed by the
    SAMPLING_COMMIT_WORKING_DAYS-th working day of the quarter; not revealed within SAMPLING_REVEAL_WORKING_DAYS
    working days of the commitment; once the quarter is over, each drawn body without any review dated
    within the quarter. A late commitment or reveal is still a shortfall: it was found when it was late."""
    start, end = quarter_bounds(year, quarter)
    commit_due = add_working_days(start - datetime.timedelta(days=1), commit_working_days())
    rounds = list(
        SamplingRound.objects.filter(region=region, year=year, quarter=quarter).order_by("committed_at")
    )
    live = next((r for r in rounds if r.status in SamplingRound.LIVE), None)
    first_commit = _local_day(rounds[0].committed_at) if rounds else None
    pool_size = (
        len(live.pool)
        if live
        else EnforcementBody.objects.filter(is_active=True, region__path__startswith=region.path).count()
    )
    target = live.body_count if live else count_for(pool_size, default_ratio())
    shortfalls: list[dict[str, Any]] = []
    label = f"{region.name}{year}年第{quarter}季度抽查"
    if (first_commit is None and today > commit_due) or (first_commit and first_commit > commit_due):
        when = f"于{chinese_date(first_commit)}才公布" if first_commit else "至今未公布"
        shortfalls.append(
            {
                "kind": SK.NOT_COMMITTED,
                "key": f"not_committed:{region.code}:{year}-Q{quarter}",
                "round": live,
                "sampled": None,
                "due": commit_due,
                "description": f"{label}应于本季度第{commit_working_days()}个工作日"
                f"（{chinese_date(commit_due)}）前公布承诺值，{when}",
            }
        )
    reveal_due = None
    drawn = reviewed = 0
    if live is not None:
        reveal_due = add_working_days(_local_day(live.committed_at), reveal_working_days())
        revealed_on = _local_day(live.revealed_at)
        if (revealed_on is None and today > reveal_due) or (revealed_on and revealed_on > reveal_due):
            when = f"于{chinese_date(revealed_on)}才抽取" if revealed_on else "至今未抽取"
            shortfalls.append(
                {
                    "kind": SK.NOT_REVEALED,
                    "key": f"not_revealed:{live.pk}",
                    "round": live,
                    "sampled": None,
                    "due": reveal_due,
                    "description": f"{label}承诺值公布后应在{reveal_working_days()}个工作日内"
                    f"（{chinese_date(reveal_due)}前）抽取，{when}",
                }
            )
        if live.status == SamplingRound.Status.REVEALED:
            sampled = list(live.sampled.select_related("body").order_by("position"))
            drawn = len(sampled)
            done = set(
                SamplingReview.objects.filter(sampled__round=live, reviewed_on__lte=end).values_list(
                    "sampled_id", flat=True
                )
            )
            reviewed = len(done)
            if today > end:
                for s in sampled:
                    if s.pk not in done:
                        shortfalls.append(
                            {
                                "kind": SK.NOT_REVIEWED,
                                "key": f"not_reviewed:{s.pk}",
                                "round": live,
                                "sampled": s,
                                "due": end,
                                "description": f"{label}抽中的{s.body.name}至季度末（{chinese_date(end)}）"
                                "未经任何方式评查",
                            }
                        )
    return QuarterProgress(
        region=region,
        year=year,
        quarter=quarter,
        pool_size=pool_size,
        target=target,
        sampling_round=live,
        drawn=drawn,
        reviewed=reviewed,
        commit_due=commit_due,
        reveal_due=reveal_due,
        shortfalls=shortfalls,
    )


def _previous_quarter(year: int, quarter: int) -> tuple[int, int]:
    return (year, quarter - 1) if quarter > 1 else (year - 1, 4)


def checked_quarters(today: datetime.date) -> list[tuple[int, int]]:
    """This quarter and the last, less any that ended before settings.SAMPLING_SHORTFALLS_SINCE (an ISO date;
    empty by default: both checked), so that a platform going live mid-quarter does not blame the bureau for
    a quarter it could not sample in it."""
    this = quarter_of(today)
    since = getattr(settings, "SAMPLING_SHORTFALLS_SINCE", "") or ""
    quarters = [this, _previous_quarter(*this)]
    if since:
        first = datetime.date.fromisoformat(str(since))
        quarters = [q for q in quarters if quarter_bounds(*q)[1] >= first]
    return quarters


def sampling_districts(user=None):
    """The districts with active bodies (those the quarterly job samples), within `user`'s region if given."""
    districts = Region.objects.filter(level=Region.Level.DISTRICT).order_by("code")
    if user is not None and not user.is_platform_admin:
        if user.region_id is None:
            return districts.none()
        districts = districts.filter(path__startswith=user.region.path)
    return [
        d
        for d in districts
        if EnforcementBody.objects.filter(is_active=True, region__path__startswith=d.path).exists()
    ]


def progress_for(user, today: datetime.date | None = None) -> list[QuarterProgress]:
    """The sampling page's table against the 10% target: this quarter and the last, for each district in a
    supervisor's or the district government's region (empty for anyone else)."""
    if not user.is_authenticated or not (
        user.is_platform_admin or user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT)
    ):
        return []
    today = today or timezone.localdate()
    quarters = checked_quarters(today)
    return [quarter_progress(d, y, q, today) for d in sampling_districts(user) for y, q in quarters]


def record_shortfalls(today: datetime.date | None = None) -> list[SamplingShortfall]:
    """The daily job: store each shortfall of this quarter and the last not stored yet, and tell the
    district's supervisors of it. Idempotent (the key is unique); returns the new ones."""
    from jianchama.notifications.services import notify_user

    today = today or timezone.localdate()
    new: list[SamplingShortfall] = []
    for district in sampling_districts():
        # The district bureau's supervisors (towns' included), not the city's: it is their work.
        supervisors = list(
            User.objects.filter(
                role=Role.SUPERVISOR, is_active=True, region__path__startswith=district.path
            ).order_by("pk")
        )
        for year, quarter in checked_quarters(today):
            for s in quarter_progress(district, year, quarter, today).shortfalls:
                with transaction.atomic():
                    row, created = SamplingShortfall.objects.get_or_create(
                        key=s["key"],
                        defaults={
                            "kind": s["kind"],
                            "region": district,
                            "year": year,
                            "quarter": quarter,
                            "sampling_round": s["round"],
                            "sampled": s["sampled"],
                            "due": s["due"],
                            "description": s["description"],
                        },
                    )
                    if not created:
                        continue
                    audit.record(
                        actor="系统",
                        action="sampling.shortfall",
                        obj=row,
                        after={"kind": row.kind, "due": row.due.isoformat(), "description": row.description},
                    )
                    new.append(row)
                    for user in supervisors:
                        notify_user(
                            user=user,
                            event="supervision.sampling_shortfall",
                            subject=f"抽查未落实：{row.get_kind_display()}",
                            body=row.description,
                            related=row,
                        )
    return new
