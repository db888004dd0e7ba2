"""The assessment of bodies (考核评议, F-37; seed 003 二（四）2): points equal to hand-computed values, ties, a
changed scheme as a new version with old scores keeping their items, who sees what, refusals in Chinese that
save nothing, the export equal to the table, and a query count that does not grow with the bodies."""

from __future__ import annotations

import datetime
import importlib
import io
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from jianchama.complaints.models import Complaint
from jianchama.core.context_processors import menu_for
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.models import AuditEvent
from jianchama.core.roles import Role
from jianchama.inspections.models import Task
from jianchama.registry.models import EnforcementBody, Region
from jianchama.reports import assessment as services
from jianchama.reports import metrics, scoring
from jianchama.reports.models import Assessment, AssessmentScheme, AssessmentScore
from jianchama.statistics.build import rebuild_all
from jianchama.statistics.models import MonthlyFact
from jianchama.supervision.models import Finding
from tests.factories import BodyFactory, RegionFactory, user_for
from tests.supervision._steps_world import backdate, build_world, recommended

DEFAULT = importlib.import_module("jianchama.reports.migrations.0004_default_scheme")
YEAR = timezone.localdate().year - 1  # a year that is over: it may be issued

# A district scheme small enough to compute by hand: both rules, both directions, an item that can go unscored.
SMALL = [
    {"code": "findings_per_100", "name": "每百次检查监督发现问题数", "weight": 40, "kind": "linear",
     "full_at": 5, "zero_at": 30},
    {"code": "evaluation_average", "name": "企业评议平均分", "weight": 20, "kind": "linear", "full_at": 4.5,
     "zero_at": 3},
    {"code": "letters_not_rectified", "name": "建议书决定书未按期整改", "weight": 20, "kind": "deduct",
     "per": 5},
    {"code": "scan_rate", "name": "扫码率", "weight": 20, "kind": "linear", "full_at": 90, "zero_at": 50},
]  # fmt: skip


@pytest.fixture
def w(db, settings, tmp_path):
    """Jinshan (the gas body A, the market body B, a town's body C), Minhang's body; the supervisors, the
    governments, the bodies' administrators; a district scheme `SMALL` in use."""
    w = build_world(settings, tmp_path)
    w.town = RegionFactory(code="310116101", name="石化街道", level=Region.Level.TOWN, parent=w.jinshan)
    w.town_body = BodyFactory(name="金山区石化街道办事处", region=w.town)
    w.partner_admin = w.partner_head
    w.city_supervisor = user_for(Role.SUPERVISOR, region=w.city)
    w.scheme = services.activate_scheme(
        w.supervisor,
        scheme=services.create_scheme(
            w.supervisor, region=w.jinshan, name="金山区执法单位考核方案", year_from=YEAR, items=SMALL
        ),
    )
    return w


def fact(body: EnforcementBody, month: int, **measures) -> None:
    """A month of a body's facts as the statistics build them: the every-field row, and a field's row (which
    repeats it and must not be counted twice)."""
    district = body.region.district()
    for field_id in (0, 7):
        MonthlyFact.objects.create(
            month=datetime.date(YEAR, month, 1),
            body_id=body.pk,
            body_district_id=district.pk,
            enterprise_region_id=district.pk,
            enterprise_district_id=district.pk,
            field_id=field_id,
            kind="routine",
            first_all=True,
            first_district=True,
            **measures,
        )


def finding(body, status, month=3, year=YEAR, rule="", key=""):
    return Finding.objects.create(
        source=Finding.Source.DATA_RULE if rule else Finding.Source.OTHER,
        rule=rule,
        key=key,
        body=body,
        title="问题",
        status=status,
        period=datetime.date(year, month, 1),
    )


@pytest.fixture
def figures(w):
    """A: 40 inspections, 30 of 40 codes scanned, 6 ratings summing 26, 4 confirmed findings (and an open, a
    dismissed and last year's that do not count), a recommendation not rectified in time. B: 20 inspections,
    10 of 10 scanned, 3 ratings (fewer than the minimum). C: nothing. Minhang's body: findings (elsewhere)."""
    fact(w.body, 1, inspections=30, with_code=30, scanned=21, evaluations=4, overall_sum=18)
    fact(w.body, 2, inspections=10, with_code=10, scanned=9, evaluations=2, overall_sum=8)
    fact(w.partner, 5, inspections=20, with_code=10, scanned=10, evaluations=3, overall_sum=15)
    fact(w.other_body, 5, inspections=5, with_code=5, scanned=0)
    # The letter, by the real three steps, moved into the year with its deadline missed.
    rec = recommended(w)
    backdate(w.finding, period=datetime.date(YEAR, 3, 1))
    backdate(
        rec,
        issued_on=datetime.date(YEAR, 4, 1),
        rectify_missed_at=timezone.make_aware(datetime.datetime(YEAR, 4, 25, 9)),
    )
    finding(w.body, Finding.Status.WARNED)
    finding(w.body, Finding.Status.RECTIFIED, month=6)
    finding(w.body, Finding.Status.DECIDED, month=12)
    finding(w.body, Finding.Status.OPEN)  # still being verified
    finding(w.body, Finding.Status.DISMISSED)  # no problem
    finding(w.body, Finding.Status.WARNED, year=YEAR - 1)  # another year
    finding(w.other_body, Finding.Status.WARNED)  # another district
    return w


def by_body(assessment) -> dict[int, AssessmentScore]:
    return {s.body_id: s for s in assessment.scores.all()}


def points(score: AssessmentScore) -> dict[str, Decimal | None]:
    return {
        row["item"]["code"]: (Decimal(str(row["points"])) if row["points"] is not None else None)
        for row in score.breakdown
    }


def test_the_points_equal_hand_computed_values(figures):
    w = figures
    assessment = services.compute_assessment(w.supervisor, region=w.jinshan, year=YEAR)
    assert assessment.scheme == w.scheme and assessment.status == Assessment.Status.DRAFT
    scores = by_body(assessment)
    # Jinshan's three bodies (the town's included), not Minhang's.
    assert set(scores) == {w.body.pk, w.partner.pk, w.town_body.pk}
    assert assessment.body_count == 3 and assessment.ranked_count == 3

    # A: findings 4 ÷ 40 × 100 = 10 → 40 × (30 − 10) ÷ (30 − 5) = 32; ratings 26 ÷ 6 = 4.33 →
    # 20 × (4.33 − 3) ÷ 1.5 = 17.73; one letter → 20 − 5 = 15; scans 30 ÷ 40 = 75 % → 20 × 25 ÷ 40 = 12.5.
    a = scores[w.body.pk]
    assert points(a) == {
        "findings_per_100": Decimal("32"),
        "evaluation_average": Decimal("17.73"),
        "letters_not_rectified": Decimal("15"),
        "scan_rate": Decimal("12.5"),
    }
    assert a.total == Decimal("77.23")
    raw = {row["item"]["code"]: row["raw"] for row in a.breakdown}
    assert raw == {
        "findings_per_100": 10,
        "evaluation_average": 4.33,
        "letters_not_rectified": 1,
        "scan_rate": 75,
    }
    basis = {row["item"]["code"]: row["basis"] for row in a.breakdown}
    assert basis["findings_per_100"] == "监督发现问题4个，检查40次"
    assert basis["letters_not_rectified"] == "建议书未按期整改1件，决定书逾期未整改0件"
    # Each row carries the scheme item it used.
    assert [row["item"]["name"] for row in a.breakdown] == [item["name"] for item in SMALL]

    # B: 3 ratings are fewer than 5: that item is not scored and its 20 points are spread over the other
    # 80 (× 100/80): findings 0 → 40 × 1.25 = 50, no letter → 25, scans 100 % → 25; total 100.
    b = scores[w.partner.pk]
    assert points(b) == {
        "findings_per_100": Decimal("50"),
        "evaluation_average": None,
        "letters_not_rectified": Decimal("25"),
        "scan_rate": Decimal("25"),
    }
    assert b.total == Decimal("100")
    unscored = next(row for row in b.breakdown if row["item"]["code"] == "evaluation_average")
    assert unscored["scored"] is False and unscored["basis"] == "评议少于5条，本项不计分"
    # C: no inspections, no codes, no ratings: only the letters item is scored, 20 × 5 = 100.
    c = scores[w.town_body.pk]
    assert points(c)["letters_not_rectified"] == Decimal("100") and c.total == Decimal("100")

    # Ranking: B and C tie at 100 and share the first place; A is third (not second).
    assert (b.rank, c.rank, a.rank) == (1, 1, 3)


def test_the_evaluation_average_needs_the_release_minimum(figures, settings):
    settings.EVALUATION_RELEASE_MIN_RATINGS = 8
    assessment = services.compute_assessment(figures.supervisor, region=figures.jinshan, year=YEAR)
    a = by_body(assessment)[figures.body.pk]
    assert points(a)["evaluation_average"] is None
    # 32 + 15 + 12.5 = 59.5 over 80 points, × 1.25: 40 + 18.75 + 15.63 (15.625 rounded half up).
    assert points(a) == {
        "findings_per_100": Decimal("40"),
        "evaluation_average": None,
        "letters_not_rectified": Decimal("18.75"),
        "scan_rate": Decimal("15.63"),
    }
    assert a.total == Decimal("74.38")


def test_ranks_share_equal_totals_and_skip_after_them():
    totals = {1: Decimal("90"), 2: Decimal("80.5"), 3: Decimal("80.5"), 4: Decimal("70"), 5: None}
    assert scoring.ranks(totals) == {1: 1, 2: 2, 3: 2, 4: 4, 5: None}
    # A body with nothing scored has no total and no rank.
    only_rates = [{"code": "scan_rate", "name": "扫码率", "weight": 100, "rule": {"kind": "linear",
                   "full_at": 90, "zero_at": 50}}]  # fmt: skip
    scored = scoring.score_body(only_rates, {"scan_rate": metrics.Value(None, "全年未生成检查码")})
    assert scored.total is None and scored.breakdown[0]["points"] is None


def test_full_marks_with_an_item_unscored_make_100_and_every_row_adds_up():
    """85 points scored in full, the 15 of the evaluation item re-spread (× 100/85): 100.00, not 99.97."""
    raw = {code: Decimal(0) for code in metrics.METRICS} | {
        "scan_rate": Decimal(100),
        "code_coverage": Decimal(100),
        "evaluation_average": None,
    }
    scored = scoring.score_body(DEFAULT.ITEMS, {code: metrics.Value(v, "") for code, v in raw.items()})
    got = [Decimal(str(row["points"])) for row in scored.breakdown if row["scored"]]
    assert scored.total == Decimal("100.00") and sum(got) == scored.total
    # The parts are the exact shares rounded so that they add up (largest remainder).
    assert scoring.apportioned({"a": Decimal("1.005"), "b": Decimal("1.005"), "c": Decimal("1.001")}) == (
        Decimal("3.01"),
        {"a": Decimal("1.01"), "b": Decimal("1.00"), "c": Decimal("1.00")},
    )


def test_the_inspections_are_the_statistics_facts_of_real_tasks(w):
    """Through the real workflow: two closed inspections of A (one joint with B) in the year, rebuilt into
    the facts, are A's 2 and B's 1 inspections in the breakdown."""
    tasks = [w.closed(), w.closed(w.joint_draft())]
    day = datetime.date(YEAR, 6, 10)
    moment = timezone.make_aware(datetime.datetime.combine(day, datetime.time(10)))
    Task.objects.filter(pk__in=[t.pk for t in tasks]).update(
        window_start=day, window_end=day + datetime.timedelta(days=3), started_at=moment
    )
    finding(w.partner, Finding.Status.WARNED)
    rebuild_all()
    scores = by_body(services.compute_assessment(w.supervisor, region=w.jinshan, year=YEAR))
    basis = {
        pk: next(r["basis"] for r in s.breakdown if r["item"]["code"] == "findings_per_100")
        for pk, s in scores.items()
    }
    assert basis[w.body.pk] == "监督发现问题0个，检查2次"
    assert basis[w.partner.pk] == "监督发现问题1个，检查1次"
    assert basis[w.town_body.pk] == "全年无检查，本项不计分"


def test_the_default_scheme_is_seeded_city_wide_and_sums_to_100(db):
    # Seeded by the migration; run again here, as a transactional test elsewhere may have flushed the row.
    DEFAULT.seed(django_apps, None)
    scheme = AssessmentScheme.objects.get(region__isnull=True, status=AssessmentScheme.Status.ACTIVE)
    assert scheme.version == 1 and scheme.total_weight == 100
    assert {item["code"] for item in scheme.items} <= set(metrics.METRICS)
    assert scoring.clean_items(scheme.items) == scheme.items
    # Nothing in it counts inspections or fines as such (不得将考核与检查频率、罚款数额挂钩).
    assert not any(code in {"inspections", "fines"} for code in metrics.METRICS)


def test_a_changed_scheme_is_a_new_version_and_old_scores_keep_their_items(figures, client):
    w = figures
    old = services.issue_assessment(
        w.supervisor, assessment=services.compute_assessment(w.supervisor, region=w.jinshan, year=YEAR)
    )
    before = {s.body_id: (s.total, s.rank, s.breakdown) for s in old.scores.all()}

    # The scheme in use is never edited.
    with pytest.raises(InvalidTransition, match="不能修改"):
        services.update_scheme(w.supervisor, scheme=w.scheme, name="改", year_from=YEAR, items=SMALL[:1])
    w.scheme.refresh_from_db()
    assert w.scheme.name == "金山区执法单位考核方案" and len(w.scheme.items) == 4

    # A change is a new version: a draft copy, edited, then activated (the old version retires).
    draft = services.derive_scheme(w.supervisor, scheme=w.scheme)
    assert (draft.version, draft.status, draft.items) == (2, "draft", w.scheme.items)
    changed = [
        {**SMALL[0], "weight": 60, "name": "每百次检查问题数（新）"},
        {"code": "complaints_per_100", "name": "投诉率", "weight": 40, "kind": "linear", "full_at": 1,
         "zero_at": 10},
    ]  # fmt: skip
    services.update_scheme(
        w.supervisor, scheme=draft, name="金山区执法单位考核方案", year_from=YEAR, items=changed
    )
    services.activate_scheme(w.supervisor, scheme=draft)
    w.scheme.refresh_from_db()
    assert w.scheme.status == AssessmentScheme.Status.RETIRED

    # The issued assessment keeps version 1 and its scores, and its pages still show the old items.
    old.refresh_from_db()
    assert old.scheme_id == w.scheme.pk
    assert {s.body_id: (s.total, s.rank, s.breakdown) for s in old.scores.all()} == before
    client.force_login(w.supervisor)
    page = client.get(reverse("reports:assessment_detail", args=[old.pk])).content.decode()
    assert "扫码率（20分）" in page and "企业评议平均分（20分）" in page and "投诉率" not in page
    page = client.get(reverse("reports:assessment_score", args=[old.pk, w.body.pk])).content.decode()
    assert "≥90%得满分，≤50%得0分" in page and "77.23" in page

    # A new assessment of the same year under version 2 scores the new items.
    new = services.compute_assessment(w.supervisor, region=w.jinshan, year=YEAR)
    assert new.pk != old.pk and new.scheme == draft
    a = by_body(new)[w.body.pk]
    # findings 10 per 100 → 60 × 0.8 = 48; no complaints → 40.
    assert points(a) == {"findings_per_100": Decimal("48"), "complaints_per_100": Decimal("40")}
    page = client.get(reverse("reports:assessment_detail", args=[new.pk])).content.decode()
    assert "每百次检查问题数（新）（60分）" in page and "扫码率（20分）" not in page

    # The issued one is final.
    with pytest.raises(InvalidTransition, match="已签发"):
        services.compute_assessment(w.supervisor, region=w.jinshan, year=YEAR, scheme=w.scheme)


class Tables(HTMLParser):
    """The cells of the page's tables marked data-table, as text."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.current = None
        self.cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("data-table"):
            self.current = self.tables.setdefault(attrs["data-table"], [])
        elif self.current is not None and tag == "tr":
            self.current.append([])
        elif self.current is not None and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self.current = None
        elif tag in ("td", "th") and self.cell is not None:
            self.current[-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def page_table(response, name="ranking") -> list[list[str]]:
    parser = Tables()
    parser.feed(response.content.decode())
    return parser.tables[name]


def same(value) -> str:
    """A cell as text, numbers compared by value (12.50 on the page is 12.5 in the workbook)."""
    if value is None:
        return ""
    try:
        return str(Decimal(str(value)).normalize())
    except ArithmeticError:
        return str(value)


def workbook_rows(response) -> list[list[str]]:
    sheet = load_workbook(io.BytesIO(response.content)).active
    return [[same(c) for c in row] for row in sheet.iter_rows(values_only=True)]


def test_the_export_equals_the_table(figures, client):
    w = figures
    assessment = services.issue_assessment(
        w.supervisor, assessment=services.compute_assessment(w.supervisor, region=w.jinshan, year=YEAR)
    )
    for user, expected_rows in ((w.supervisor, 3), (w.government, 3), (w.head, 1)):
        client.force_login(user)
        table = page_table(client.get(reverse("reports:assessment_detail", args=[assessment.pk])))
        exported = workbook_rows(client.get(reverse("reports:assessment_export", args=[assessment.pk])))
        assert [[same(c) for c in row] for row in table] == exported
        assert len(exported) == 1 + expected_rows
    client.force_login(w.supervisor)
    table = page_table(client.get(reverse("reports:assessment_detail", args=[assessment.pk])))
    assert table[0][:3] == ["名次", "执法单位", "总分"]
    assert table[1][:3] == ["1", "金山区市场监督管理局", "100.00"]
    assert table[3] == ["3", "金山区建设和管理委员会", "77.23", "32.00", "17.73", "15.00", "12.50"]


def test_who_sees_what(figures, client):
    w = figures
    draft = services.compute_assessment(w.supervisor, region=w.jinshan, year=YEAR)
    detail = reverse("reports:assessment_detail", args=[draft.pk])
    own = reverse("reports:assessment_score", args=[draft.pk, w.body.pk])
    partner = reverse("reports:assessment_score", args=[draft.pk, w.partner.pk])

    # A draft is the bureau's: the district government and the bodies do not see it yet.
    for user in (w.head, w.government):
        client.force_login(user)
        assert client.get(detail).status_code == 404
    client.force_login(w.supervisor)
    assert client.get(detail).status_code == 200

    services.issue_assessment(w.supervisor, assessment=draft)
    # The body's administrator: his own row, breakdown and rank, never another body's.
    client.force_login(w.head)
    page = client.get(detail)
    assert page.status_code == 200
    text = page.content.decode()
    assert "金山区建设和管理委员会" in text and "77.23" in text and "列第3名" in text
    assert "金山区市场监督管理局" not in text and "石化街道" not in text
    assert client.get(own).status_code == 200
    assert client.get(partner).status_code == 404
    listing = client.get(reverse("reports:assessments")).content.decode()
    assert "第3名（共3个单位）" in listing
    # The partner's administrator sees his, not A's.
    client.force_login(w.partner_admin)
    assert client.get(partner).status_code == 200 and client.get(own).status_code == 404
    # The district government sees the whole district's table and every breakdown.
    client.force_login(w.government)
    text = client.get(detail).content.decode()
    assert "金山区市场监督管理局" in text and "金山区石化街道办事处" in text
    assert client.get(partner).status_code == 200
    # Minhang's supervisor and government, and people of no part in it, see nothing of Jinshan's.
    for user in (w.mh_supervisor, w.mh_government, w.other_head):
        client.force_login(user)
        assert client.get(detail).status_code == 404
        assert client.get(own).status_code == 404
        assert client.get(reverse("reports:assessment_export", args=[draft.pk])).status_code == 404
    for user in (w.inspector_user, w.observer, w.city_reviewer):
        client.force_login(user)
        assert client.get(reverse("reports:assessments")).status_code == 403
        assert client.get(detail).status_code in (403, 404)
    # The city's supervisors see every district's.
    client.force_login(w.city_supervisor)
    assert client.get(detail).status_code == 200
    # The querysets say the same.
    assert list(AssessmentScore.objects.visible_to(w.head).values_list("body_id", flat=True)) == [w.body.pk]
    assert AssessmentScore.objects.visible_to(w.government).count() == 3
    assert not Assessment.objects.visible_to(w.mh_government).exists()
    # The menu offers the page to the roles that read it.
    for user, shown in (
        (w.supervisor, True),
        (w.government, True),
        (w.head, True),
        (w.inspector_user, False),
    ):
        labels = [e.label for g in menu_for(user) for e in g.entries]
        assert ("执法单位考核评议" in labels) is shown


def test_schemes_are_seen_by_their_district_and_drafts_by_supervisors_only(w, client):
    draft = services.derive_scheme(w.supervisor, scheme=w.scheme)
    url = reverse("reports:scheme_detail", args=[w.scheme.pk])
    for user in (w.supervisor, w.government, w.head, w.city_supervisor):
        client.force_login(user)
        assert client.get(url).status_code == 200
    client.force_login(w.head)
    assert client.get(reverse("reports:scheme_detail", args=[draft.pk])).status_code == 404
    for user in (w.mh_supervisor, w.mh_government, w.other_head):
        client.force_login(user)
        assert client.get(url).status_code == 404
    client.force_login(w.supervisor)
    page = client.get(url).content.decode()
    assert "≤5个/百次得满分，≥30个/百次得0分，其间按比例计分" in page and "每件扣5分，扣完为止" in page


def refused_with(call, message: str, exc=DomainError) -> None:
    schemes, assessments, events = (
        AssessmentScheme.objects.count(),
        Assessment.objects.count(),
        AuditEvent.objects.count(),
    )
    with pytest.raises(exc) as refusal:
        call()
    assert message in refusal.value.message
    assert (AssessmentScheme.objects.count(), Assessment.objects.count(), AuditEvent.objects.count()) == (
        schemes,
        assessments,
        events,
    )


def test_bad_input_is_refused_in_chinese_and_nothing_is_saved(w):
    def create(items=SMALL, name="方案", year_from=YEAR, actor=None, region=None):
        return lambda: services.create_scheme(
            actor or w.supervisor, region=region or w.jinshan, name=name, year_from=year_from, items=items
        )

    refused_with(create(items=[{**SMALL[0], "weight": 30}, *SMALL[1:]]), "各项分值合计须为100分（现为90分）")
    refused_with(create(items=[]), "方案至少要有一项考核内容")
    refused_with(create(items=[*SMALL, {"code": "fines", "weight": 1}]), "没有名为「fines」的考核指标")
    refused_with(create(items=[*SMALL, SMALL[0]]), "「每百次检查监督发现问题数」重复出现")
    refused_with(
        create(items=[{**SMALL[0], "zero_at": 5}, *SMALL[1:]]),
        "「每百次检查监督发现问题数」的满分线和零分线不能相同",
    )
    refused_with(
        create(items=[{**SMALL[3], "kind": "deduct", "per": 1}, *SMALL[:3]]),
        "「扫码率」是比率或平均分，只能区间计分",
    )
    refused_with(
        create(items=[{**SMALL[2], "per": "-1"}, SMALL[0], SMALL[1], SMALL[3]]), "每次扣分须为大于0的数"
    )
    refused_with(create(items=[{**SMALL[0], "weight": "abc"}, *SMALL[1:]]), "的分值须为大于0、不超过100的数")
    refused_with(create(name="  "), "请填写方案名称")
    refused_with(create(year_from=1999), "适用起始年度须在")
    refused_with(create(actor=w.mh_supervisor), "只有金山区司法局的执法监督人员", PermissionDenied)
    refused_with(create(actor=w.head), "只有金山区司法局的执法监督人员", PermissionDenied)
    refused_with(
        lambda: services.create_scheme(w.supervisor, region=None, name="全市", year_from=YEAR, items=SMALL),
        "只有市司法局执法监督人员可以制定考核评议方案",
        PermissionDenied,
    )

    def compute(region=None, year=YEAR, actor=None, scheme=None):
        return lambda: services.compute_assessment(
            actor or w.supervisor, region=region or w.jinshan, year=year, scheme=scheme
        )

    refused_with(compute(year=timezone.localdate().year + 1), "考核年度须在")
    refused_with(compute(actor=w.mh_supervisor), "只有金山区司法局的执法监督人员", PermissionDenied)
    refused_with(compute(actor=w.government), "只有金山区司法局的执法监督人员", PermissionDenied)
    refused_with(compute(actor=w.city_supervisor, region=w.city), "考核评议按区进行，请选择一个区")
    draft = services.derive_scheme(w.supervisor, scheme=w.scheme)
    refused_with(compute(scheme=draft), "只能按启用中的方案计分")
    mh = services.create_scheme(
        w.mh_supervisor, region=w.minhang, name="闵行方案", year_from=YEAR, items=SMALL
    )
    mh = services.activate_scheme(w.mh_supervisor, scheme=mh)
    refused_with(compute(scheme=mh), "是闵行区的方案，不适用于金山区")
    refused_with(compute(year=YEAR - 1), f"自{YEAR}年起适用，不能用于{YEAR - 1}年度的考核")

    this_year = services.compute_assessment(w.supervisor, region=w.jinshan, year=YEAR + 1)
    refused_with(
        lambda: services.issue_assessment(w.supervisor, assessment=this_year), f"{YEAR + 1}年度尚未结束"
    )
    last = services.compute_assessment(w.supervisor, region=w.jinshan, year=YEAR)
    refused_with(
        lambda: services.issue_assessment(w.government, assessment=last), "只有金山区", PermissionDenied
    )
    services.issue_assessment(w.supervisor, assessment=last)
    refused_with(lambda: services.issue_assessment(w.supervisor, assessment=last), "不能再次签发")
    refused_with(lambda: services.recompute_assessment(w.supervisor, assessment=last), "已签发，结果已固定")


def test_the_pages_refuse_bad_input_with_the_form_kept_and_nothing_saved(w, client):
    client.force_login(w.supervisor)
    form = {"region": str(w.jinshan.pk), "name": "金山区新方案", "year_from": str(YEAR)}
    for item in SMALL:
        for key in ("name", "weight", "kind", "full_at", "zero_at", "per"):
            if key in item:
                form[f"{key}_{item['code']}"] = str(item[key])
    form["weight_scan_rate"] = "10"
    count = AssessmentScheme.objects.count()
    response = client.post(reverse("reports:scheme_create"), form)
    assert response.status_code == 400
    text = response.content.decode()
    assert "各项分值合计须为100分（现为90分）" in text and 'value="金山区新方案"' in text
    assert AssessmentScheme.objects.count() == count
    # Corrected, it is saved as the next version of Jinshan's line, a draft; then activated on its page.
    form["weight_scan_rate"] = "20"
    response = client.post(reverse("reports:scheme_create"), form)
    scheme = AssessmentScheme.objects.get(region=w.jinshan, version=2)
    assert response.status_code == 302 and scheme.status == "draft" and scheme.total_weight == 100
    client.post(reverse("reports:scheme_action", args=[scheme.pk, "activate"]))
    scheme.refresh_from_db()
    assert scheme.status == "active"
    # Computing through the page: a bad year comes back as a message, a good one opens the assessment.
    response = client.post(reverse("reports:assessment_compute"), {"region": w.jinshan.pk, "year": "abc"})
    assert response.status_code == 302 and not Assessment.objects.exists()
    response = client.post(reverse("reports:assessment_compute"), {"region": w.jinshan.pk, "year": YEAR})
    assessment = Assessment.objects.get()
    assert response["Location"] == reverse("reports:assessment_detail", args=[assessment.pk])
    client.post(reverse("reports:assessment_action", args=[assessment.pk, "issue"]))
    assessment.refresh_from_db()
    assert assessment.status == "issued" and assessment.scheme == scheme
    # Another district's supervisor cannot reach it at all.
    client.force_login(w.mh_supervisor)
    assert (
        client.post(reverse("reports:assessment_action", args=[assessment.pk, "recompute"])).status_code
        == 404
    )


def district_of(n: int, supervisor) -> tuple[Region, list[EnforcementBody]]:
    """A district of n bodies, each with a year of facts, a confirmed finding, a complaint, assessed under a
    scheme of every metric (the default's items) of its own."""
    district = RegionFactory(code=f"3101{n:03d}", name=f"测试{n}区", level=Region.Level.DISTRICT)
    bodies = [
        BodyFactory(code=f"Q{n:02d}{i:03d}", name=f"测试{n}区执法单位{i}", region=district) for i in range(n)
    ]
    for i, body in enumerate(bodies):
        fact(
            body, 1 + i % 12, inspections=10 + i, with_code=10, scanned=i % 10, evaluations=5, overall_sum=20
        )
        finding(body, Finding.Status.WARNED, rule="late_record", key=f"{n}-{i}")
        Complaint.objects.create(
            number=f"TS-{n}-{i}", source="phone", category="repeated_inspection", title="重复检查", content="—",
            body=body, received_on=datetime.date(YEAR, 3, 1),
        )  # fmt: skip
    services.activate_scheme(
        supervisor,
        scheme=services.create_scheme(
            supervisor, region=district, name="全部指标", year_from=YEAR, items=DEFAULT.ITEMS
        ),
    )
    return district, bodies


def test_the_query_count_does_not_grow_with_the_bodies(w, django_assert_max_num_queries):
    """Every metric is computed for all bodies of the district at once: 3 bodies and 30 cost the same."""
    counts = {}
    for n in (3, 30):
        district, _bodies = district_of(n, w.city_supervisor)
        with CaptureQueriesContext(connection) as queries:
            assessment = services.compute_assessment(w.city_supervisor, region=district, year=YEAR)
        counts[n] = len(queries)
        assert assessment.body_count == n and assessment.scores.count() == n
    assert counts[3] == counts[30], counts
    for n in (3, 30):
        district = Region.objects.get(code=f"3101{n:03d}")
        Assessment.objects.filter(region=district).delete()
        with django_assert_max_num_queries(counts[3]):
            services.compute_assessment(w.city_supervisor, region=district, year=YEAR)
    print(
        f"\ncompute_assessment: {counts[3]} queries for 3 bodies, {counts[30]} for 30 (default scheme, 9 items)"
    )


def test_the_ranking_page_costs_the_same_for_3_and_30_bodies(w, client):
    client.force_login(w.city_supervisor)
    counts = {}
    for n in (3, 30):
        district, _bodies = district_of(n, w.city_supervisor)
        assessment = services.compute_assessment(w.city_supervisor, region=district, year=YEAR)
        for name in ("reports:assessment_detail", "reports:assessment_export"):
            client.get(reverse(name, args=[assessment.pk]))  # the session's first request loads more
            with CaptureQueriesContext(connection) as queries:
                assert client.get(reverse(name, args=[assessment.pk])).status_code == 200
            counts[(name, n)] = len(queries)
    for name in ("reports:assessment_detail", "reports:assessment_export"):
        assert counts[(name, 3)] == counts[(name, 30)], counts
    print(f"\nranking page: {counts[('reports:assessment_detail', 3)]} queries, export: "
          f"{counts[('reports:assessment_export', 3)]}, for 3 bodies and for 30")  # fmt: skip
