"""How a scheme's items turn metric values into points (考核评议, F-37): checking the items a supervisor enters,
the two rules, the re-spreading of items not scored, the ranking.

An item is {"code", "name", "weight", "rule"}: `code` one of `metrics.METRICS`, `weight` its points (the
weights of a scheme sum to 100), and `rule` one of
- {"kind": "linear", "full_at": X, "zero_at": Y}: full marks at X or better, none at Y or worse, in proportion
  between; lower is better when X < Y (a rate of problems), higher when X > Y (a rate of scans);
- {"kind": "deduct", "per": N}: N points off per occurrence, never below 0 (for counts).

Not scored: a metric with no value for a body (no inspections for a rate, fewer ratings than the release
minimum for the evaluation average) leaves its item out, and the weight of the items left out is re-spread
over the body's scored items in proportion to their weights, so every total is still out of 100. Full marks
for an unmeasured item would reward a body for what cannot be seen (a body whose enterprises do not rate it
would top the evaluation item); zero would punish it for what it does not control; re-spreading scores each
body on what is known of it. A body with no item scored has no total and no rank.

Rounding: the total is the exact sum rounded half up to 0.01; each item's points are rounded to 0.01 so that
they add up to the total (`apportioned`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from jianchama.core.errors import DomainError

from .metrics import METRICS, Value

TOTAL_WEIGHT = Decimal(100)
CENT = Decimal("0.01")
NAME_MAX = 40
NUMBER_MAX = Decimal(100000)
RULE_KINDS = {"linear": "区间计分", "deduct": "按次扣分"}


def number(value: Any) -> Decimal | None:
    """A finite number of at most two decimals as a Decimal, or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not d.is_finite() or abs(d) >= NUMBER_MAX or d != d.quantize(CENT):
        return None
    return d


def plain(d: Decimal) -> str:
    """A number as people write it: 5, 4.5, 0.25 (no trailing zeros, no exponent)."""
    text = format(d.quantize(CENT), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def as_json(d: Decimal) -> int | float:
    return int(d) if d == d.to_integral_value() else float(d)


def clean_items(raw_items: list[dict]) -> list[dict]:
    """The items as stored, or a DomainError naming every problem (in Chinese). An item comes as the form
    sends it ({"code", "name", "weight", "kind", "full_at", "zero_at", "per"}) or as stored (with "rule")."""
    problems: list[str] = []
    items: list[dict] = []
    seen: set[str] = set()
    for raw in raw_items:
        if not isinstance(raw, dict):
            problems.append("考核项目的格式不正确")
            continue
        if isinstance(raw.get("rule"), dict):
            raw = {**raw, **raw["rule"]}
        code = str(raw.get("code") or "")
        metric = METRICS.get(code)
        if metric is None:
            problems.append(f"没有名为「{code[:40]}」的考核指标")
            continue
        if code in seen:
            problems.append(f"「{metric.name}」重复出现，每项指标只能考核一次")
            continue
        seen.add(code)
        name = str(raw.get("name") or "").replace("\x00", "").strip() or metric.name
        label = f"「{name[:NAME_MAX]}」"
        if len(name) > NAME_MAX:
            problems.append(f"{label}的名称超过{NAME_MAX}字")
        weight = number(raw.get("weight"))
        if weight is None or not Decimal(0) < weight <= TOTAL_WEIGHT:
            problems.append(f"{label}的分值须为大于0、不超过100的数（最多两位小数）")
        kind = str(raw.get("kind") or "")
        if kind not in RULE_KINDS:
            problems.append(f"{label}请选择计分方式（区间计分或按次扣分）")
            continue
        if kind not in metric.rule_kinds:
            problems.append(f"{label}是比率或平均分，只能区间计分")
            continue
        if kind == "linear":
            full_at, zero_at = number(raw.get("full_at")), number(raw.get("zero_at"))
            if full_at is None or zero_at is None or full_at < 0 or zero_at < 0:
                problems.append(f"{label}的满分线和零分线须为不小于0的数（最多两位小数）")
                continue
            if full_at == zero_at:
                problems.append(f"{label}的满分线和零分线不能相同")
                continue
            rule = {"kind": "linear", "full_at": as_json(full_at), "zero_at": as_json(zero_at)}
        else:
            per = number(raw.get("per"))
            if per is None or per <= 0:
                problems.append(f"{label}的每次扣分须为大于0的数（最多两位小数）")
                continue
            rule = {"kind": "deduct", "per": as_json(per)}
        if weight is not None:
            items.append({"code": code, "name": name, "weight": as_json(weight), "rule": rule})
    if not raw_items:
        problems.append("方案至少要有一项考核内容")
    if not problems:
        total = sum((Decimal(str(item["weight"])) for item in items), Decimal(0))
        if total != TOTAL_WEIGHT:
            problems.append(f"各项分值合计须为100分（现为{plain(total)}分）")
    if problems:
        raise DomainError("考核方案未保存：" + "；".join(problems), problems=problems)
    return items


def rule_text(item: dict) -> str:
    """The rule in words, e.g. 「≤5个/百次得满分，≥30个/百次得0分，其间按比例计分」."""
    rule = item["rule"]
    metric = METRICS.get(item["code"])
    unit = metric.unit if metric else ""
    if rule["kind"] == "deduct":
        return f"每{unit if unit in ('次', '件', '个') else '次'}扣{plain(Decimal(str(rule['per'])))}分，扣完为止"
    full, zero = Decimal(str(rule["full_at"])), Decimal(str(rule["zero_at"]))
    if full < zero:
        return f"≤{plain(full)}{unit}得满分，≥{plain(zero)}{unit}得0分，其间按比例计分"
    return f"≥{plain(full)}{unit}得满分，≤{plain(zero)}{unit}得0分，其间按比例计分"


def base_points(item: dict, raw: Decimal) -> Decimal:
    """The item's points out of its weight for the value `raw` (unrounded)."""
    weight = Decimal(str(item["weight"]))
    rule = item["rule"]
    if rule["kind"] == "deduct":
        return max(Decimal(0), weight - Decimal(str(rule["per"])) * raw)
    full, zero = Decimal(str(rule["full_at"])), Decimal(str(rule["zero_at"]))
    # Distance from the zero line towards the full line, as a share of the whole way, held within [0, 1].
    share = (raw - zero) / (full - zero)
    return weight * min(Decimal(1), max(Decimal(0), share))


def rounded(d: Decimal) -> Decimal:
    return d.quantize(CENT, rounding=ROUND_HALF_UP)


def apportioned(exact: dict[str, Decimal]) -> tuple[Decimal, dict[str, Decimal]]:
    """The total (the exact sum rounded half up to 0.01) and each part rounded to 0.01 so that the parts add
    up to it (largest remainder): a body with full marks in every scored item has 100.00, not 99.97, and the
    row of the table adds up to its total."""
    total = rounded(sum(exact.values(), Decimal(0)))
    floors = {key: value.quantize(CENT, rounding=ROUND_DOWN) for key, value in exact.items()}
    cents = int((total - sum(floors.values(), Decimal(0))) / CENT)
    by_remainder = sorted(exact, key=lambda key: (-(exact[key] - floors[key]), list(exact).index(key)))
    for key in by_remainder[:cents]:
        floors[key] += CENT
    return total, floors


@dataclass
class Scored:
    total: Decimal | None
    breakdown: list[dict]


def score_body(items: list[dict], values: dict[str, Value]) -> Scored:
    """One body's points under the items, given its value of each item's metric."""
    weights = {item["code"]: Decimal(str(item["weight"])) for item in items}
    scored_weight = sum(
        (weights[item["code"]] for item in items if values[item["code"]].raw is not None), Decimal(0)
    )
    total_weight = sum(weights.values(), Decimal(0))
    factor = total_weight / scored_weight if scored_weight else None
    exact = {}
    breakdown = []
    for item in items:
        value = values[item["code"]]
        row: dict[str, Any] = {
            "item": item,
            "raw": as_json(value.raw) if value.raw is not None else None,
            "basis": value.basis,
            "scored": value.raw is not None,
            "base_points": None,
            "weight_used": None,
            "points": None,
        }
        if value.raw is not None and factor is not None:
            base = base_points(item, value.raw)
            exact[item["code"]] = base * factor
            row["base_points"] = as_json(rounded(base))
            row["weight_used"] = as_json(rounded(weights[item["code"]] * factor))
        breakdown.append(row)
    if factor is None:
        return Scored(None, breakdown)
    total, parts = apportioned(exact)
    for row in breakdown:
        if row["scored"]:
            row["points"] = as_json(parts[row["item"]["code"]])
    return Scored(total, breakdown)


def ranks(totals: dict[int, Decimal | None]) -> dict[int, int | None]:
    """Competition ranking (1, 2, 2, 4): equal totals share a rank, the next rank skips; no total, no rank."""
    ordered = sorted((t for t in totals.values() if t is not None), reverse=True)
    first = {}
    for position, total in enumerate(ordered, start=1):
        first.setdefault(total, position)
    return {key: (first[t] if t is not None else None) for key, t in totals.items()}
