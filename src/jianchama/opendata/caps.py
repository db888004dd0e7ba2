"""Each enterprise's yearly inspection caps and how much of them is used this year (F-21 made public for F-43;
国办发〔2024〕54号 asks that frequency caps be public).

The caps are the active frequency rules counted by calendar year (`FrequencyRule.Period.YEAR`) of the two
scopes that cap visits: one body to one enterprise (`per_body`) and all bodies together (`all_bodies`); a rule
applies to the enterprise when its risk grade is blank or the enterprise's. What counts as an inspection and on
which day is `inspections.frequency`'s definition (submitted or further, not cancelled; the day it started, else
the first day of its window), read with the same index, on (enterprise, window_start).

Who may look: anyone, two ways. The lookup of one enterprise takes its USCC *and* its exact name: it was built
when the caps were not listed, so that a USCC alone would not tell whether it is registered. The list (issue 13:
"each published enterprise's yearly inspection cap and how much of it is used") shows every enterprise's name,
USCC, district and caps with their use this year to anyone, so the registry of enterprises and how often each was
inspected this year are public since; the enterprise code page (/e/<uscc>/) still answers every code alike, but
the list answers the question it hides. Risk grades are not listed (the lookup does not show them either),
though a rule of one grade shows up only under that grade's enterprises, on both.

A lookup is three queries whatever the enterprise's history: the enterprise by its unique USCC, the rules, and
its tasks of the year through the index. A page of the list is four or five whatever its rows (below).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connections
from django.utils import timezone

from jianchama.inspections.frequency import COUNTED, WINDOW_SLACK, exemption_label
from jianchama.inspections.models import FrequencyRule, TaskBody
from jianchama.registry import uscc as uscc_codes
from jianchama.registry.models import Enterprise, Region

Scope = FrequencyRule.Scope


def yearly_rules() -> list[FrequencyRule]:
    return list(
        FrequencyRule.objects.filter(
            is_active=True, period=FrequencyRule.Period.YEAR, scope__in=[Scope.PER_BODY, Scope.ALL_BODIES]
        )
        .select_related("field")
        .order_by("scope", "limit", "pk")
    )


def rule_record(rule: FrequencyRule) -> dict:
    return {
        "name": rule.name,
        "scope": rule.get_scope_display(),
        "limit": rule.limit,
        "field": rule.field.name if rule.field_id else "",
        "body_level": rule.get_body_level_display() if rule.body_level else "",
        "risk_grade": rule.risk_grade,
        "action": rule.get_action_display(),
        "exemptions": "；".join(exemption_label(code) for code in rule.exemptions),
    }


def lookup_problems(code: str, name: str) -> list[str]:
    problems = []
    code = uscc_codes.normalise(code or "")
    if not code:
        problems.append("请填写统一社会信用代码")
    else:
        problem = uscc_codes.problem(code)
        if problem:
            problems.append(problem)
    if not (name or "").strip():
        problems.append("请填写企业名称（须与登记的名称完全一致）")
    elif len(name.strip()) > 200:
        problems.append("企业名称不能超过200个字")
    return problems


def find_enterprise(code: str, name: str) -> Enterprise | None:
    """The enterprise whose USCC and name both match, or None (one query on the unique USCC)."""
    return (
        Enterprise.objects.filter(uscc=uscc_codes.normalise(code), name=name.strip())
        .only("pk", "uscc", "name", "risk_grade")
        .first()
    )


@dataclass(frozen=True)
class CapUsage:
    rule: FrequencyRule
    used: int  # all bodies: the visits this year; per body: the most visits by any one body
    conditions: str

    @property
    def limit(self) -> int:
        return self.rule.limit

    @property
    def reached(self) -> bool:
        return self.used >= self.rule.limit

    @property
    def remaining(self) -> int:
        return max(self.rule.limit - self.used, 0)

    def as_json(self) -> dict:
        return {
            **rule_record(self.rule),
            "conditions": self.conditions,
            "used": self.used,
            "remaining": self.remaining,
            "reached": self.reached,
        }


def _conditions(rule: FrequencyRule) -> str:
    parts = []
    if rule.field_id:
        parts.append(f"{rule.field.name}领域的检查")
    if rule.body_level:
        parts.append(f"{rule.get_body_level_display()}执法单位")
    return "，".join(parts) or "全部领域、全部层级"


def usage(enterprise: Enterprise, rules: list[FrequencyRule], year: int | None = None) -> list[CapUsage]:
    """How much of each cap that applies to the enterprise it has used in `year` (this year by default)."""
    return usage_of([enterprise], rules, year)[enterprise.pk]


def usage_of(
    enterprises: Sequence[Enterprise], rules: list[FrequencyRule], year: int | None = None
) -> dict[int, list[CapUsage]]:
    """`usage` of several enterprises (a page of the public list) in one query: enterprise pk → its caps."""
    if not enterprises:
        return {}
    year = year or timezone.localdate().year
    first, last = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    rows = tasks_query([e.pk for e in enterprises], year)
    # task → its enterprise and day, and per body its level and fields (a task has a row per body and field)
    zone = timezone.get_current_timezone()  # timezone.localdate() looks it up again on every call
    owners: dict[int, int] = {}
    days: dict[int, datetime.date] = {}
    parts: dict[int, dict[int, tuple[str, set]]] = defaultdict(dict)
    for enterprise_id, task_id, start, started, body_id, level, field_id in rows:
        if task_id not in days:
            owners[task_id] = enterprise_id
            days[task_id] = started.astimezone(zone).date() if started else start
        part = parts[task_id].setdefault(body_id, (level, set()))
        if field_id is not None:
            part[1].add(field_id)
    in_year: dict[int, list[int]] = defaultdict(list)
    for task_id, day in days.items():
        if first <= day <= last:
            in_year[owners[task_id]].append(task_id)
    conditions = {rule.pk: _conditions(rule) for rule in rules}
    return {e.pk: _caps_used(e, rules, in_year[e.pk], parts, conditions) for e in enterprises}


def tasks_query(enterprise_ids: list[int], year: int):
    """The counted tasks of the enterprises that may fall in `year`, one row per (task, body, item field)."""
    first, last = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    return TaskBody.objects.filter(
        task__enterprise_id__in=enterprise_ids,
        task__window_start__gte=first - WINDOW_SLACK,
        task__window_start__lte=last,
        task__status__in=COUNTED,
    ).values_list(
        "task__enterprise_id",
        "task_id",
        "task__window_start",
        "task__started_at",
        "body_id",
        "body__level",
        "items__field_id",
    )


def _caps_used(
    enterprise: Enterprise, rules: list[FrequencyRule], in_year: list[int], parts: dict, conditions: dict
) -> list[CapUsage]:
    found = []
    for rule in rules:
        if rule.risk_grade and rule.risk_grade != enterprise.risk_grade:
            continue

        def matches(level: str, fields: set, rule=rule) -> bool:
            return (not rule.field_id or rule.field_id in fields) and (
                not rule.body_level or rule.body_level == level
            )

        if rule.scope == Scope.ALL_BODIES:
            used = sum(1 for t in in_year if any(matches(level, f) for level, f in parts[t].values()))
        else:
            per_body: dict[int, int] = defaultdict(int)
            for t in in_year:
                for body_id, (level, f) in parts[t].items():
                    if matches(level, f):
                        per_body[body_id] += 1
            used = max(per_body.values(), default=0)
        found.append(CapUsage(rule=rule, used=used, conditions=conditions[rule.pk]))
    return found


# --- The public list of every enterprise's caps (/open-data/caps/ and caps.csv) ---------------------------------
# Sorted by USCC and paged by keyset (?after=<the last USCC shown>): a page reads its 51 enterprises through the
# unique index on the USCC and stops, whatever the registry's size, and nothing counts the whole table (the page
# offers 下一页 only). The caps of a page's enterprises are `usage_of`, one query for all of them. A page is four
# queries (regions, rules, enterprises, their tasks), five when the text typed could start a USCC.

PAGE_SIZE = 50
CSV_CHUNK = 500  # enterprises read per query while the CSV streams
PREFIX_MAX = 100  # characters of a name or USCC prefix


@dataclass(frozen=True)
class ListFilter:
    district: Region | None = None
    prefix: str = ""  # the start of the name, as typed
    code_prefix: str = ""  # the start of the USCC, upper case; "" when the text cannot start a USCC
    region_ids: tuple[int, ...] = ()  # the district's regions (itself and its towns)


class Listed(NamedTuple):
    """An enterprise as the list reads it (a tuple, not a model instance: the CSV reads them by the hundred
    thousand)."""

    pk: int
    uscc: str
    name: str
    region_id: int
    risk_grade: str


@dataclass(frozen=True)
class CapRow:
    enterprise: Listed
    district: str
    caps: list[CapUsage]


class Regions:
    """Every region in one query: the districts to filter by, and each region's district by its path."""

    def __init__(self):
        self.all = list(Region.objects.only("pk", "code", "name", "level", "path").order_by("path"))
        self.districts = sorted(
            (r for r in self.all if r.level == Region.Level.DISTRICT), key=lambda r: r.code
        )
        self._district_of = {
            r.pk: next((d.name for d in self.districts if r.path.startswith(d.path)), "") for r in self.all
        }

    def district_name(self, region_id: int) -> str:
        return self._district_of.get(region_id, "")

    def within(self, district: Region) -> tuple[int, ...]:
        return tuple(r.pk for r in self.all if r.path.startswith(district.path))


def _clean(text: str | None) -> str:
    # NUL is never part of a code or a name (and PostgreSQL refuses it in a query's text)
    return (text or "").replace("\x00", "").strip()


def list_filter(regions: Regions, region_code: str | None, q: str | None) -> tuple[ListFilter, list[str]]:
    """The filter of ?region=<区划代码>&q=<the start of a name or USCC>, and what is wrong with them."""
    problems = []
    code, text = _clean(region_code), _clean(q)
    district = None
    if code:
        district = next((d for d in regions.districts if d.code == code), None)
        if district is None:
            problems.append("没有这个区：请从列表中选择区，或不选（全市）")
    if len(text) > PREFIX_MAX:
        problems.append(f"企业名称或统一社会信用代码的开头不能超过{PREFIX_MAX}个字")
    if problems:
        return ListFilter(), problems
    upper = text.upper()
    could_be_code = len(upper) <= 18 and all(c in uscc_codes.CHARSET for c in upper)
    return (
        ListFilter(
            district=district,
            prefix=text,
            code_prefix=upper if text and could_be_code else "",
            region_ids=regions.within(district) if district else (),
        ),
        [],
    )


def list_after(text: str | None) -> tuple[str, str | None]:
    """?after=: the USCC the page continues after ("" for the first page), and what is wrong with it."""
    after = uscc_codes.normalise(_clean(text))
    if len(after) > 18 or not all(c in uscc_codes.CHARSET for c in after):
        return "", "翻页参数有误（应为统一社会信用代码），请从第一页重新浏览"
    return after, None


def _code_ceiling(prefix: str) -> str:
    """The least code above every code that starts with `prefix` (in the codes' character order), or "" when
    there is none: with it the start of a USCC is an index range on the USCC, not a filter on every row."""
    chars = list(prefix)
    while chars:
        position = uscc_codes.CHARSET.index(chars[-1])
        if position + 1 < len(uscc_codes.CHARSET):
            chars[-1] = uscc_codes.CHARSET[position + 1]
            return "".join(chars)
        chars.pop()
    return ""


def enterprises_query(found: ListFilter, after: str, *, by_code: bool = False, region_id: int | None = None):
    """The filter's enterprises after the USCC `after`, in USCC order: those whose name starts with the text,
    or with `by_code` those whose USCC does (the list shows both: two queries, each through its own index,
    since "name or USCC" in one would read the USCC index from its start, filtering every row); of one region
    of the district if `region_id` is given."""
    rows = Enterprise.objects.all()
    if region_id is not None:
        rows = rows.filter(region_id=region_id)
    elif found.district is not None:
        rows = rows.filter(region_id__in=found.region_ids)
    if by_code:
        rows = rows.filter(uscc__startswith=found.code_prefix, uscc__gte=found.code_prefix)
        ceiling = _code_ceiling(found.code_prefix)
        if ceiling:
            rows = rows.filter(uscc__lt=ceiling)
    elif found.prefix:
        rows = rows.filter(name__startswith=found.prefix)
    if after:
        rows = rows.filter(uscc__gt=after)
    return rows.order_by("uscc")


FIELDS = ("pk", "uscc", "name", "region_id", "risk_grade")


def page_query(found: ListFilter, after: str, limit: int, *, by_code: bool = False):
    """The query of up to `limit` enterprises (FIELDS) of the filter after the USCC `after`."""
    rows = enterprises_query(found, after, by_code=by_code).values_list(*FIELDS)
    if (
        found.district is not None
        and len(found.region_ids) > 1
        and connections[rows.db].features.supports_slicing_ordering_in_compound
    ):
        # A district's enterprises in USCC order, read as one ordered run per region (the index on region and
        # USCC), merged: "region in (…) order by USCC" would read the USCC index from its start and skip every
        # other district's enterprise on the way (its codes may all sort first). Still one query.
        runs = [
            enterprises_query(found, after, by_code=by_code, region_id=region).values_list(*FIELDS)[:limit]
            for region in found.region_ids
        ]
        rows = runs[0].union(*runs[1:], all=True).order_by("uscc")
    return rows[:limit]


def _read(found: ListFilter, after: str, limit: int, *, by_code: bool = False) -> list[Listed]:
    return [Listed(*row) for row in page_query(found, after, limit, by_code=by_code)]


def _enterprises(found: ListFilter, after: str, limit: int) -> list[Listed]:
    found_rows = _read(found, after, limit)
    if found.code_prefix:
        # USCCs hold digits and capital letters only, which every collation orders as Python does
        by_code = _read(found, after, limit, by_code=True)
        merged = {row.pk: row for row in [*found_rows, *by_code]}
        found_rows = sorted(merged.values(), key=lambda row: row.uscc)[:limit]
    return found_rows


def _rows(enterprises, regions: Regions, rules, year) -> list[CapRow]:
    used = usage_of(enterprises, rules, year)
    return [CapRow(e, regions.district_name(e.region_id), used[e.pk]) for e in enterprises]


def page(
    found: ListFilter, regions: Regions, rules, *, after: str = "", year: int | None = None
) -> tuple[list[CapRow], str]:
    """One page of the list after the USCC `after`, and the USCC to continue after ("" on the last page):
    two queries (the enterprises, their tasks of the year) besides the regions and the rules."""
    enterprises = _enterprises(found, after, PAGE_SIZE + 1)
    more = len(enterprises) > PAGE_SIZE
    enterprises = enterprises[:PAGE_SIZE]
    return _rows(enterprises, regions, rules, year), enterprises[-1].uscc if more else ""


def every_row(found: ListFilter, regions: Regions, rules, *, year: int | None = None) -> Iterator[CapRow]:
    """Every enterprise of the filter, CSV_CHUNK at a time by the same keyset: memory holds one chunk."""
    after = ""
    while True:
        enterprises = _enterprises(found, after, CSV_CHUNK)
        yield from _rows(enterprises, regions, rules, year)
        if len(enterprises) < CSV_CHUNK:
            return
        after = enterprises[-1].uscc


SCOPE_LABELS = dict(Scope.choices)
CSV_HEADER = [
    "统一社会信用代码",
    "企业名称",
    "所在区",
    "年度",
    "上限规则",
    "范围",
    "适用范围",
    "每年上限（次）",
    "今年已用（次）",
    "剩余（次）",
    "已达上限",
]


def csv_lines(row: CapRow, year: int) -> list[list]:
    """A row's lines in the CSV: one per cap, or one with the cap columns empty when no cap applies."""
    head = [row.enterprise.uscc, row.enterprise.name, row.district, year]
    if not row.caps:
        return [head + [""] * 7]
    return [
        [
            *head,
            u.rule.name,
            SCOPE_LABELS[u.rule.scope],
            u.conditions,
            u.limit,
            u.used,
            u.remaining,
            "是" if u.reached else "否",
        ]
        for u in row.caps
    ]
