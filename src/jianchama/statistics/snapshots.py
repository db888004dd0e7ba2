"""Figures computed ahead (issues 13 and 16).

The page's figures sum the daily or monthly fact tables; most cost 15–100 ms whatever the size of the task
table, a dozen of them a page. Three cost more, and so does the frequency report: "repeated inspections" (the
gap between each enterprise's consecutive visits, a window over a year of visit facts), "the most inspected
enterprises" and the frequency report's counts (groups by enterprise, and distinct enterprises per body and
field, over the same rows), and the heat calendar (a year of daily facts grouped by day). At a million
inspections they take 0.3–2 s for the city's year (bench/README.md) and grow with the data. For the views
everyone opens — the city's, a district's or a body's scope, a calendar year, quarter or month, no other
filter — the job queue computes every figure but the evaluations every STATISTICS_SNAPSHOT_MINUTES minutes
(this and last year, quarter and month) into FigureSnapshot, and the pages read the rows, saying when they were
computed; a body's view costs about a fortieth of the city's at forty bodies (its rows are its own), so the
bodies' views together cost about one city view.

Any other view of the city or a district (an earlier period, a custom one, a filter) is computed live while the
facts are small; past STATISTICS_LIVE_MAX_VISIT_FACTS visit facts (`defers`) the page queues it instead, shows
its light figures and says the others are being computed, and reloads itself until the job has stored them
(a standard view with no snapshot yet alike)
(with its filters in `FigureSnapshot.filters`): at ten million inspections such a view's heavy figures took
0.14–2.6 s each in the request. A body's views and a city-level reviewer's several bodies compute live (their
rows are their own: under 150 ms at ten million). A snapshot older than
STATISTICS_SNAPSHOT_MAX_AGE_MINUTES is still shown, with its time and age on the page (数据更新于…，N分钟前),
and that view's figures are queued for the job queue to compute again (once per view while queued): at ten
million inspections computing them in the request took 22–35 s. Only a view with no snapshot at all computes
live.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from jianchama.registry.models import EnforcementBody, Region

from .figures import FIGURES, PAGE_FIGURES, FrequencyCounts, Table
from .figures import frequency_counts as live_frequency_counts
from .models import FigureSnapshot
from .scope import Filters, Period, Scope, body_scope, region_scope

# Figures always computed in the request: their rows depend on who reads them (the evaluations: supervisors see
# live aggregates, the district government and bodies F-26's releases; the per-inspector figure's evaluation
# columns alike; the supervision figures: a body's administrator his own, its inspectors none), and they read few
# rows (a few milliseconds; one body's inspectors; the supervision and complaint tables, thousands of rows). The
# per-item figure is empty but for a field chosen, and then reads that field's ItemFact rows by index.
LIVE = (
    "evaluations",
    "by_inspector",
    "by_item",
    "supervision_findings",
    "supervision_steps",
    "sampling_coverage",
    "complaints",
)
# Every other figure of the page. Among them the frequency control figures (figures_frequency.py): they read
# only the few tasks and refusals their partial indexes hold, but a district's scope tests each row's enterprise
# and bodies (80–110 ms a year at 1 M inspections with a few in a hundred noted), too slow for every request.
HEAVY = tuple(code for code in PAGE_FIGURES if code not in LIVE)
FREQUENCY = "frequency_counts"  # the frequency report's counts (figures.frequency_counts), stored alike
FREQUENCY_LIMIT = 50
STANDARD_KINDS = ("year", "quarter", "month")
VIEW_JOB = "jianchama.statistics.jobs.refresh_view"


def max_age() -> datetime.timedelta:
    return datetime.timedelta(minutes=settings.STATISTICS_SNAPSHOT_MAX_AGE_MINUTES)


def scope_key(scope: Scope) -> str | None:
    if scope.level == "city":
        return "city"
    if scope.level == "district" and scope.district_id:
        return f"district:{scope.district_id}"
    if scope.level == "bodies" and len(scope.body_ids) == 1:
        # A body's own figures (its inspectors and admin; a city-level reviewer without district counterparts
        # counts the same rows).
        return f"body:{scope.body_ids[0]}"
    return None


def is_standard(scope: Scope, period: Period, filters: Filters) -> bool:
    return scope_key(scope) is not None and period.kind in STANDARD_KINDS and filters == Filters()


def filters_key(filters: Filters) -> str:
    """The filters as part of a snapshot's key: "" for none, else e.g. "region=12&field=3&kind=planned" (a
    region stands for its subtree, `Filters.region_ids`)."""
    parts = [
        ("region", filters.region_id),
        ("field", filters.field_id or None),
        ("body", filters.body_id),
        ("kind", filters.kind or None),
    ]
    return "&".join(f"{name}={value}" for name, value in parts if value is not None)


def _filters_args(filters: Filters) -> dict:
    """The filters as the queued job's argument (JSON), and back (`_filters_of`)."""
    return {
        "region_ids": list(filters.region_ids),
        "region_id": filters.region_id,
        "field_id": filters.field_id,
        "body_id": filters.body_id,
        "kind": filters.kind,
    }


def _filters_of(args: dict | None) -> Filters:
    if not args:
        return Filters()
    return Filters(
        region_ids=tuple(int(r) for r in args.get("region_ids") or ()),
        region_id=args.get("region_id"),
        field_id=int(args.get("field_id") or 0),
        body_id=args.get("body_id"),
        kind=args.get("kind") or "",
    )


def _visit_facts() -> int:
    """About how many VisitFact rows there are: PostgreSQL's estimate (kept by ANALYZE and autovacuum), else the
    highest id. Both cost an index or catalogue read, not a count."""
    from django.db import connection

    from .models import VisitFact

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [VisitFact._meta.db_table]
            )
        else:
            cursor.execute(f"SELECT MAX(id) FROM {VisitFact._meta.db_table}")
        row = cursor.fetchone()
    return int(row[0] or 0) if row else 0


def defers(scope: Scope) -> bool:
    """Whether the city's or a district's views that no standard snapshot serves are computed by the job queue
    rather than in the request: when the visit facts are more than STATISTICS_LIVE_MAX_VISIT_FACTS."""
    if scope.level not in ("city", "district") or scope_key(scope) is None:
        return False
    return _visit_facts() > settings.STATISTICS_LIVE_MAX_VISIT_FACTS


def _encode(value):
    if isinstance(value, datetime.date):
        return {"date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value):
    if isinstance(value, dict) and set(value) == {"date"}:
        return datetime.date.fromisoformat(value["date"])
    if isinstance(value, dict) and set(value) == {"decimal"}:
        return Decimal(value["decimal"])
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _table(data: dict) -> Table:
    return Table(
        columns=data["columns"],
        rows=_decode(data["rows"]),
        chart=data["chart"],
        series=data["series"],
        note=data["note"],
        link=data["link"],
        links=data["links"],
        extra=data["extra"],
        empty=data.get("empty", ""),  # not in the snapshots stored before it existed
    )


def _data(table: Table) -> dict:
    return {
        "columns": table.columns,
        "rows": _encode(table.rows),
        "chart": table.chart,
        "series": table.series,
        "note": table.note,
        "link": table.link,
        "links": table.links,
        "extra": table.extra,
        "empty": table.empty,
    }


def _latest(
    key: str, code: str, start: datetime.date, end: datetime.date, filters: str = ""
) -> FigureSnapshot | None:
    return (
        FigureSnapshot.objects.filter(scope_key=key, filters=filters, code=code, start=start, end=end)
        .only("table", "computed_at")
        .first()
    )


def is_stale(snapshot: FigureSnapshot, now=None) -> bool:
    return snapshot.computed_at < (now or timezone.now()) - max_age()


def _queued_marker(key: str, start: datetime.date, end: datetime.date, filters: str = "") -> str:
    """The cache entry saying a view's job is queued (`queue_view`), deleted once it has run."""
    return f"statistics-view-queued:{key}:{start.isoformat()}:{end.isoformat()}:{filters}"


def queue_view(
    key: str, kind: str, start: datetime.date, end: datetime.date, filters: Filters | None = None
) -> bool:
    """Queue the job that computes the view's snapshots again, unless it is queued already (a cache entry for
    as long as a scheduled run takes to come round); after the request's transaction commits. Returns whether
    it queued it."""
    from django_q.tasks import async_task

    filters = filters or Filters()
    said = filters_key(filters)
    if not cache.add(
        _queued_marker(key, start, end, said),
        True,
        timeout=60 * max(1, settings.STATISTICS_SNAPSHOT_MINUTES),
    ):
        return False

    args = [key, kind, start.isoformat(), end.isoformat()] + ([_filters_args(filters)] if said else [])

    def send() -> None:
        async_task(
            VIEW_JOB,
            *args,
            task_name=f"statistics-view-{key}-{start.isoformat()}-{end.isoformat()}-{said}"[:100],
        )

    transaction.on_commit(send)
    return True


def _age_note(snapshot: FigureSnapshot, now=None) -> str:
    stamp = timezone.localtime(snapshot.computed_at)
    minutes = int(((now or timezone.now()) - snapshot.computed_at).total_seconds() // 60)
    return (
        f"数据更新于{stamp.year}年{stamp.month}月{stamp.day}日{stamp:%H:%M}，{minutes}分钟前"
        "（正在重新计算，稍后刷新页面可见最新数据）。"
    )


def _standard_range(start: datetime.date, end: datetime.date) -> bool:
    """Whether [start, end] is a calendar year, quarter or month."""
    if start.day != 1 or (end + datetime.timedelta(days=1)).day != 1 or end < start:
        return False
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    return (months == 1) or (months == 3 and start.month % 3 == 1) or (months == 12 and start.month == 1)


def frequency_counts(
    scope: Scope, start: datetime.date, end: datetime.date, *, field_id: int = 0, limit: int = FREQUENCY_LIMIT
) -> FrequencyCounts:
    """The frequency report's counts: from a fresh snapshot for the city's or a district's calendar year,
    quarter or month over every field, else computed now."""
    key = scope_key(scope)
    if key and not field_id and limit == FREQUENCY_LIMIT and _standard_range(start, end):
        snapshot = _latest(key, FREQUENCY, start, end)
        if snapshot is not None:
            # Past its age the snapshot is still shown, with its time and age, and the view queued (as the
            # statistics page does): at ten million inspections the counts took 4.8–11.5 s in the request.
            if is_stale(snapshot):
                queue_view(key, _kind(start, end), start, end)
                note = _age_note(snapshot)
            else:
                stamp = timezone.localtime(snapshot.computed_at)
                note = f"检查次数截至{stamp:%H:%M}（每{settings.STATISTICS_SNAPSHOT_MINUTES}分钟更新）。"
            data = snapshot.table
            return FrequencyCounts(
                top=[tuple(row) for row in data["top"]],
                by_body=[tuple(row) for row in data["by_body"]],
                by_field=[tuple(row) for row in data["by_field"]],
                total=data["total"],
                note=note,
            )
    return live_frequency_counts(scope, start, end, field_id=field_id, limit=limit)


PENDING_NOTE = "数据量较大，本项正由后台计算，完成后页面自动刷新显示。"


def compute(
    code: str, scope: Scope, period: Period, filters: Filters, *, now=None, defer: bool | None = None
) -> Table:
    """The figure `code` as the page shows it: from the snapshot of its view for a heavy figure (a standard
    view's, or one the job queue computed when asked; one past its age with its age said, and the view queued
    to be computed again); a view the request should not compute (`defer`, by default `defers(scope)`)
    queued, and shown as pending (`Table.pending`); else computed now."""
    figure = FIGURES[code]
    key = scope_key(scope)
    if code in HEAVY and key is not None:
        standard = is_standard(scope, period, filters)
        if not standard and defer is None:
            defer = defers(scope)
        if standard or defer:
            said_filters = filters_key(filters)
            snapshot = _latest(key, code, period.start, period.end, said_filters)
            if snapshot is not None:
                table = _table(snapshot.table)
                if is_stale(snapshot, now):
                    queue_view(key, period.kind, period.start, period.end, filters)
                    said = _age_note(snapshot, now)
                else:
                    stamp = timezone.localtime(snapshot.computed_at)
                    every = (
                        f"每{settings.STATISTICS_SNAPSHOT_MINUTES}分钟更新"
                        if standard
                        else f"超过{settings.STATISTICS_SNAPSHOT_MAX_AGE_MINUTES}分钟后再次打开时重新计算"
                    )
                    said = f"本项数据截至{stamp:%H:%M}（{every}）。"
                table.note = " ".join(part for part in (table.note, said) if part)
                return table
            # A standard view without any snapshot yet (the job has not run since the period began, or an
            # earlier year's quarter) is deferred alike at scale.
            if defer is None:
                defer = defers(scope)
            if defer:
                queue_view(key, period.kind, period.start, period.end, filters)
                return Table(columns=[], rows=[], series=[], note=PENDING_NOTE, pending=True)
    return figure.compute(scope, period, filters)


def _kind(start: datetime.date, end: datetime.date) -> str:
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    return {1: "month", 3: "quarter"}.get(months, "year")


def standard_periods(today: datetime.date) -> list[Period]:
    """This year, quarter and month; and the last ones: the last month and quarter keep changing for a while
    after they end (results recorded late, backfills), last year is what annual reviews open."""
    quarter = (today.month - 1) // 3 + 1
    last_month = today.replace(day=1) - datetime.timedelta(days=1)
    last_quarter_end = datetime.date(today.year, (quarter - 1) * 3 + 1, 1) - datetime.timedelta(days=1)
    periods = [
        Period.of("year", today),
        Period.of("quarter", today, number=quarter),
        Period.of("month", today),
        Period.of("month", today, year=last_month.year, number=last_month.month),
        Period.of("quarter", today, year=last_quarter_end.year, number=(last_quarter_end.month - 1) // 3 + 1),
    ]
    periods.append(Period.of("year", today, year=today.year - 1))  # the year in review, opened all year
    unique: dict[tuple, Period] = {}
    for period in periods:
        unique.setdefault((period.start, period.end), period)
    return list(unique.values())


def standard_scopes() -> list[Scope]:
    """The city, each district and each body: the scopes a user's statistics page opens on."""
    regions = Region.objects.filter(level__in=[Region.Level.CITY, Region.Level.DISTRICT]).order_by("path")
    bodies = EnforcementBody.objects.order_by("pk").only("name")
    return [region_scope(region) for region in regions] + [body_scope(body) for body in bodies]


def refresh_view_of(scope: Scope, period: Period, filters: Filters | None = None) -> int:
    """Compute one view's heavy figures and, for a standard view (but a body's, which has no frequency report),
    the frequency counts now; returns how many were written."""
    key = scope_key(scope)
    filters = filters or Filters()
    said = filters_key(filters)
    written = 0
    for code in HEAVY:
        table = FIGURES[code].compute(scope, period, filters)
        with transaction.atomic():
            FigureSnapshot.objects.update_or_create(
                scope_key=key,
                filters=said,
                code=code,
                start=period.start,
                end=period.end,
                defaults={"table": _data(table), "computed_at": timezone.now()},
            )
        written += 1
    if scope.level != "bodies" and not said and period.kind in STANDARD_KINDS:
        counts = live_frequency_counts(scope, period.start, period.end, limit=FREQUENCY_LIMIT)
        data = {
            "top": counts.top,
            "by_body": counts.by_body,
            "by_field": counts.by_field,
            "total": counts.total,
        }
        FigureSnapshot.objects.update_or_create(
            scope_key=key,
            code=FREQUENCY,
            start=period.start,
            end=period.end,
            defaults={"table": data, "computed_at": timezone.now()},
        )
        written += 1
    cache.delete(_queued_marker(key, period.start, period.end, said))
    return written


def refresh_view(
    key: str, kind: str, start: datetime.date, end: datetime.date, filters: dict | None = None
) -> int:
    """The queued job of one view (`queue_view`): its scope from the key, its period from the dates, its filters
    from their arguments."""
    chosen = _filters_of(filters)
    if key == "city":
        region = Region.objects.filter(level=Region.Level.CITY).first()
    elif key.startswith("district:"):
        region = Region.objects.filter(pk=int(key.split(":", 1)[1]), level=Region.Level.DISTRICT).first()
    elif key.startswith("body:"):
        body = EnforcementBody.objects.filter(pk=int(key.split(":", 1)[1])).first()
        return refresh_view_of(body_scope(body), Period(start, end, kind), chosen) if body else 0
    else:
        region = None
    if region is None:
        return 0
    return refresh_view_of(region_scope(region), Period(start, end, kind), chosen)


def refresh_snapshots(
    today: datetime.date | None = None, progress: Callable[[str], None] | None = None
) -> int:
    """Compute the heavy figures of every standard view now; returns how many were written."""
    today = today or timezone.localdate()
    written = 0
    for scope in standard_scopes():
        key = scope_key(scope)
        if key is None:
            continue
        for period in standard_periods(today):
            written += refresh_view_of(scope, period)
            if progress:
                progress(f"{scope.label} {period.label}")
    FigureSnapshot.objects.filter(computed_at__lt=timezone.now() - datetime.timedelta(days=40)).delete()
    # The views computed when a page asked for them (a filter, a custom period) are kept a day.
    asked = FigureSnapshot.objects.filter(computed_at__lt=timezone.now() - datetime.timedelta(days=1))
    asked.exclude(filters="").delete()
    return written
