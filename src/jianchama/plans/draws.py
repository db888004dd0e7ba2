"""Verifiable random draws (双随机, F-14): the algorithm, commit, reveal, withdrawal, conflicts of interest.

A draw is made in two steps. `commit_draw` snapshots the plan's pool of enterprises and the body's pool of
eligible inspectors, publishes their hashes and a commitment to a secret seed; `reveal_draw` publishes the
seed, runs the deterministic algorithm and creates one submitted task per drawn enterprise. Anyone can re-run
the algorithm from the published JSON with `scripts/verify_draw.py`. docs/random-draw.md specifies every byte;
the functions in the first part of this module are that specification in code and touch no database.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import secrets
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from jianchama.core import audit
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied, raise_if
from jianchama.core.formats import chinese_date
from jianchama.core.roles import Role
from jianchama.registry.models import Certificate, Enterprise, InspectionItem, Inspector
from jianchama.registry.qualification import MIN_INSPECTORS

from .models import ConflictOfInterest, Plan, RandomDraw
from .services import plan_pool

ALGORITHM = "jcm-draw-v1"
RATIO_PLACES = 6
RATIO_SCALE = 10**RATIO_PLACES
GRADES = tuple(Enterprise.RiskGrade.values)
ALL_ENTERPRISES = "*"  # a late exclusion that applies to every enterprise

AUDIT_ACTIONS = {
    "draw.committed": "公布随机抽取承诺值",
    "draw.revealed": "随机抽取并公开结果",
    "draw.reveal_queued": "随机抽取已交后台任务队列执行",
    "draw.withdrawn": "撤销随机抽取",
    "conflict.recorded": "登记利益冲突",
}
audit.register_actions(AUDIT_ACTIONS)

DRAW_FIELDS = [
    "plan",
    "algorithm",
    "enterprise_count",
    "inspectors_per_task",
    "strata",
    "pool_hash",
    "inspector_pool_hash",
    "seed_commitment",
    "status",
    "window_start",
    "window_end",
    "withdrawn_at",
    "withdrawal_reason",
]


class DrawError(DomainError):
    """The algorithm cannot complete on this input (a stratum or an enterprise's inspectors run short)."""

    def __init__(self, message: str, *, uscc: str = ""):
        super().__init__(message)
        self.uscc = uscc


# --- The algorithm (docs/random-draw.md, "Algorithm jcm-draw-v1"); pure, no database --------------------


def encode_pool(pool: Iterable[Sequence[str]]) -> bytes:
    """One line per enterprise, `USCC TAB GRADE LF`, in the pool's order (sorted by USCC)."""
    return "".join([f"{uscc}\t{grade}\n" for uscc, grade in pool]).encode("utf-8")


def inspector_key(inspector: Mapping[str, Any]) -> str:
    """An inspector is named by the smallest of its certificate numbers."""
    return inspector["certificates"][0]


def encode_inspector_pool(inspectors: Iterable[Mapping[str, Any]]) -> bytes:
    """One line per inspector, `CERTIFICATES TAB NAME TAB CONFLICTS LF`, lists joined by commas."""
    return "".join(
        [f"{','.join(i['certificates'])}\t{i['name']}\t{','.join(i['conflicts'])}\n" for i in inspectors]
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def commitment_of(seed: str) -> str:
    """The seed commitment: SHA-256 of the seed's 32 bytes (the seed is written as 64 hex digits)."""
    return sha256_hex(bytes.fromhex(seed))


def stream_key(*, seed: str, pool_hash: str, inspector_pool_hash: str, committed_at: str) -> bytes:
    text = f"{ALGORITHM}\n{seed}\n{pool_hash}\n{inspector_pool_hash}\n{committed_at}\n"
    return hashlib.sha256(text.encode("ascii")).digest()


class Stream:
    """SHA-256 in counter mode: block i is SHA-256(key || i as 8 bytes big-endian), read as big-endian
    32-bit words; `below(n)` rejects words at or above the largest multiple of n, so every index is equally
    likely."""

    def __init__(self, key: bytes):
        self._key = key
        self._counter = 0
        self._words: tuple[int, ...] = ()
        self._next = 0

    def word(self) -> int:
        if self._next == len(self._words):
            block = hashlib.sha256(self._key + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
            self._words = struct.unpack(">8I", block)
            self._next = 0
        word = self._words[self._next]
        self._next += 1
        return word

    def below(self, n: int) -> int:
        if not 0 < n <= 2**32:
            raise ValueError(f"n out of range: {n}")
        limit = 2**32 - 2**32 % n
        while True:
            word = self.word()
            if word < limit:
                return word % n


def partial_shuffle(items: list, k: int, stream: Stream) -> list:
    """The first k steps of the forward Fisher–Yates shuffle, in place; returns the first k items."""
    n = len(items)
    for i in range(k):
        j = i + stream.below(n - i)
        items[i], items[j] = items[j], items[i]
    return items[:k]


def ratio_units(ratio: str) -> int:
    """A ratio (a decimal string with at most six places) in millionths."""
    scaled = Decimal(ratio) * RATIO_SCALE
    if scaled != scaled.to_integral_value():
        raise ValueError(f"more than {RATIO_PLACES} decimal places: {ratio}")
    return int(scaled)


def allocate(strata: Mapping[str, str], count: int) -> dict[str, int]:
    """How many to draw from each grade: the floor of ratio × count, then one more to each of the grades with
    the largest remainders until `count` is reached (ties go to the earlier grade)."""
    grades = sorted(strata)
    exact = {grade: ratio_units(strata[grade]) * count for grade in grades}
    quota = {grade: exact[grade] // RATIO_SCALE for grade in grades}
    left = count - sum(quota.values())
    for grade in sorted(grades, key=lambda g: (-(exact[g] % RATIO_SCALE), g))[:left]:
        quota[grade] += 1
    return quota


def draw_enterprises(
    pool: Sequence[Sequence[str]], count: int, strata: Mapping[str, str], stream: Stream
) -> list[Sequence[str]]:
    if strata:
        quota = allocate(strata, count)
        members: dict[str, list] = {grade: [] for grade in quota}
        for entry in pool:
            group = members.get(entry[1])
            if group is not None:
                group.append(entry)
        groups = [(grade, members[grade], quota[grade]) for grade in sorted(quota)]
    else:
        groups = [("", list(pool), count)]
    drawn: list[Sequence[str]] = []
    for grade, group, k in groups:
        if k > len(group):
            where = f"风险等级{grade}的企业" if grade else "企业库"
            raise DrawError(f"{where}只有{len(group)}户，少于应抽取的{k}户")
        drawn += partial_shuffle(group, k, stream)
    return drawn


def draw_inspectors(
    drawn: Sequence[Sequence[str]],
    inspector_pool: Sequence[Mapping[str, Any]],
    per_task: int,
    late_exclusions: Sequence[Mapping[str, str]],
    stream: Stream,
) -> list[dict[str, Any]]:
    everywhere = {e["inspector"] for e in late_exclusions if e["uscc"] == ALL_ENTERPRISES}
    excluded: dict[str, set[str]] = {}
    for inspector in inspector_pool:
        for uscc in inspector["conflicts"]:
            excluded.setdefault(uscc, set()).add(inspector_key(inspector))
    for exclusion in late_exclusions:
        if exclusion["uscc"] != ALL_ENTERPRISES:
            excluded.setdefault(exclusion["uscc"], set()).add(exclusion["inspector"])
    base = [inspector_key(i) for i in inspector_pool if inspector_key(i) not in everywhere]
    result = []
    for uscc, grade in drawn:
        barred = excluded.get(uscc)
        eligible = [key for key in base if key not in barred] if barred else list(base)
        if len(eligible) < per_task:
            raise DrawError(
                f"企业{uscc}可抽取的执法人员只有{len(eligible)}人（其余存在利益冲突或已不符合条件），"
                f"少于每户{per_task}人",
                uscc=uscc,
            )
        result.append(
            {"uscc": uscc, "risk_grade": grade, "inspectors": partial_shuffle(eligible, per_task, stream)}
        )
    return result


def run_draw(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The draw itself, from a record shaped like the published JSON (seed included): the enterprises in
    drawn order, each with its inspectors. No database, no hashing of the pools: what the benchmark times."""
    if record["algorithm"] != ALGORITHM:
        raise DrawError(f"不支持的抽取算法：{record['algorithm']}")
    stream = Stream(
        stream_key(
            seed=record["seed"],
            pool_hash=record["pool_hash"],
            inspector_pool_hash=record["inspector_pool_hash"],
            committed_at=record["committed_at"],
        )
    )
    drawn = draw_enterprises(record["pool"], record["enterprise_count"], record["strata"], stream)
    return draw_inspectors(
        drawn, record["inspector_pool"], record["inspectors_per_task"], record["late_exclusions"], stream
    )


def timestamp(moment: datetime.datetime) -> str:
    """The commit time as it is published and hashed: UTC, microseconds, `Z`."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- Strata -------------------------------------------------------------------------------------------


def normalise_strata(strata: Mapping[str, Any] | None) -> tuple[dict[str, str], list[str]]:
    """Ratios as canonical decimal strings, and every problem with them (in Chinese)."""
    if not strata:
        return {}, []
    problems = []
    normalised: dict[str, str] = {}
    total = Decimal(0)
    for grade, raw in strata.items():
        label = str(grade).strip().upper()
        if label not in GRADES:
            problems.append(f"风险等级「{grade}」不存在（可用的等级：{'、'.join(GRADES)}）")
            continue
        try:
            ratio = Decimal(str(raw).strip())
        except (InvalidOperation, ValueError):
            problems.append(f"风险等级{label}的抽取比例「{raw}」不是数字")
            continue
        if not ratio.is_finite() or ratio < 0 or ratio > 1:
            problems.append(f"风险等级{label}的抽取比例应在0到1之间（当前为{raw}）")
            continue
        if ratio * RATIO_SCALE != (ratio * RATIO_SCALE).to_integral_value():
            problems.append(f"风险等级{label}的抽取比例最多保留{RATIO_PLACES}位小数（当前为{raw}）")
            continue
        if label in normalised:
            problems.append(f"风险等级{label}的抽取比例填写了两次")
            continue
        normalised[label] = _decimal_text(ratio)
        total += ratio
    if not problems and total != 1:
        problems.append(f"各风险等级的抽取比例之和应为1（当前为{_decimal_text(total)}）")
    return dict(sorted(normalised.items())), problems


def _decimal_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text not in ("-0", "") else "0"


# --- Who may do what -------------------------------------------------------------------------------------


def _is_admin_of(user, body_id: int) -> bool:
    return user.is_authenticated and user.role == Role.BODY_ADMIN and user.body_id == body_id


def can_draw(user, plan: Plan) -> bool:
    return (
        _is_admin_of(user, plan.body_id)
        and plan.method == Plan.Method.RANDOM
        and plan.status in (Plan.Status.FILED, Plan.Status.PUBLISHED)
    )


def can_reveal(user, draw: RandomDraw) -> bool:
    return is_pending(draw) and _is_admin_of(user, draw.plan.body_id)


def public_status(draw: RandomDraw) -> str:
    if draw.withdrawn_at is not None:
        return "withdrawn"
    return draw.status


PUBLIC_STATUS_LABELS = {
    "committed": "已公布承诺值，待抽取",
    "revealed": "已抽取并公开",
    "withdrawn": "已撤销（种子已公开）",
}


def is_pending(draw: RandomDraw) -> bool:
    return draw.status == RandomDraw.Status.COMMITTED and draw.withdrawn_at is None


def public_draws() -> QuerySet[RandomDraw]:
    """Every draw is public from its commitment on: publishing the pool's hash and the seed's commitment
    before the draw is what makes it verifiable. The seed is shown only once revealed or withdrawn."""
    return RandomDraw.objects.select_related("plan", "plan__body")


# --- Snapshots ------------------------------------------------------------------------------------------


def snapshot_pool(plan: Plan) -> list[list[str]]:
    """The pool as `[USCC, risk grade]` pairs sorted by USCC (Python's string order: the codes are ASCII, so
    it is byte order, whatever the database's collation). One query, no model instances."""
    pairs = plan_pool(plan).order_by().values_list("uscc", "risk_grade")
    return [list(pair) for pair in sorted(pairs)]


def _needed_fields(plan: Plan) -> set[int]:
    """The fields a drawn inspector's certificates must cover: the plan items' fields the body works in
    (as the qualification gate asks), or the body's fields if none of them is."""
    body_fields = set(plan.body.fields.values_list("pk", flat=True))
    item_fields = set(plan.items.values_list("field_id", flat=True))
    return (item_fields & body_fields) or body_fields


@dataclass
class _Eligible:
    inspector_id: int
    name: str
    certificates: list[str]


def _eligible_inspectors(plan: Plan, day: datetime.date) -> dict[int, _Eligible]:
    """Active inspectors of the plan's body whose certificates valid on `day` cover the needed fields."""
    needed = _needed_fields(plan)
    certificates = list(
        Certificate.objects.valid_on(day)
        .filter(inspector__body_id=plan.body_id, inspector__is_active=True)
        .values_list("pk", "number", "inspector_id", "inspector__name")
    )
    fields_of: dict[int, set[int]] = {}
    for certificate_id, field_id in Certificate.fields.through.objects.filter(
        certificate_id__in=[c[0] for c in certificates]
    ).values_list("certificate_id", "field_id"):
        fields_of.setdefault(certificate_id, set()).add(field_id)
    covered: dict[int, set[int]] = {}
    found: dict[int, _Eligible] = {}
    for certificate_id, number, inspector_id, name in certificates:
        fields = fields_of.get(certificate_id, set()) & needed
        if not fields:
            continue
        covered.setdefault(inspector_id, set()).update(fields)
        found.setdefault(inspector_id, _Eligible(inspector_id, _clean(name), [])).certificates.append(number)
    return {
        pk: _Eligible(pk, entry.name, sorted(entry.certificates))
        for pk, entry in found.items()
        if covered[pk] >= needed
    }


def _clean(text: str) -> str:
    return " ".join(text.replace("\t", " ").replace("\r", " ").replace("\n", " ").split())


def snapshot_inspectors(plan: Plan, pool_usccs: set[str], day: datetime.date) -> list[dict[str, Any]]:
    """The inspector pool: each eligible inspector's certificate numbers, name, and the enterprises of the
    pool it has a recorded conflict of interest with; sorted by the smallest certificate number."""
    eligible = _eligible_inspectors(plan, day)
    conflicts: dict[int, list[str]] = {}
    for inspector_id, uscc in ConflictOfInterest.objects.filter(inspector_id__in=list(eligible)).values_list(
        "inspector_id", "enterprise__uscc"
    ):
        if uscc in pool_usccs:
            conflicts.setdefault(inspector_id, []).append(uscc)
    snapshot = [
        {
            "certificates": e.certificates,
            "name": e.name,
            "conflicts": sorted(conflicts.get(e.inspector_id, [])),
        }
        for e in eligible.values()
    ]
    return sorted(snapshot, key=inspector_key)


# --- Commit ---------------------------------------------------------------------------------------------


def _plan_problems(plan: Plan) -> list[str]:
    problems = []
    if plan.method != Plan.Method.RANDOM:
        problems.append(f"检查计划{plan}的检查方式为「{plan.get_method_display()}」，不是双随机抽查")
    if plan.status not in (Plan.Status.FILED, Plan.Status.PUBLISHED):
        problems.append(f"检查计划{plan}尚未备案（当前状态：{plan.get_status_display()}），不能据以抽取")
    return problems


def _item_problems(items: list[InspectionItem]) -> list[str]:
    if not items:
        return ["检查计划没有检查事项"]
    unpublished = [item.name for item in items if not item.is_published]
    if unpublished:
        return [f"检查事项「{'、'.join(unpublished)}」不在已公布的检查事项清单中（无事项不检查）"]
    return []


def _separator_problems(inspectors: list[dict[str, Any]]) -> list[str]:
    bad = [n for i in inspectors for n in i["certificates"] if any(c in n for c in "\t\n\r,")]
    if bad:
        return [f"执法证号{'、'.join(bad)}含有制表符、换行或逗号，不能写入快照，请先更正证号"]
    return []


@transaction.atomic
def commit_draw(
    actor,
    *,
    plan: Plan,
    enterprise_count: int,
    strata: Mapping[str, Any] | None = None,
    inspectors_per_task: int = MIN_INSPECTORS,
) -> RandomDraw:
    """Snapshot both pools and publish their hashes and the seed's commitment; the seed stays secret."""
    plan = Plan.objects.select_for_update().select_related("body").get(pk=plan.pk)
    if not _is_admin_of(actor, plan.body_id):
        raise PermissionDenied(f"只有{plan.body.name}的管理员可以对其检查计划进行随机抽取")
    problems = _plan_problems(plan)
    today = timezone.localdate()
    if plan.period_end < today:
        problems.append(f"检查计划{plan}的期间已于{chinese_date(plan.period_end)}结束")
    pending = plan.draws.filter(status=RandomDraw.Status.COMMITTED, withdrawn_at__isnull=True).first()
    if pending is not None:
        problems.append(f"检查计划{plan}已有一次待抽取的随机抽取（#{pending.pk}），请先抽取或撤销")
    raise_if(problems, "不能发起随机抽取")

    if not isinstance(enterprise_count, int) or enterprise_count < 1:
        problems.append("抽取企业数应为正整数")
    if not isinstance(inspectors_per_task, int) or inspectors_per_task < MIN_INSPECTORS:
        problems.append(f"每户执法人员不得少于{MIN_INSPECTORS}人")
    strata, strata_problems = normalise_strata(strata)
    problems += strata_problems
    problems += _item_problems(list(plan.items.all()))
    raise_if(problems, "随机抽取未发起")

    pool = snapshot_pool(plan)
    if not pool:
        problems.append(f"检查计划{plan}的目标范围内没有企业，不能抽取")
    elif enterprise_count > len(pool):
        problems.append(f"企业库只有{len(pool)}户，少于拟抽取的{enterprise_count}户")
    elif strata:
        sizes: dict[str, int] = {}
        for _uscc, grade in pool:
            sizes[grade] = sizes.get(grade, 0) + 1
        for grade, quota in allocate(strata, enterprise_count).items():
            if quota > sizes.get(grade, 0):
                problems.append(
                    f"风险等级{grade}的企业只有{sizes.get(grade, 0)}户，按比例{strata[grade]}应抽取{quota}户"
                )
    day = max(plan.period_start, today)
    pool_usccs = {uscc for uscc, _grade in pool}
    inspectors = snapshot_inspectors(plan, pool_usccs, day)
    needed = max(MIN_INSPECTORS, inspectors_per_task if isinstance(inspectors_per_task, int) else 0)
    if len(inspectors) < needed:
        problems.append(
            f"{plan.body.name}在{chinese_date(day)}持有效执法证（覆盖计划检查事项的执法领域）的在岗执法人员只有"
            f"{len(inspectors)}人，少于每户所需的{needed}人"
        )
    else:
        conflicted: dict[str, int] = {}
        for inspector in inspectors:
            for uscc in inspector["conflicts"]:
                conflicted[uscc] = conflicted.get(uscc, 0) + 1
        short = sorted(uscc for uscc, n in conflicted.items() if len(inspectors) - n < needed)
        if short:
            names = dict(Enterprise.objects.filter(uscc__in=short).values_list("uscc", "name"))
            problems += [
                f"企业{names.get(uscc, uscc)}（{uscc}）与{conflicted[uscc]}名执法人员存在利益冲突，"
                f"可抽取的执法人员不足{needed}人"
                for uscc in short
            ]
    problems += _separator_problems(inspectors)
    raise_if(problems, "随机抽取未发起")

    seed = secrets.token_bytes(32).hex()
    draw = RandomDraw.objects.create(
        plan=plan,
        algorithm=ALGORITHM,
        enterprise_count=enterprise_count,
        inspectors_per_task=inspectors_per_task,
        strata=strata,
        pool=pool,
        pool_hash=sha256_hex(encode_pool(pool)),
        inspector_pool=inspectors,
        inspector_pool_hash=sha256_hex(encode_inspector_pool(inspectors)),
        seed_commitment=commitment_of(seed),
        seed=seed,
        created_by=actor,
    )
    _record(actor, "draw.committed", draw, None, pool_size=len(pool), inspector_pool_size=len(inspectors))
    return draw


def _record(actor, action: str, draw: RandomDraw, before: dict | None, **extra: Any) -> None:
    after = audit.snapshot(draw, DRAW_FIELDS)
    after.update(extra)
    audit.record(actor=actor, action=action, obj=draw, before=before, after=after)


# --- Reveal ---------------------------------------------------------------------------------------------


def record_of(draw: RandomDraw, *, with_seed: bool = True) -> dict[str, Any]:
    """The algorithm's input, shaped as in the published JSON."""
    record = {
        "algorithm": draw.algorithm,
        "committed_at": timestamp(draw.committed_at),
        "enterprise_count": draw.enterprise_count,
        "inspectors_per_task": draw.inspectors_per_task,
        "strata": draw.strata,
        "pool": draw.pool,
        "pool_hash": draw.pool_hash,
        "inspector_pool": draw.inspector_pool,
        "inspector_pool_hash": draw.inspector_pool_hash,
        "seed_commitment": draw.seed_commitment,
        "late_exclusions": draw.late_exclusions,
    }
    if with_seed:
        record["seed"] = draw.seed
    return record


def _integrity_problems(draw: RandomDraw) -> list[str]:
    """The stored snapshot must still match what was published at the commitment."""
    problems = []
    if sha256_hex(encode_pool(draw.pool)) != draw.pool_hash:
        problems.append("企业库快照与承诺时公布的散列值不符")
    if sha256_hex(encode_inspector_pool(draw.inspector_pool)) != draw.inspector_pool_hash:
        problems.append("执法人员库快照与承诺时公布的散列值不符")
    if commitment_of(draw.seed) != draw.seed_commitment:
        problems.append("随机种子与承诺值不符")
    return problems


def _late_exclusions(draw: RandomDraw, days: list[datetime.date]) -> list[dict[str, str]]:
    """Inspectors of the snapshot who, since the commitment, are no longer eligible on a day of the window,
    and conflicts of interest recorded since with an enterprise of the pool. The reasons are published, so
    they say what happened, not why (a conflict's reason may name a relative)."""
    keys = [inspector_key(i) for i in draw.inspector_pool]
    by_number = dict(Certificate.objects.filter(number__in=keys).values_list("number", "inspector_id"))
    active = dict(Inspector.objects.filter(pk__in=by_number.values()).values_list("pk", "is_active"))
    exclusions: dict[tuple[str, str], str] = {}
    eligible_on = {day: _eligible_inspectors(draw.plan, day) for day in days}
    for key in keys:
        inspector_id = by_number.get(key)
        if inspector_id is None:
            exclusions[(key, ALL_ENTERPRISES)] = "执法证已注销"
        elif not active.get(inspector_id):
            exclusions[(key, ALL_ENTERPRISES)] = "已不在岗"
        else:
            for day in days:
                if inspector_id not in eligible_on[day]:
                    exclusions[(key, ALL_ENTERPRISES)] = f"{chinese_date(day)}无覆盖检查事项领域的有效执法证"
                    break
    snapshot_conflicts = {(inspector_key(i), uscc) for i in draw.inspector_pool for uscc in i["conflicts"]}
    pool_usccs = {uscc for uscc, _grade in draw.pool}
    key_of = {inspector_id: key for key, inspector_id in by_number.items()}
    for inspector_id, uscc in ConflictOfInterest.objects.filter(inspector_id__in=list(key_of)).values_list(
        "inspector_id", "enterprise__uscc"
    ):
        pair = (key_of[inspector_id], uscc)
        if (
            uscc in pool_usccs
            and pair not in snapshot_conflicts
            and (pair[0], ALL_ENTERPRISES) not in exclusions
        ):
            exclusions[pair] = "承诺后登记的利益冲突"
    return [
        {"inspector": key, "uscc": uscc, "reason": reason}
        for (key, uscc), reason in sorted(exclusions.items())
    ]


def _window_problems(plan: Plan, start: datetime.date | None, end: datetime.date | None) -> list[str]:
    from jianchama.inspections.services import MAX_WINDOW_DAYS

    if start is None or end is None:
        return ["请填写抽中企业的检查日期"]
    problems = []
    if end < start:
        problems.append("检查日期止不能早于日期起")
    if start < timezone.localdate():
        problems.append("检查日期不能早于今天")
    if start < plan.period_start or end > plan.period_end:
        problems.append(
            f"检查日期应在检查计划的期间内（{chinese_date(plan.period_start)}至{chinese_date(plan.period_end)}）"
        )
    if (end - start).days > MAX_WINDOW_DAYS:
        problems.append(f"检查日期跨度不能超过{MAX_WINDOW_DAYS}天")
    return problems


def legal_basis_of(items: Sequence[InspectionItem]) -> str:
    return "；".join(dict.fromkeys(item.legal_basis.strip() for item in items if item.legal_basis.strip()))


@transaction.atomic
def reveal_draw(
    actor,
    *,
    draw: RandomDraw,
    window_start: datetime.date,
    window_end: datetime.date,
    progress: Callable[[int, int], None] | None = None,
) -> RandomDraw:
    """Publish the seed, run the algorithm and create one submitted task per drawn enterprise, inspected
    between `window_start` and `window_end`. Everything or nothing: any refusal leaves the draw committed.
    Only a submission the frequency check refuses is not a refusal of the draw: that task stays a draft, and
    `draw.unsubmitted` lists it with the reason."""
    from jianchama.inspections.models import Task
    from jianchama.inspections.services import create_task, submit_task

    draw = RandomDraw.objects.select_for_update().select_related("plan", "plan__body").get(pk=draw.pk)
    plan = draw.plan
    if not _is_admin_of(actor, plan.body_id):
        raise PermissionDenied(f"只有{plan.body.name}的管理员可以进行抽取")
    if not is_pending(draw):
        raise InvalidTransition(
            f"随机抽取#{draw.pk}当前状态为「{PUBLIC_STATUS_LABELS[public_status(draw)]}」，不能再抽取"
        )
    problems = _plan_problems(plan) + _window_problems(plan, window_start, window_end)
    problems += _integrity_problems(draw)
    items = list(plan.items.order_by("field__code", "code"))
    problems += _item_problems(items)
    raise_if(problems, "未抽取")

    days = [window_start] if window_end == window_start else [window_start, window_end]
    draw.late_exclusions = _late_exclusions(draw, days)
    try:
        result = run_draw(record_of(draw))
    except DrawError as error:
        message = error.message
        if error.uscc:
            name = Enterprise.objects.filter(uscc=error.uscc).values_list("name", flat=True).first()
            message = message.replace(f"企业{error.uscc}", f"企业{name or ''}（{error.uscc}）")
        raise DomainError(f"未抽取：{message}；可撤销本次抽取后重新发起", problems=[message]) from error

    enterprises = Enterprise.objects.in_bulk([entry["uscc"] for entry in result], field_name="uscc")
    keys = {key for entry in result for key in entry["inspectors"]}
    inspectors = {
        c.number: c.inspector for c in Certificate.objects.filter(number__in=keys).select_related("inspector")
    }
    missing = [entry["uscc"] for entry in result if entry["uscc"] not in enterprises]
    raise_if([f"企业{uscc}已不在企业名录中" for uscc in missing], "未抽取")

    legal_basis = legal_basis_of(items)
    # A drawn enterprise may already be at a frequency cap (F-21) in this window: its task stays a draft with
    # the reason, for the body to justify or cancel; the draw itself stands, as published.
    draw.unsubmitted = []
    for done, entry in enumerate(result):
        if progress is not None:
            progress(done, len(result))
        task = create_task(
            actor,
            enterprise=enterprises[entry["uscc"]],
            items=items,
            inspectors=[inspectors[key] for key in entry["inspectors"]],
            legal_basis=legal_basis,
            kind=Task.Kind.RANDOM,
            window_start=window_start,
            window_end=window_end,
            plan=plan,
            draw=draw,
        )
        try:
            submit_task(actor, task=task)
        except PermissionDenied:
            raise
        except DomainError as refusal:
            draw.unsubmitted.append({"task": task.number, "uscc": entry["uscc"], "reason": refusal.message})

    before = audit.snapshot(draw, DRAW_FIELDS)
    draw.result = result
    raise_if(task_problems(result, published_tasks(draw)), "未抽取")
    draw.status = RandomDraw.Status.REVEALED
    draw.revealed_at = timezone.now()
    draw.window_start, draw.window_end = window_start, window_end
    draw.save(
        update_fields=["late_exclusions", "result", "status", "revealed_at", "window_start", "window_end"]
    )
    _record(
        actor,
        "draw.revealed",
        draw,
        before,
        seed=draw.seed,
        late_exclusions=draw.late_exclusions,
        drawn=len(result),
        not_submitted=draw.unsubmitted,
        result_hash=sha256_hex(json.dumps(result, sort_keys=True, separators=(",", ":")).encode()),
    )
    return draw


# --- Large reveals leave the request (issue 16) -------------------------------------------------------------
#
# Creating and submitting a task takes about 55 ms (frequency check, qualification gate, audit): a draw of
# 1,000 enterprises is a minute, longer than a page may wait. A draw of more than DRAW_REVEAL_SYNC_MAX
# enterprises is revealed by the task queue's worker, in the same one transaction (everything or nothing),
# its progress kept in the cache for the plan's draw page. Asked again while queued (a double click, a second
# tab, a retry), it is the same job; a worker's redelivery of a draw already revealed does nothing.

# A queued reveal older than this whose draw is still committed is taken for one whose worker died.
STALE_REVEAL = datetime.timedelta(hours=1)
QUEUED_REVEAL_TIMEOUT = 1800


def reveal_sync_max() -> int:
    from django.conf import settings

    return int(getattr(settings, "DRAW_REVEAL_SYNC_MAX", 50))


def progress_key(draw_id: int) -> str:
    return f"draw-reveal-progress:{draw_id}"


def reveal_progress(draw: RandomDraw) -> dict[str, int] | None:
    """{"done": tasks created, "total": enterprises drawn} of a queued reveal under way, else None."""
    from django.core.cache import cache

    return cache.get(progress_key(draw.pk))


def reveal_queued(draw: RandomDraw) -> bool:
    job = draw.reveal_job or {}
    if not job.get("queued_at") or job.get("error") or not is_pending(draw):
        return False
    return datetime.datetime.fromisoformat(job["queued_at"]) > timezone.now() - STALE_REVEAL


@transaction.atomic
def queue_reveal(
    actor, *, draw: RandomDraw, window_start: datetime.date, window_end: datetime.date
) -> RandomDraw:
    """Record the reveal for the worker (or return the draw as it is, if its reveal is already queued). What
    can be checked at once is checked here, so the common refusals come back on the page; the rest (the
    pool's integrity, each task's qualification) the worker's reveal checks, and its refusal is shown on the
    plan's draw page."""
    from django_q.tasks import async_task

    draw = RandomDraw.objects.select_for_update().select_related("plan", "plan__body").get(pk=draw.pk)
    plan = draw.plan
    if not _is_admin_of(actor, plan.body_id):
        raise PermissionDenied(f"只有{plan.body.name}的管理员可以进行抽取")
    if reveal_queued(draw):
        return draw
    if not is_pending(draw):
        raise InvalidTransition(
            f"随机抽取#{draw.pk}当前状态为「{PUBLIC_STATUS_LABELS[public_status(draw)]}」，不能再抽取"
        )
    raise_if(_plan_problems(plan) + _window_problems(plan, window_start, window_end), "未抽取")
    draw.reveal_job = {
        "actor": actor.pk,
        "window_start": window_start.isoformat(),
        "window_end": window_end.isoformat(),
        "queued_at": timezone.now().isoformat(),
    }
    draw.save(update_fields=["reveal_job"])
    _record(
        actor, "draw.reveal_queued", draw, None, window_start=str(window_start), window_end=str(window_end)
    )
    transaction.on_commit(
        lambda: async_task(
            "jianchama.plans.jobs.reveal_queued_draw",
            draw.pk,
            task_name=f"draw-reveal-{draw.pk}",
            timeout=QUEUED_REVEAL_TIMEOUT,
        )
    )
    return draw


def run_queued_reveal(draw_id: int) -> str:
    """What the worker does with a queued reveal: the reveal itself, with its progress in the cache; a
    refusal is kept on the draw for its page. Returns "revealed", "refused" or "skipped" (not queued, or
    already revealed: a redelivered job)."""
    from django.core.cache import cache

    from jianchama.core.models import User

    draw = RandomDraw.objects.get(pk=draw_id)
    job = dict(draw.reveal_job or {})
    if not job.get("queued_at") or job.get("error") or not is_pending(draw):
        return "skipped"
    actor = User.objects.get(pk=job["actor"])
    key = progress_key(draw_id)
    try:
        revealed = reveal_draw(
            actor,
            draw=draw,
            window_start=datetime.date.fromisoformat(job["window_start"]),
            window_end=datetime.date.fromisoformat(job["window_end"]),
            progress=lambda done, total: cache.set(key, {"done": done, "total": total}, 3600),
        )
    except DomainError as refusal:  # PermissionDenied and InvalidTransition included
        job["error"] = "；".join(refusal.problems or [refusal.message])
        RandomDraw.objects.filter(pk=draw_id).update(reveal_job=job)
        return "refused"
    finally:
        cache.delete(key)
    job["unsubmitted"] = revealed.unsubmitted
    RandomDraw.objects.filter(pk=draw_id).update(reveal_job=job)
    return "revealed"


@transaction.atomic
def withdraw_draw(actor, *, draw: RandomDraw, reason: str) -> RandomDraw:
    """Abandon a committed draw (e.g. too many inspectors dropped out since). Its seed is published with it,
    so anyone can see what it would have drawn: withdrawing is no quiet way to draw again."""
    draw = RandomDraw.objects.select_for_update().select_related("plan", "plan__body").get(pk=draw.pk)
    if not _is_admin_of(actor, draw.plan.body_id):
        raise PermissionDenied(f"只有{draw.plan.body.name}的管理员可以撤销随机抽取")
    if not is_pending(draw):
        raise InvalidTransition(
            f"随机抽取#{draw.pk}当前状态为「{PUBLIC_STATUS_LABELS[public_status(draw)]}」，不能撤销"
        )
    if not reason.strip():
        raise DomainError("请写明撤销原因（将与随机种子一并公开）")
    before = audit.snapshot(draw, DRAW_FIELDS)
    draw.withdrawn_at = timezone.now()
    draw.withdrawal_reason = reason.strip()
    draw.save(update_fields=["withdrawn_at", "withdrawal_reason"])
    _record(actor, "draw.withdrawn", draw, before, seed=draw.seed)
    return draw


# --- Conflicts of interest -------------------------------------------------------------------------------


@transaction.atomic
def record_conflict(
    actor, *, inspector: Inspector, enterprise: Enterprise, reason: str
) -> ConflictOfInterest:
    """An inspector's conflict of interest with an enterprise, recorded by an admin of the inspector's body."""
    if not _is_admin_of(actor, inspector.body_id):
        raise PermissionDenied(f"只有{inspector.body.name}的管理员可以登记其执法人员的利益冲突")
    if not reason.strip():
        raise DomainError("请写明利益冲突情形")
    if ConflictOfInterest.objects.filter(inspector=inspector, enterprise=enterprise).exists():
        raise DomainError(f"执法人员{inspector.name}与企业{enterprise.name}的利益冲突已登记")
    conflict = ConflictOfInterest.objects.create(
        inspector=inspector, enterprise=enterprise, reason=reason.strip(), recorded_by=actor
    )
    audit.record(
        actor=actor,
        action="conflict.recorded",
        obj=conflict,
        after={"inspector": inspector.pk, "enterprise": enterprise.uscc, "reason": conflict.reason},
    )
    return conflict


# --- The published record (一公开) ------------------------------------------------------------------------


def published_tasks(draw: RandomDraw) -> list[dict[str, Any]]:
    """Every task created by the draw, as published: drawn enterprises first in the result's order, then any
    other; each with its inspectors as their keys in the draw's inspector pool, sorted ascending."""
    from jianchama.inspections.models import Task

    pool_keys = [inspector_key(i) for i in draw.inspector_pool]
    key_of = {
        c.inspector_id: c.number
        for c in Certificate.objects.filter(number__in=pool_keys).only("inspector_id", "number")
    }
    order = {e["uscc"]: n for n, e in enumerate(draw.result or [])}
    tasks = (
        Task.objects.filter(draw=draw)
        .select_related("enterprise")
        .prefetch_related("inspectors")
        .order_by("number")
    )
    rows = [
        {
            "uscc": task.enterprise.uscc,
            "enterprise": task.enterprise.name,
            "task": task.number,
            "inspectors": sorted(key_of.get(i.pk, f"?{i.name}") for i in task.inspectors.all()),
        }
        for task in tasks
    ]
    return sorted(rows, key=lambda row: (order.get(row["uscc"], len(order)), row["task"]))


def task_problems(result: Sequence[Mapping[str, Any]], tasks: Sequence[Mapping[str, Any]]) -> list[str]:
    """The tasks must be exactly one per drawn enterprise, with the drawn inspectors (as sets of keys): what
    scripts/verify_draw.py checks in the published record, checked here before it is published."""
    drawn = {entry["uscc"]: sorted(entry["inspectors"]) for entry in result}
    problems = []
    seen: dict[str, int] = {}
    for task in tasks:
        uscc = task["uscc"]
        seen[uscc] = seen.get(uscc, 0) + 1
        if uscc not in drawn:
            problems.append(f"任务{task['task']}所检查的企业{uscc}不是本次抽中的企业")
        elif sorted(task["inspectors"]) != drawn[uscc]:
            problems.append(
                f"企业{uscc}的任务{task['task']}执法人员为 {'、'.join(sorted(task['inspectors'])) or '（无）'}，"
                f"抽中的是 {'、'.join(drawn[uscc])}"
            )
    for uscc in drawn:
        if not seen.get(uscc):
            problems.append(f"抽中企业{uscc}没有任务")
        elif seen[uscc] > 1:
            problems.append(f"抽中企业{uscc}有{seen[uscc]}个任务，应只有一个")
    return problems


def published_record(draw: RandomDraw) -> dict[str, Any]:
    """What `/draws/<id>.json` serves: the commitment first; the seed once revealed or withdrawn; the result
    and the tasks once revealed."""
    status = public_status(draw)
    plan = draw.plan
    record: dict[str, Any] = {
        "format": "jianchama-random-draw",
        "algorithm": draw.algorithm,
        "draw": draw.pk,
        "status": status,
        "plan": {
            "number": plan.number or "",
            "title": plan.title,
            "body": plan.body.name,
            "period_start": plan.period_start.isoformat(),
            "period_end": plan.period_end.isoformat(),
        },
        "committed_at": timestamp(draw.committed_at),
        "enterprise_count": draw.enterprise_count,
        "inspectors_per_task": draw.inspectors_per_task,
        "strata": draw.strata,
        "pool_hash": draw.pool_hash,
        "inspector_pool_hash": draw.inspector_pool_hash,
        "seed_commitment": draw.seed_commitment,
        "pool": draw.pool,
        "inspector_pool": draw.inspector_pool,
    }
    if status == "withdrawn":
        record["withdrawn_at"] = timestamp(draw.withdrawn_at)
        record["withdrawal_reason"] = draw.withdrawal_reason
        record["seed"] = draw.seed
    if status == "revealed":
        record.update(
            {
                "revealed_at": timestamp(draw.revealed_at),
                "seed": draw.seed,
                "late_exclusions": draw.late_exclusions,
                "result": draw.result,
                "window_start": draw.window_start.isoformat() if draw.window_start else None,
                "window_end": draw.window_end.isoformat() if draw.window_end else None,
                "tasks": published_tasks(draw),
            }
        )
        raise_if(
            task_problems(record["result"], record["tasks"]), "随机抽取公开记录与已创建的任务不一致，暂不公开"
        )
    return record
