"""The assessment of bodies (考核评议, F-37; seed 003 二（四）2: 将监督结果与…领导班子绩效考核挂钩): the writers.

- Schemes: a supervisor drafts a scheme (the city's supervisors the city-wide default, a district's
  supervisors their district's own), edits it while a draft, activates it (the version before it retires);
  a scheme once active is never edited: `derive_scheme` starts its next version as a draft.
- Assessments: a supervisor computes the assessment of a district for a year under the scheme that applies
  (the district's active scheme, else the city's), again as often as needed while a draft, then issues it
  once the year is over; issued, it is frozen.

Each writer takes the acting user first, checks role and region, refuses with a Chinese message that names
what was wrong (saving nothing), changes the data in one transaction and appends to the audit log.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from jianchama.core import audit
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.roles import Role
from jianchama.registry.models import EnforcementBody, Region

from . import metrics, scoring
from .models import (
    ASSESSMENT_TRANSITIONS,
    SCHEME_TRANSITIONS,
    Assessment,
    AssessmentScheme,
    AssessmentScore,
)

SS = AssessmentScheme.Status
AS = Assessment.Status
SCHEME_FIELDS = ["region", "name", "version", "year_from", "status"]
ASSESSMENT_FIELDS = ["scheme", "region", "year", "status", "computed_at", "body_count", "ranked_count"]
FIRST_YEAR = 2020
NAME_MAX = 100


# --- Who ------------------------------------------------------------------------------------------------------


def district_of(region: Region) -> Region:
    """The district an assessment is made for (a town's is its district's); the city stays the city."""
    if region.level == Region.Level.CITY:
        return region
    return region.district() or region


def may_manage(actor, region: Region | None) -> bool:
    """Whether `actor` may write the schemes of `region` (None: the city-wide scheme) or assess its bodies:
    platform administrators and the city's supervisors anything, a district's supervisors their district."""
    if not getattr(actor, "is_authenticated", False):
        return False
    if actor.is_platform_admin:
        return True
    if actor.role != Role.SUPERVISOR or actor.region_id is None:
        return False
    own = district_of(actor.region)
    if own.level == Region.Level.CITY:
        return True
    return region is not None and district_of(region).pk == own.pk


def _require(actor, region: Region | None, what: str) -> None:
    if not may_manage(actor, region):
        if region is None:
            raise PermissionDenied(f"只有市司法局执法监督人员可以{what}（全市默认方案）")
        raise PermissionDenied(f"只有{region.name}司法局的执法监督人员（或市司法局执法监督人员）可以{what}")


# --- Schemes --------------------------------------------------------------------------------------------------


def scheme_snapshot(scheme: AssessmentScheme) -> dict:
    """What the audit log keeps of a scheme: its fields, and its items in words (the timeline shows them)."""
    items = "；".join(
        f"{item['name']}{scoring.plain(Decimal(str(item['weight'])))}分（{scoring.rule_text(item)}）"
        for item in scheme.items
    )
    return audit.snapshot(scheme, SCHEME_FIELDS) | {"assessment_items": items}


def _scheme_problems(name: str, year_from) -> list[str]:
    problems = []
    if not name:
        problems.append("请填写方案名称")
    elif len(name) > NAME_MAX:
        problems.append(f"方案名称超过{NAME_MAX}字")
    this_year = timezone.localdate().year
    if not isinstance(year_from, int) or not FIRST_YEAR <= year_from <= this_year + 1:
        problems.append(f"适用起始年度须在{FIRST_YEAR}—{this_year + 1}年之间")
    return problems


def _checked(name: str, year_from, items: list[dict]) -> tuple[str, list[dict]]:
    """The name and items as stored, or one refusal naming every problem of the three."""
    name = str(name or "").replace("\x00", "").strip()
    problems = _scheme_problems(name, year_from)
    try:
        cleaned = scoring.clean_items(items)
    except DomainError as error:
        problems += error.problems
        cleaned = []
    if problems:
        raise DomainError("考核方案未保存：" + "；".join(problems), problems=problems)
    return name, cleaned


def scheme_region(region: Region | None) -> Region | None:
    """The region a scheme is for: None (city-wide) for the city, else the district."""
    if region is None or region.level == Region.Level.CITY:
        return None
    return district_of(region)


@transaction.atomic
def create_scheme(
    actor, *, region: Region | None, name: str, year_from: int, items: list[dict]
) -> AssessmentScheme:
    """A new draft scheme, the next version of its region's line (None: the city-wide default)."""
    region = scheme_region(region)
    _require(actor, region, "制定考核评议方案")
    name, cleaned = _checked(name, year_from, items)
    same_line = AssessmentScheme.objects.filter(region=region)
    # Lock the line's rows so two drafts started at once do not take the same number (the unique
    # constraints would refuse the second; this makes it wait instead).
    list(same_line.select_for_update().values_list("pk", flat=True))
    version = (same_line.aggregate(v=Max("version"))["v"] or 0) + 1
    try:
        with transaction.atomic():
            scheme = AssessmentScheme.objects.create(
                region=region,
                name=name,
                version=version,
                year_from=year_from,
                items=cleaned,
                created_by=actor,
            )
    except IntegrityError:
        raise DomainError("另一版本刚刚创建，请刷新后重试") from None
    audit.record(
        actor=actor,
        action="assessment.scheme_created",
        obj=scheme,
        after=scheme_snapshot(scheme),
    )
    return scheme


def _lock_scheme(scheme: AssessmentScheme) -> AssessmentScheme:
    return AssessmentScheme.objects.select_for_update(of=("self",)).select_related("region").get(pk=scheme.pk)


@transaction.atomic
def update_scheme(
    actor, *, scheme: AssessmentScheme, name: str, year_from: int, items: list[dict]
) -> AssessmentScheme:
    """Change a draft. A scheme in use (active or retired) is never changed: its next version is."""
    scheme = _lock_scheme(scheme)
    _require(actor, scheme.region, "修改考核评议方案")
    if scheme.status != SS.DRAFT:
        raise InvalidTransition(
            f"{scheme}已{scheme.get_status_display()}，不能修改（已用于计分的方案保持不变）；请制定新版本"
        )
    name, cleaned = _checked(name, year_from, items)
    before = scheme_snapshot(scheme)
    scheme.name, scheme.year_from, scheme.items = name, year_from, cleaned
    scheme.save(update_fields=["name", "year_from", "items"])
    audit.record(
        actor=actor,
        action="assessment.scheme_updated",
        obj=scheme,
        before=before,
        after=scheme_snapshot(scheme),
    )
    return scheme


def derive_scheme(actor, *, scheme: AssessmentScheme) -> AssessmentScheme:
    """The next version of a scheme, as a draft copy of it to be edited."""
    return create_scheme(
        actor, region=scheme.region, name=scheme.name, year_from=scheme.year_from, items=scheme.items
    )


@transaction.atomic
def activate_scheme(actor, *, scheme: AssessmentScheme) -> AssessmentScheme:
    """Put a draft in use; the version in use before it (same region) retires. From now on it is frozen."""
    scheme = _lock_scheme(scheme)
    _require(actor, scheme.region, "启用考核评议方案")
    if SS.ACTIVE not in SCHEME_TRANSITIONS[scheme.status]:
        raise InvalidTransition(f"{scheme}当前为「{scheme.get_status_display()}」，不能启用")
    scheme.items = scoring.clean_items(scheme.items)  # still valid against today's metrics
    now = timezone.now()
    previous = (
        AssessmentScheme.objects.select_for_update()
        .filter(region=scheme.region, status=SS.ACTIVE)
        .exclude(pk=scheme.pk)
    )
    for old in previous:
        before = scheme_snapshot(old)
        old.status, old.retired_at = SS.RETIRED, now
        old.save(update_fields=["status", "retired_at"])
        audit.record(
            actor=actor,
            action="assessment.scheme_retired",
            obj=old,
            before=before,
            after=scheme_snapshot(old) | {"assessment_replaced_by": str(scheme)},
        )
    before = scheme_snapshot(scheme)
    scheme.status, scheme.activated_at = SS.ACTIVE, now
    scheme.save(update_fields=["status", "activated_at", "items"])
    audit.record(
        actor=actor,
        action="assessment.scheme_activated",
        obj=scheme,
        before=before,
        after=scheme_snapshot(scheme),
    )
    return scheme


def usable_schemes(district: Region) -> list[AssessmentScheme]:
    """The schemes an assessment of the district may use: the active city-wide and district schemes."""
    return list(
        AssessmentScheme.objects.filter(status=SS.ACTIVE)
        .filter(Q(region__isnull=True) | Q(region=district))
        .select_related("region")
    )


def applicable_scheme(district: Region) -> AssessmentScheme | None:
    """The scheme a district's assessment uses by default: its own active scheme, else the city's."""
    active = {scheme.region_id: scheme for scheme in usable_schemes(district)}
    return active.get(district.pk) or active.get(None)


# --- Assessments ----------------------------------------------------------------------------------------------


def district_bodies(district: Region) -> list[tuple[int, str]]:
    """The active bodies of the district (its towns' included), as (id, name), in code order."""
    return list(
        EnforcementBody.objects.filter(region__path__startswith=district.path, is_active=True)
        .order_by("code")
        .values_list("pk", "name")
    )


def score_district(items: list[dict], district: Region, year: int) -> dict[int, scoring.Scored]:
    """Every active body of the district scored under the items: each metric computed once for all bodies."""
    year_figures = metrics.Year(district, year, [pk for pk, _ in district_bodies(district)])
    values = {item["code"]: metrics.METRICS[item["code"]].compute(year_figures) for item in items}
    return {
        pk: scoring.score_body(items, {code: got[pk] for code, got in values.items()})
        for pk in year_figures.body_ids
    }


def _assessment_problems(region: Region, year) -> list[str]:
    problems = []
    if region.level != Region.Level.DISTRICT:
        problems.append("考核评议按区进行，请选择一个区")
    this_year = timezone.localdate().year
    if not isinstance(year, int) or not FIRST_YEAR <= year <= this_year:
        problems.append(f"考核年度须在{FIRST_YEAR}—{this_year}年之间")
    return problems


def _check_scheme(scheme: AssessmentScheme, district: Region, year: int) -> None:
    if scheme.status != SS.ACTIVE:
        raise DomainError(
            f"{scheme}当前为「{scheme.get_status_display()}」，只能按启用中的方案计分；请选择现行方案"
        )
    if scheme.region_id not in (None, district.pk):
        raise DomainError(f"{scheme}是{scheme.region.name}的方案，不适用于{district.name}")
    if scheme.year_from > year:
        raise DomainError(f"{scheme}自{scheme.year_from}年起适用，不能用于{year}年度的考核")


def _fill(assessment: Assessment) -> None:
    """Compute the scores of a draft assessment (again), replacing any before: one insert for every body."""
    scored = score_district(assessment.scheme.items, assessment.region, assessment.year)
    ranks = scoring.ranks({pk: s.total for pk, s in scored.items()})
    AssessmentScore.objects.filter(assessment=assessment).delete()
    AssessmentScore.objects.bulk_create(
        AssessmentScore(
            assessment=assessment, body_id=pk, total=s.total, rank=ranks[pk], breakdown=s.breakdown
        )
        for pk, s in scored.items()
    )
    assessment.computed_at = timezone.now()
    assessment.body_count = len(scored)
    assessment.ranked_count = sum(1 for r in ranks.values() if r is not None)


@transaction.atomic
def compute_assessment(
    actor, *, region: Region, year: int, scheme: AssessmentScheme | None = None
) -> Assessment:
    """Score every body of the district for the year under `scheme` (by default the one that applies): a new
    draft, or the existing draft of that scheme, district and year computed again. An issued one is final."""
    district = district_of(region)
    _require(actor, district, "计算执法单位考核评议")
    problems = _assessment_problems(district, year)
    if problems:
        raise DomainError("考核评议未计算：" + "；".join(problems), problems=problems)
    if scheme is None:
        scheme = applicable_scheme(district)
        if scheme is None:
            raise DomainError(f"{district.name}没有启用中的考核评议方案，请先制定并启用方案")
    existing = (
        Assessment.objects.select_for_update(of=("self",))
        .filter(scheme=scheme, region=district, year=year)
        .first()
    )
    if existing is not None and existing.status != AS.DRAFT:
        raise InvalidTransition(f"{existing}（{scheme}）已签发，结果已固定，不能重新计算")
    _check_scheme(scheme, district, year)
    if existing is None:
        try:
            with transaction.atomic():
                assessment = Assessment.objects.create(
                    scheme=scheme, region=district, year=year, created_by=actor
                )
        except IntegrityError:
            raise DomainError("该考核评议刚由他人创建，请刷新后打开") from None
        action = "assessment.created"
    else:
        assessment = existing
        action = "assessment.computed"
    _fill(assessment)
    assessment.save(update_fields=["computed_at", "body_count", "ranked_count"])
    audit.record(
        actor=actor, action=action, obj=assessment, after=audit.snapshot(assessment, ASSESSMENT_FIELDS)
    )
    return assessment


def _lock(assessment: Assessment) -> Assessment:
    return (
        Assessment.objects.select_for_update(of=("self",))
        .select_related("region", "scheme", "scheme__region")
        .get(pk=assessment.pk)
    )


@transaction.atomic
def recompute_assessment(actor, *, assessment: Assessment) -> Assessment:
    """Compute a draft again from today's figures, under the same scheme version."""
    assessment = _lock(assessment)
    return compute_assessment(actor, region=assessment.region, year=assessment.year, scheme=assessment.scheme)


@transaction.atomic
def issue_assessment(actor, *, assessment: Assessment) -> Assessment:
    """Issue a computed draft once its year is over: frozen from now on, as it was computed."""
    assessment = _lock(assessment)
    _require(actor, assessment.region, "签发执法单位考核评议")
    if AS.ISSUED not in ASSESSMENT_TRANSITIONS[assessment.status]:
        raise InvalidTransition(f"{assessment}当前为「{assessment.get_status_display()}」，不能再次签发")
    if assessment.year >= timezone.localdate().year:
        raise DomainError(f"{assessment.year}年度尚未结束，年度考核评议须在年度结束后签发")
    if assessment.scheme.status != SS.ACTIVE:
        raise DomainError(f"{assessment.scheme}已停用，请按现行方案重新计算后签发")
    if assessment.computed_at is None or not assessment.body_count:
        raise DomainError("考核评议尚未计算出任何执法单位的得分，不能签发")
    before = audit.snapshot(assessment, ASSESSMENT_FIELDS)
    assessment.status = AS.ISSUED
    assessment.issued_at, assessment.issued_by = timezone.now(), actor
    assessment.save(update_fields=["status", "issued_at", "issued_by"])
    audit.record(
        actor=actor,
        action="assessment.issued",
        obj=assessment,
        before=before,
        after=audit.snapshot(assessment, ASSESSMENT_FIELDS),
    )
    return assessment


# --- What the pages show --------------------------------------------------------------------------------------


def ranking_header(scheme: AssessmentScheme) -> list[str]:
    weights = [scoring.plain(Decimal(str(item["weight"]))) for item in scheme.items]
    return ["名次", "执法单位", "总分"] + [
        f"{item['name']}（{weight}分）" for item, weight in zip(scheme.items, weights, strict=True)
    ]


def ranking_rows(scheme: AssessmentScheme, scores) -> list[list]:
    """The ranking table's rows, as the page shows them and the export writes them: rank, body, total, then
    each item's points ("不计分" for an item not scored; "—" for no rank or no total)."""
    codes = [item["code"] for item in scheme.items]
    rows = []
    for score in scores:
        points = {
            row["item"]["code"]: scoring.rounded(Decimal(str(row["points"])))
            for row in score.breakdown
            if row["points"] is not None
        }
        rows.append(
            [
                score.rank if score.rank is not None else "—",
                score.body.name,
                score.total if score.total is not None else "—",
            ]
            + [points.get(code, "不计分") for code in codes]
        )
    return rows
