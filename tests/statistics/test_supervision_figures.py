"""The supervision figures of the statistics page (issue 13): findings by rule and severity, the three steps and
their deadlines, the quarterly sampling against its target, the complaints by source and category and their
handling time. Each equals a direct count of the raw rows (counted here in Python, row by row), for the city, a
district and a body; each reader sees only what the models' `visible_to` let him see elsewhere; the page shows
them and the Excel export has the same rows; the queries do not grow with the rows."""

from __future__ import annotations

import datetime
import io
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from jianchama.complaints.models import Complaint
from jianchama.core.models import CalendarDay
from jianchama.core.roles import Role
from jianchama.core.workdays import working_days_between
from jianchama.registry.models import Region
from jianchama.statistics import snapshots
from jianchama.statistics.figures import FIGURES, PAGE_FIGURES
from jianchama.statistics.figures_supervision import NOT_SHOWN
from jianchama.statistics.scope import Filters, Period, scope_for
from jianchama.supervision.models import (
    Decision,
    Finding,
    Method,
    Recommendation,
    SampledBody,
    SamplingReview,
    SamplingRound,
    ScoreSheet,
    Severity,
    SupervisionWarning,
)
from jianchama.supervision.rules import RULES
from tests.factories import EnterpriseFactory, user_for
from tests.statistics.test_views import same, table

CODES = ["supervision_findings", "supervision_steps", "sampling_coverage", "complaints"]
SEVERITIES = [value for value, _ in Severity.choices]


def year() -> int:
    """Last year: a whole year that has ended, so that every deadline in it is past today."""
    return timezone.localdate().year - 1


def day(month: int, dom: int, *, y: int | None = None) -> datetime.date:
    return datetime.date(y or year(), month, dom)


def moment(d: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(d, datetime.time(15)))


def compute(code: str, user, filters: Filters | None = None):
    period = Period.of("year", timezone.localdate(), year=year())
    return FIGURES[code].compute(scope_for(user), period, filters or Filters())


def by_label(rows) -> dict:
    return {row[0]: list(row[1:]) for row in rows}


# --- The world -------------------------------------------------------------------------------------------------


def finding(
    body, *, rule="", severity=Severity.LOW, status=Finding.Status.WARNED, month=1, y=None, source=None
):
    source = source or (Finding.Source.DATA_RULE if rule else Finding.Source.OTHER)
    return Finding.objects.create(
        source=source,
        rule=rule,
        key=f"k{Finding.objects.count()}" if rule else "",
        body=body,
        title=RULES[rule].title if rule else "其他问题",
        severity=severity,
        status=status,
        period=day(month, 1, y=y),
    )


def warning(s, body, warned_on, *, late=False):
    return SupervisionWarning.objects.create(
        finding=finding(body, rule="", y=year() - 2),
        body=body,
        channel=SupervisionWarning.Channel.PHONE,
        warned_on=warned_on,
        content="电话提醒",
        recommendation_due=warned_on + datetime.timedelta(days=7),
        recommendation_missed_at=moment(warned_on + datetime.timedelta(days=8)) if late else None,
        created_by=s.supervisor,
    )


def recommendation(s, body, issued_on, *, due=None, direct=False, **fields):
    number = f"REC-{Recommendation.objects.count() + 1}"
    return Recommendation.objects.create(
        finding=finding(body, y=year() - 2),
        direct=direct,
        body=body,
        number=number,
        facts="事实",
        legal_basis="依据",
        demanded="要求",
        issue_due=due or issued_on,
        issued_on=issued_on,
        issued_at=moment(issued_on),
        issued_by=s.supervisor,
        document="supervision/recommendations/x.pdf",
        received_on=issued_on,
        rectify_by=issued_on + datetime.timedelta(days=21),
        review_due=issued_on + datetime.timedelta(days=28),
        **fields,
    )


def decision(s, rec, issued_on, **fields):
    return Decision.objects.create(
        recommendation=rec,
        body=rec.body,
        number=f"DEC-{Decision.objects.count() + 1}",
        facts="事实",
        legal_basis="依据",
        demanded="要求",
        deadline_working_days=10,
        deadline=issued_on + datetime.timedelta(days=14),
        requested_by=s.supervisor,
        issued_by=s.supervisor,
        issued_on=issued_on,
        issued_at=moment(issued_on),
        document="supervision/decisions/x.pdf",
        **fields,
    )


def sampling_round(s, region, quarter, *, pool, drawn, status=SamplingRound.Status.REVEALED):
    r = SamplingRound.objects.create(
        region=region,
        year=year(),
        quarter=quarter,
        algorithm="test",
        ratio="0.1",
        body_count=len(drawn) or 1,
        pool=[[f"P{n:03d}", f"单位{n}"] for n in range(pool)],
        pool_hash="0" * 64,
        seed_commitment="0" * 64,
        seed="s",
        status=status,
    )
    for position, body in enumerate(drawn, 1):
        SampledBody.objects.create(round=r, body=body, position=position)
    return r


def review(s, sampled, method, passed):
    return SamplingReview.objects.create(
        sampled=sampled,
        method=method,
        sheet=s.sheet,
        scores=[],
        total=80 if passed else 40,
        full_marks=100,
        pass_score=60,
        passed=passed,
        reviewed_on=day(3, 20),
        reviewer=s.supervisor,
    )


def complaint(body=None, *, enterprise=None, source, category, received, due=None, handled=None, status=None):
    S = Complaint.Status
    return Complaint.objects.create(
        number=f"TS-{Complaint.objects.count() + 1}",
        source=source,
        category=category,
        title="投诉",
        body=body,
        enterprise=enterprise,
        received_on=received,
        handle_by=due,
        assigned_at=moment(received) if status in (S.ASSIGNED, S.HANDLED, S.CLOSED) else None,
        handled_at=moment(handled) if handled else None,
        status=status or S.REGISTERED,
    )


@pytest.fixture
def world(s):
    """Jinshan (the gas body, its market partner; a town with an enterprise), Minhang (its body) and a city body,
    last year: findings of several rules, sources, severities and states; warnings, recommendations and
    decisions with deadlines kept and missed; sampling rounds above and below the 10% target; complaints of
    several sources and categories, handled in time, late, or not at all. Some rows fall outside the year."""
    s.city_supervisor = user_for(Role.SUPERVISOR, region=s.city)
    s.government = user_for(Role.DISTRICT_GOVERNMENT, region=s.jinshan)
    s.admin = user_for(Role.PLATFORM_ADMIN)
    s.town = Region.objects.create(code="310116101", name="朱泾镇", level=Region.Level.TOWN, parent=s.jinshan)
    s.town_enterprise = EnterpriseFactory(name="朱泾燃气有限公司", region=s.town)
    H, M, L = Severity.HIGH, Severity.MEDIUM, Severity.LOW
    St, Src = Finding.Status, Finding.Source

    # Findings of last year (and two outside it).
    finding(s.body, rule="no_code", severity=H, status=St.WARNED, month=1)
    finding(s.body, rule="no_code", severity=H, status=St.OPEN, month=2)
    finding(s.body, rule="code_not_scanned", severity=M, status=St.RECTIFIED, month=3)
    finding(s.body, rule="outside_plan", severity=H, status=St.DISMISSED, month=3)
    finding(s.body, severity=L, status=St.WARNED, month=4, source=Src.SAMPLING)
    finding(s.body, severity=M, status=St.OPEN, month=5, source=Src.COMPLAINT)
    finding(s.partner, rule="no_code", severity=L, status=St.RECOMMENDED, month=6)
    finding(s.other_body, rule="no_code", severity=H, status=St.WARNED, month=1)
    finding(s.other_body, rule="code_not_scanned", severity=L, status=St.OPEN, month=2)
    finding(s.city_body, rule="no_code", severity=M, status=St.WARNED, month=1)
    finding(s.body, rule="no_code", severity=H, status=St.WARNED, month=12, y=year() - 1)
    finding(s.body, rule="no_code", severity=H, status=St.WARNED, month=1, y=year() + 1)

    # The three steps.
    warning(s, s.body, day(2, 1), late=True)
    warning(s, s.body, day(3, 1))
    warning(s, s.body, datetime.date(year() - 1, 12, 20), late=True)  # outside the year
    warning(s, s.partner, day(4, 1))
    warning(s, s.other_body, day(2, 1), late=True)
    recommendation(
        s,
        s.body,
        day(2, 10),
        due=day(2, 8),  # issued late
        reported_at=moment(day(2, 20)),
        reviewed_at=moment(day(3, 1)),
    )
    s.missed = recommendation(
        s,
        s.body,
        day(3, 10),
        due=day(3, 12),
        direct=True,
        reported_at=moment(day(4, 20)),  # reported after the deadline was missed
        rectify_missed_at=moment(day(4, 2)),
        review_missed_at=moment(day(5, 2)),
    )
    s.pending = recommendation(s, s.body, day(5, 1))
    recommendation(s, s.other_body, day(2, 15), reported_at=moment(day(2, 25)))
    decision(s, s.missed, day(4, 1), closed_at=moment(day(4, 10)))
    decision(s, s.pending, day(6, 1), deadline_missed_at=moment(day(6, 20)))

    # Sampling: Jinshan's first quarter at the target, its second below it, its third committed only (not
    # drawn), its fourth none; Minhang's first quarter; a round of the year before.
    s.sheet = ScoreSheet.objects.create(
        region=s.city,
        name="评分表",
        method=Method.DOCUMENT_REVIEW,
        items=[{"name": "a", "max": 100}],
        created_by=s.supervisor,
    )
    q1 = sampling_round(s, s.jinshan, 1, pool=10, drawn=[s.body])
    review(s, q1.sampled.get(), Method.DOCUMENT_REVIEW, True)
    review(s, q1.sampled.get(), Method.ONSITE_OBSERVATION, False)
    sampling_round(s, s.jinshan, 2, pool=20, drawn=[s.partner])
    sampling_round(s, s.jinshan, 3, pool=20, drawn=[], status=SamplingRound.Status.COMMITTED)
    sampling_round(s, s.minhang, 1, pool=5, drawn=[s.other_body])
    old = sampling_round(s, s.jinshan, 4, pool=10, drawn=[s.body])
    SamplingRound.objects.filter(pk=old.pk).update(year=year() - 1)

    # Complaints, with a holiday on a weekday within the handling time of Minhang's first (3 to 10 March).
    s.holiday = day(3, 4)
    while s.holiday.weekday() >= 5:
        s.holiday += datetime.timedelta(days=1)
    CalendarDay.objects.create(date=s.holiday, kind=CalendarDay.Kind.HOLIDAY, name="测试假日")
    C, Cat, S = Complaint.Source, Complaint.Category, Complaint.Status
    complaint(s.body, source=C.HOTLINE_12345, category=Cat.REPEATED_INSPECTION, received=day(3, 2),
              due=day(3, 20), handled=day(3, 10), status=S.CLOSED)  # fmt: skip
    complaint(s.body, source=C.HOTLINE_12345, category=Cat.NO_CODE, received=day(3, 2),
              due=day(3, 20), handled=day(4, 10), status=S.HANDLED)  # fmt: skip  # late
    complaint(s.body, source=C.PHONE, category=Cat.REPEATED_INSPECTION, received=day(5, 5),
              due=day(5, 20), status=S.ASSIGNED)  # fmt: skip  # overdue
    complaint(s.partner, source=C.LETTER, category=Cat.MISCONDUCT, received=day(6, 1))  # not yet assigned
    complaint(
        enterprise=s.enterprise, source=C.PORTAL, category=Cat.OTHER, received=day(7, 1), status=S.REJECTED
    )
    complaint(s.other_body, source=C.HOTLINE_12345, category=Cat.REPEATED_INSPECTION, received=day(3, 3),
              due=day(3, 20), handled=day(3, 10), status=S.CLOSED)  # fmt: skip
    complaint(s.other_body, enterprise=s.enterprise, source=C.HOTLINE_12345, category=Cat.NO_CODE,
              received=day(8, 3), due=day(8, 24), handled=day(8, 10), status=S.CLOSED)  # fmt: skip
    complaint(enterprise=s.town_enterprise, source=C.OBSERVER, category=Cat.OTHER, received=day(9, 1))
    complaint(s.body, source=C.PHONE, category=Cat.OTHER, received=datetime.date(year() - 1, 12, 30),
              due=datetime.date(year(), 1, 20), status=S.ASSIGNED)  # fmt: skip  # outside the year
    return s


# --- Direct counts of the raw rows, row by row ---------------------------------------------------------------


def in_year(d: datetime.date) -> bool:
    return d.year == year()


def direct_findings(region: Region | None, bodies=None, confirmed_only=False) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for f in Finding.objects.select_related("body__region"):
        if not in_year(f.period) or f.status == Finding.Status.DISMISSED:
            continue
        if region is not None and not f.body.region.path.startswith(region.path):
            continue
        if bodies is not None and f.body_id not in bodies:
            continue
        if confirmed_only and f.status == Finding.Status.OPEN:
            continue
        if f.source == Finding.Source.DATA_RULE:
            label = RULES[f.rule].title
        else:
            label = f"其他来源：{f.get_source_display()}"
        row = out.setdefault(label, [0, 0, 0, 0])
        row[0] += 1
        row[1 + SEVERITIES.index(f.severity)] += 1
    return out


def direct_steps(region: Region | None, bodies=None) -> dict[str, list]:
    def mine(row) -> bool:
        if region is not None and not row.body.region.path.startswith(region.path):
            return False
        return bodies is None or row.body_id in bodies

    warnings = [
        w
        for w in SupervisionWarning.objects.select_related("body__region")
        if in_year(w.warned_on) and mine(w)
    ]
    recs = [
        r for r in Recommendation.objects.select_related("body__region") if in_year(r.issued_on) and mine(r)
    ]
    decs = [d for d in Decision.objects.select_related("body__region") if in_year(d.issued_on) and mine(d)]
    late = sum(1 for w in warnings if w.recommendation_missed_at)
    issued_late = sum(1 for r in recs if r.issued_on > r.issue_due)
    rectify_missed = sum(1 for r in recs if r.rectify_missed_at)
    review_missed = sum(1 for r in recs if r.review_missed_at)
    return {
        "第一步：预警提醒": [len(warnings), "—", "—"],
        "预警后制发监督建议书（5个工作日）": [len(warnings), len(warnings) - late, late],
        "第二步：制发监督建议书": [len(recs), len(recs) - issued_late, issued_late],
        "其中未经预警直接制发": [sum(1 for r in recs if r.direct), "—", "—"],
        "单位整改（15个工作日）": [
            len(recs),
            sum(1 for r in recs if r.reported_at and not r.rectify_missed_at),
            rectify_missed,
        ],
        "跟踪复查（5个工作日）": [
            len(recs),
            sum(1 for r in recs if r.reviewed_at and not r.review_missed_at),
            review_missed,
        ],
        "区政府制发监督决定书": [
            len(decs),
            sum(1 for d in decs if d.closed_at and not d.deadline_missed_at),
            sum(1 for d in decs if d.deadline_missed_at),
        ],
    }


def direct_complaints(keep) -> dict[str, list]:
    """Per row label: received, handled, handled late, overdue today, and the handled ones' working days."""
    today = timezone.localdate()
    groups: dict[str, list] = {}
    for c in Complaint.objects.select_related("body__region", "enterprise__region"):
        if not in_year(c.received_on) or not keep(c):
            continue
        for label in ("合计", f"来源：{c.get_source_display()}", f"类别：{c.get_category_display()}"):
            g = groups.setdefault(label, [0, 0, 0, 0, []])
            g[0] += 1
            if c.handled_at:
                handled = timezone.localdate(c.handled_at)
                g[1] += 1
                g[2] += bool(c.handle_by and handled > c.handle_by)
                g[4].append(working_days_between(c.received_on, handled))
            elif c.status == Complaint.Status.ASSIGNED and c.handle_by and c.handle_by < today:
                g[3] += 1
    return groups


def about_region(region: Region):
    def keep(c: Complaint) -> bool:
        return bool(
            (c.body and c.body.region.path.startswith(region.path))
            or (c.enterprise and c.enterprise.region.path.startswith(region.path))
        )

    return keep


def one_decimal(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def assert_complaints_equal(rows, direct):
    got = by_label(rows)
    assert list(got) == [label for label in got if label in direct] and set(got) == set(direct)
    for label, (n, handled, late, overdue, days) in direct.items():
        assert got[label][:4] == [n, handled, late, overdue], label
        if days:
            ordered = sorted(days)
            middle = len(ordered) // 2
            median = (
                ordered[middle] if len(ordered) % 2 else Decimal(ordered[middle - 1] + ordered[middle]) / 2
            )
            assert got[label][4:] == [one_decimal(Decimal(sum(days)) / len(days)), one_decimal(median)], label
        else:
            assert got[label][4:] == [None, None], label


# --- The figures equal the direct counts -------------------------------------------------------------------


def test_findings_by_rule_and_severity_equal_direct_counts(world):
    s = world
    for user, region in ((s.city_supervisor, None), (s.supervisor, s.jinshan), (s.mh_supervisor, s.minhang)):
        got = compute("supervision_findings", user)
        assert got.columns == ["规则或来源", "问题数", "一般", "较重", "严重"]
        assert by_label(got.rows) == direct_findings(region), user.region.name
    # The numbers themselves, so that a mistake shared by the figure and the direct count still shows.
    jinshan = compute("supervision_findings", s.supervisor)
    assert [row[0] for row in jinshan.rows] == [
        "无码检查",
        "检查码未被扫码核验",
        "其他来源：抽查",
        "其他来源：投诉举报",
    ]
    assert by_label(jinshan.rows) == {
        "无码检查": [3, 1, 0, 2],
        "检查码未被扫码核验": [1, 0, 1, 0],
        "其他来源：抽查": [1, 1, 0, 0],
        "其他来源：投诉举报": [1, 0, 1, 0],
    }
    assert "合计6个（一般2个、较重2个、严重2个）" in jinshan.note
    assert by_label(compute("supervision_findings", s.city_supervisor).rows)["无码检查"] == [5, 1, 1, 3]


def test_steps_and_their_deadlines_equal_direct_counts(world):
    s = world
    for user, region in ((s.city_supervisor, None), (s.supervisor, s.jinshan), (s.mh_supervisor, s.minhang)):
        got = compute("supervision_steps", user)
        assert got.columns == ["环节", "件数", "按期", "逾期"]
        assert by_label(got.rows) == direct_steps(region), user.region.name
    assert by_label(compute("supervision_steps", s.supervisor).rows) == {
        "第一步：预警提醒": [3, "—", "—"],
        "预警后制发监督建议书（5个工作日）": [3, 2, 1],
        "第二步：制发监督建议书": [3, 2, 1],
        "其中未经预警直接制发": [1, "—", "—"],
        "单位整改（15个工作日）": [3, 1, 1],
        "跟踪复查（5个工作日）": [3, 1, 1],
        "区政府制发监督决定书": [2, 1, 1],
    }


def test_sampling_coverage_against_the_target(world):
    s = world
    jinshan = compute("sampling_coverage", s.supervisor)
    assert jinshan.series == [3, 4] and jinshan.columns[3:5] == ["抽查比例（%）", "目标比例（%）"]
    y = year()
    assert [[same(c) for c in row] for row in jinshan.rows] == [
        [f"金山区{y}年第1季度", 10.0, 1.0, 10.0, 10.0, "达标", 2.0, 1.0],
        [f"金山区{y}年第2季度", 20.0, 1.0, 5.0, 10.0, "未达标", 0.0, 0.0],
        [f"{y}年第3季度：尚未抽取", "—", "—", "—", 10.0, "未抽取", "—", "—"],
        [f"{y}年第4季度：尚未抽取", "—", "—", "—", 10.0, "未抽取", "—", "—"],
    ]
    # Direct: each revealed round of the year, its drawn bodies over its pool.
    city = compute("sampling_coverage", s.city_supervisor)
    rounds = SamplingRound.objects.filter(year=y, status=SamplingRound.Status.REVEALED).select_related(
        "region"
    )
    direct = {
        f"{r.region.name}{y}年第{r.quarter}季度": round(100 * r.sampled.count() / len(r.pool), 1)
        for r in rounds
    }
    assert {row[0]: float(row[3]) for row in city.rows if row[3] is not None} == direct
    assert [row[0] for row in city.rows][:3] == [
        f"闵行区{y}年第1季度",
        f"金山区{y}年第1季度",
        f"金山区{y}年第2季度",
    ]
    assert not any("闵行" in row[0] for row in jinshan.rows)


def test_complaints_by_source_category_and_handling_time_equal_direct_counts(world):
    s = world
    for user, region in (
        (s.city_supervisor, s.city),
        (s.supervisor, s.jinshan),
        (s.mh_supervisor, s.minhang),
    ):
        got = compute("complaints", user)
        assert got.rows[0][0] == "合计"
        assert_complaints_equal(got.rows, direct_complaints(about_region(region)))
    jinshan = by_label(compute("complaints", s.supervisor).rows)
    # Received in the year: 3 about the gas body, 1 about its partner, 1 about a Jinshan enterprise, 1 by a
    # Minhang body at a Jinshan enterprise, 1 at the town's enterprise.
    assert jinshan["合计"][:4] == [7, 3, 1, 1]
    assert jinshan["来源：12345市民服务热线"][:4] == [3, 3, 1, 0]
    assert jinshan["类别：无码检查或检查码异常"][:3] == [2, 2, 1]
    minhang = by_label(compute("complaints", s.mh_supervisor).rows)
    assert minhang["合计"][:4] == [2, 2, 0, 0]
    # Working days on the calendar: Minhang's repeated-inspection complaint took the weekdays from 3 to 10
    # March less the holiday.
    weekdays = sum(1 for n in range(1, 8) if (day(3, 3) + datetime.timedelta(days=n)).weekday() < 5)
    assert minhang["类别：重复检查、多头检查"][4:] == [weekdays - 1, weekdays - 1]


# --- Who sees what -------------------------------------------------------------------------------------------


def test_a_district_sees_its_own_and_a_body_what_it_may_see_elsewhere(world):
    s = world
    # The district's supervisors and its government alike; never another district's.
    for user in (s.supervisor, s.government):
        findings = by_label(compute("supervision_findings", user).rows)
        assert findings == direct_findings(s.jinshan)
    mh = compute("supervision_findings", s.mh_supervisor)
    assert by_label(mh.rows) == {"无码检查": [1, 0, 0, 1], "检查码未被扫码核验": [1, 1, 0, 0]}
    assert by_label(compute("supervision_steps", s.mh_supervisor).rows)["第一步：预警提醒"] == [1, "—", "—"]

    # A body's administrator: his body's findings once warned (Finding.visible_to), its steps, the complaints
    # assigned to it (Complaint.visible_to); nothing of his partner's.
    head = compute("supervision_findings", s.head)
    visible = set(Finding.objects.visible_to(s.head).filter(period__year=year()).values_list("pk", flat=True))
    assert sum(row[1] for row in head.rows) == len(visible) == 3
    assert by_label(head.rows) == direct_findings(None, bodies={s.body.pk}, confirmed_only=True)
    steps = by_label(compute("supervision_steps", s.head).rows)
    assert steps == direct_steps(None, bodies={s.body.pk})
    assert (
        steps["第一步：预警提醒"][0]
        == SupervisionWarning.objects.visible_to(s.head).filter(warned_on__year=year()).count()
    )
    complaints = compute("complaints", s.head)
    assigned = set(
        Complaint.objects.visible_to(s.head).filter(received_on__year=year()).values_list("pk", flat=True)
    )
    assert complaints.rows[0][1] == len(assigned) == 3
    assert_complaints_equal(complaints.rows, direct_complaints(lambda c: c.pk in assigned))
    partner = by_label(compute("supervision_steps", s.partner_head).rows)
    assert partner["第一步：预警提醒"][0] == 1 and partner["第二步：制发监督建议书"][0] == 0

    # Its inspectors and a city-level reviewer see no supervision record elsewhere: an empty table saying so.
    for user in (s.inspector_user, s.city_reviewer):
        assert not Finding.objects.visible_to(user).exists()
        for code in ("supervision_findings", "supervision_steps", "complaints"):
            got = compute(code, user)
            assert got.rows == [] and got.empty == NOT_SHOWN and got.series == [], code

    # The sampling rounds are public: a body's people see the rounds drawing from its district (not Minhang's),
    # without the reviews' pass or fail.
    for user in (s.head, s.inspector_user):
        rows = by_label(compute("sampling_coverage", user).rows)
        assert list(rows)[:2] == [f"金山区{year()}年第1季度", f"金山区{year()}年第2季度"]
        assert rows[f"金山区{year()}年第1季度"][5:] == [2, None]


def test_the_filters_it_follows_and_says_it_does_not(world):
    s = world
    # A body chosen: its rows only.
    chosen = Filters(body_id=s.partner.pk)
    assert by_label(compute("supervision_findings", s.supervisor, chosen).rows) == direct_findings(
        None, bodies={s.partner.pk}
    )
    assert by_label(compute("supervision_steps", s.supervisor, chosen).rows) == direct_steps(
        None, bodies={s.partner.pk}
    )
    assert_complaints_equal(
        compute("complaints", s.supervisor, chosen).rows,
        direct_complaints(lambda c: c.body_id == s.partner.pk),
    )
    # A district chosen on the city's page: that district's, as its own supervisors see it.
    district = Filters(
        region_ids=tuple(s.jinshan.subtree().values_list("pk", flat=True)), region_id=s.jinshan.pk
    )
    for code in CODES:
        assert compute(code, s.city_supervisor, district).rows == compute(code, s.supervisor).rows, code
    # A town chosen: no body is registered there; the complaint about its enterprise is.
    town = Filters(region_ids=(s.town.pk,), region_id=s.town.pk)
    assert compute("supervision_findings", s.supervisor, town).rows == []
    assert by_label(compute("complaints", s.supervisor, town).rows)["合计"][0] == 1
    # A field or a kind of inspection: not followed, and said so.
    for code in CODES:
        plain = compute(code, s.supervisor)
        narrowed = compute(code, s.supervisor, Filters(field_id=s.gas.pk, kind="random"))
        assert narrowed.rows == plain.rows, code
        assert "不按" in plain.note and "执法领域" in plain.note and "检查类型" in plain.note, code
    assert "执法单位" in compute("sampling_coverage", s.supervisor).note


# --- Bounded queries, live -----------------------------------------------------------------------------------


def test_the_queries_do_not_grow_with_the_rows_and_the_figures_are_live(world):
    s = world

    def queries(code: str, user) -> int:
        with CaptureQueriesContext(connection) as captured:
            compute(code, user)
        return len(captured)

    before = {
        (code, who): queries(code, user)
        for code in CODES
        for who, user in (("city", s.city_supervisor), ("head", s.head))
    }
    for n in range(10):
        finding(s.body, rule="no_code", severity=Severity.HIGH, month=1 + n)
        warning(s, s.body, day(1 + n, 10), late=n % 2 == 0)
        rec = recommendation(s, s.body, day(1 + n, 12))
        decision(s, rec, day(1 + n, 20))
        complaint(s.body, source=Complaint.Source.PHONE, category=Complaint.Category.OTHER, received=day(1 + n, 3),
                  due=day(1 + n, 25), handled=day(1 + n, 18), status=Complaint.Status.CLOSED)  # fmt: skip
    sampling_round(s, s.minhang, 2, pool=8, drawn=[s.other_body])
    after = {
        (code, who): queries(code, user)
        for code in CODES
        for who, user in (("city", s.city_supervisor), ("head", s.head))
    }
    assert after == before
    assert max(before.values()) <= 8
    # Computed in the request, never stored ahead nor deferred; the evaluations stay live too.
    for code in ("evaluations", *CODES):
        assert code in snapshots.LIVE and code not in snapshots.HEAVY and code in PAGE_FIGURES


# --- The page and the export ---------------------------------------------------------------------------------


def test_the_page_shows_them_and_the_export_has_the_same_rows(client, world):
    s = world
    client.force_login(s.supervisor)
    query = f"period=year&year={year()}"
    page = client.get(f"/statistics/?{query}").content.decode()
    for code in CODES:
        assert f"<h2>{FIGURES[code].name}</h2>" in page, code
    for code in CODES:
        expected = compute(code, s.supervisor).rows
        shown = table(page, code)
        if shown == [["该期间没有数据。"]]:
            shown = []
        assert [[same(c) for c in r] for r in shown] == [[same(c) for c in r] for r in expected], code
    assert ["无码检查", "3", "1", "0", "2"] in table(page, "supervision_findings")

    workbook = load_workbook(io.BytesIO(client.get(f"/statistics/?{query}&format=xlsx").content))
    for code in CODES:
        rows = list(workbook[FIGURES[code].name].iter_rows(values_only=True))
        assert list(rows[0]) == compute(code, s.supervisor).columns, code
        expected = compute(code, s.supervisor).rows
        assert [[same(c) for c in r] for r in rows[1:]] == [[same(c) for c in r] for r in expected], code
    one = load_workbook(io.BytesIO(client.get(f"/statistics/?{query}&figure=complaints&format=xlsx").content))
    assert one.sheetnames == ["投诉举报"]
    assert Counter(r[0] for r in one["投诉举报"].iter_rows(min_row=2, values_only=True))["合计"] == 1

    # An inspector's page says the supervision figures are not his to see, and shows none of their numbers.
    client.force_login(s.inspector_user)
    page = client.get(f"/statistics/?{query}").content.decode()
    assert table(page, "supervision_findings") == [[NOT_SHOWN]]
    assert table(page, "complaints") == [[NOT_SHOWN]]
