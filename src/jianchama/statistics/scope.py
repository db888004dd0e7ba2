"""Whose figures a user sees (the statistics' `visible_to`), the period and the filters.

A scope is a condition on the facts' rows (`rows`, the participations a user may count: task × body) and a
narrower one (`tasks`) that keeps one row per task, so that a count of tasks is exact without the task ids:
- the city (platform administrators, the city's supervisors): every row; a task is its `first_all` row;
- a district's supervisors and government: the participations of the district's bodies and those at the
  district's enterprises; a task is its `first_all` row when the enterprise is the district's, else the
  `first_district` row of the district's bodies (the lowest-numbered of them);
- a body (its inspectors and admin): its own participations, one per task;
- a city-level reviewer: its own and its district counterparts' participations (a task done jointly by two
  of them counts for each: such joint tasks are rare and the reviewer reads per body).
This is Task.visible_to's scope but for one case: a district's supervisors do not count the participation of
another district's body in a joint task at another district's enterprise (they see the task in the list).
"""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q

from jianchama.core.roles import Role
from jianchama.inspections.models import Task, TaskBody
from jianchama.registry.models import EnforcementBody, Enterprise, Region


@dataclass(frozen=True)
class Scope:
    label: str
    rows: Q
    tasks: Q
    level: str  # "city", "district", "bodies" or "none"
    district_id: int | None = None
    body_ids: tuple[int, ...] = ()
    # Who sees live evaluation figures (supervisors of the bodies' region), rather than F-26's releases.
    live_evaluations: Q | None = None
    # A body's administrator: the supervision figures count the body's own findings, steps and complaints, as
    # those models' `visible_to` show them to him; the body's inspectors and a city-level reviewer see none.
    own_supervision: bool = False

    @property
    def is_empty(self) -> bool:
        return self.level == "none"


NOWHERE = Q(pk__in=[])


def scope_for(user) -> Scope:
    if not user.is_authenticated:
        return Scope("", NOWHERE, NOWHERE, "none")
    if user.is_platform_admin:
        return Scope("全市", Q(), Q(first_all=True), "city", live_evaluations=Q())
    if user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT) and user.region_id:
        region = user.region
        live = user.role == Role.SUPERVISOR
        if region.level == Region.Level.CITY:
            return Scope(region.name, Q(), Q(first_all=True), "city", live_evaluations=Q() if live else None)
        district = region.district() if region.level == Region.Level.TOWN else region
        if district is not None:
            return region_scope(district, live_evaluations=live)
    if user.role in (Role.INSPECTOR, Role.BODY_ADMIN) and user.body_id:
        return body_scope(user.body, own_supervision=user.role == Role.BODY_ADMIN)
    if user.role == Role.CITY_REVIEWER and user.body_id:
        ids = tuple(
            EnforcementBody.objects.filter(Q(pk=user.body_id) | Q(city_counterpart_id=user.body_id))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        body = Q(body_id__in=ids)
        return Scope(user.body.name, body, body, "bodies", body_ids=ids)
    return Scope("", NOWHERE, NOWHERE, "none")


def region_scope(region: Region, *, live_evaluations: bool = True) -> Scope:
    """The figures of a region as its supervisors see them: the city's (every row) or a district's (its bodies'
    participations and those at its enterprises); the reports (F-37) and the public page (F-43) read this."""
    if region.level == Region.Level.CITY:
        return Scope(
            region.name, Q(), Q(first_all=True), "city", live_evaluations=Q() if live_evaluations else None
        )
    district = region.district() if region.level == Region.Level.TOWN else region
    d = district.pk
    return Scope(
        district.name,
        Q(enterprise_district_id=d) | Q(body_district_id=d),
        Q(enterprise_district_id=d, first_all=True)
        | (Q(body_district_id=d, first_district=True) & ~Q(enterprise_district_id=d)),
        "district",
        district_id=d,
        live_evaluations=Q(body_district_id=d) if live_evaluations else None,
    )


def body_scope(body: EnforcementBody, *, own_supervision: bool = False) -> Scope:
    """The figures of one body as its inspectors and admin see them: its own participations, one per task (and,
    for its administrator, `own_supervision`, its own supervision records)."""
    rows = Q(body_id=body.pk)
    return Scope(body.name, rows, rows, "bodies", body_ids=(body.pk,), own_supervision=own_supervision)


def can_view_statistics(user) -> bool:
    return not scope_for(user).is_empty


# --- The same scope on raw rows (the few the facts do not hold: figures_frequency.py) ------------------------


def district_members(district_id: int) -> tuple[list[int], list[int]]:
    """The district's regions (itself and its towns) and the bodies registered in them, as lists of ids (a few
    dozen each; a join on the path prefix is misestimated by PostgreSQL)."""
    path = Region.objects.filter(pk=district_id).values_list("path", flat=True).first()
    if not path:
        return [], []
    regions = list(Region.objects.filter(path__startswith=path).values_list("pk", flat=True))
    bodies = list(EnforcementBody.objects.filter(region_id__in=regions).values_list("pk", flat=True))
    return regions, bodies


def _taking_part(body_ids) -> Exists:
    return Exists(TaskBody.objects.filter(task_id=OuterRef("pk"), body_id__in=body_ids))


@dataclass(frozen=True)
class RawScope:
    """The scope on the raw rows, as the facts count them. `tasks` on inspection tasks (Task): the city every
    task; a district the tasks at its enterprises and those its bodies take part in elsewhere; bodies the tasks
    they take part in. `parties` on rows that name an enterprise and the one body concerned (`enterprise_id`,
    `body_id`: a refused submission): a district's those at its enterprises and those of its bodies."""

    tasks: Q
    parties: Q


def raw_scope(scope: Scope) -> RawScope:
    if scope.level == "city":
        return RawScope(Q(), Q())
    if scope.level == "district" and scope.district_id is not None:
        regions, bodies = district_members(scope.district_id)
        # Through a join on the row's enterprise, not `enterprise_id IN (the district's enterprises)`: the rows
        # are few, each a primary-key probe, where the IN hashed a district's every enterprise each time (50,000
        # at 1 M inspections: 33 ms of a figure's 40).
        at = Q(enterprise__region_id__in=regions)
        return RawScope(at | Q(_taking_part(bodies)), at | Q(body_id__in=bodies))
    if scope.level == "bodies":
        return RawScope(Q(_taking_part(scope.body_ids)), Q(body_id__in=scope.body_ids))
    return RawScope(NOWHERE, NOWHERE)


# --- The period ----------------------------------------------------------------------------------------------

PERIOD_KINDS = {"month": "月", "quarter": "季度", "year": "年", "custom": "自定义"}
LONGEST_CUSTOM_DAYS = 366 * 5


@dataclass(frozen=True)
class Period:
    start: datetime.date
    end: datetime.date
    kind: str = "year"

    @property
    def label(self) -> str:
        s, e = self.start, self.end
        if self.kind == "year":
            return f"{s.year}年"
        if self.kind == "quarter":
            return f"{s.year}年第{(s.month - 1) // 3 + 1}季度"
        if self.kind == "month":
            return f"{s.year}年{s.month}月"
        return f"{s:%Y-%m-%d}至{e:%Y-%m-%d}"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @classmethod
    def of(cls, kind: str, today: datetime.date, *, year=None, number=None, start=None, end=None) -> Period:
        """The year/quarter/month `number` of `year` (this one by default), or a custom range."""
        year = year or today.year
        if kind == "month":
            month = number or today.month
            return cls(
                datetime.date(year, month, 1),
                datetime.date(year, month, calendar.monthrange(year, month)[1]),
                "month",
            )
        if kind == "quarter":
            quarter = number or (today.month - 1) // 3 + 1
            first = 3 * (quarter - 1) + 1
            last = first + 2
            return cls(
                datetime.date(year, first, 1),
                datetime.date(year, last, calendar.monthrange(year, last)[1]),
                "quarter",
            )
        if kind == "custom" and start and end:
            return cls(start, end, "custom")
        return cls(datetime.date(year, 1, 1), datetime.date(year, 12, 31), "year")


@dataclass(frozen=True)
class Filters:
    """The page's filters besides the period; each narrows every figure. Ids, already checked against what
    the user may choose."""

    region_ids: tuple[int, ...] = ()  # the enterprise's town (a district's towns when a district is chosen)
    region_id: int | None = None  # the region chosen (the root of region_ids' subtree)
    field_id: int = 0
    body_id: int | None = None
    kind: str = ""
    labels: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def q(self) -> Q:
        q = Q(field_id=self.field_id)
        if self.region_ids:
            q &= Q(enterprise_region_id__in=self.region_ids)
        if self.body_id:
            q &= Q(body_id=self.body_id)
        if self.kind:
            q &= Q(kind=self.kind)
        return q

    def task_q(self) -> Q:
        """The same on inspection tasks (Task): the region its enterprise's, the field one of its items', the
        body one taking part."""
        q = Q()
        if self.region_ids:  # a join on the enterprise (see `raw_scope`)
            q &= Q(enterprise__region_id__in=self.region_ids)
        if self.field_id:
            q &= Q(
                Exists(
                    Task.items.through.objects.filter(
                        task_id=OuterRef("pk"), inspectionitem__field_id=self.field_id
                    )
                )
            )
        if self.body_id:
            q &= Q(_taking_part([self.body_id]))
        if self.kind:
            q &= Q(kind=self.kind)
        return q

    def party_q(self) -> Q:
        """The same on rows naming an enterprise, a body, a kind and `fields` (a refused submission)."""
        q = Q()
        if self.region_ids:
            q &= Q(enterprise__region_id__in=self.region_ids)
        if self.field_id:
            q &= Q(fields=self.field_id)
        if self.body_id:
            q &= Q(body_id=self.body_id)
        if self.kind:
            q &= Q(kind=self.kind)
        return q

    def visit_q(self) -> Q:
        """The same on VisitFact, which has no kind nor town (the frequency report filters by field only): a
        region is its enterprises (the region → enterprise drill-down: a town chosen, its most inspected)."""
        q = Q(field_id=self.field_id)
        if self.body_id:
            q &= Q(body_id=self.body_id)
        if self.region_ids:
            q &= Q(enterprise_id__in=Enterprise.objects.filter(region_id__in=self.region_ids).values("pk"))
        return q


def counting(scope: Scope, filters: Filters) -> Q:
    """The rows counted once per task in the scope under the filters. A chosen body counts its own rows: each
    is one of its tasks."""
    if filters.body_id:
        return scope.rows
    return scope.tasks
