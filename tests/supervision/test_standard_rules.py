"""The data rules of the city standard (issue 17; seed 003): 「对未按照市级行政检查标准开展检查的，责令整改并跟踪进度」
and 「监督…行政检查裁量权行使」 — a record that departs from the standard's checklist, and a rectification deadline
outside the standard's range, are findings of data supervision."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jianchama.core import audit
from jianchama.core.models import AuditEvent
from jianchama.core.roles import Role
from jianchama.inspections import services
from jianchama.inspections.models import Finding as RecordFinding
from jianchama.inspections.models import InspectionRecord
from jianchama.registry import standards
from jianchama.supervision.models import Finding
from jianchama.supervision.rules import RULES, Context, run_rules
from tests.factories import user_for
from tests.inspections.conftest import build_scenario

POINTS = ["是否取得燃气经营许可证", "是否按许可范围经营", "是否建立安全管理制度"]
CODES = ("standard_departure", "rectify_outside_range")


@pytest.fixture
def s(db):
    s = build_scenario()
    s.admin = user_for(Role.PLATFORM_ADMIN)
    s.standard = follow_standard(s, [s.item], effective=datetime.date(2026, 1, 1))
    return s


def follow_standard(s, items, *, effective, version="2026.1", low=5, high=15, points=POINTS):
    return standards.register_standard(
        s.admin,
        document_number="沪建规范〔2026〕3号",
        version=version,
        title="上海市燃气行政检查标准",
        effective_date=effective,
        entries=[
            {"item": i.code, "checklist": points, "rectify_min_days": low, "rectify_max_days": high}
            for i in items
        ],
    )


def hits(code: str) -> dict[str, str]:
    ctx = Context(today=timezone.localdate(), now=timezone.now())
    return {hit.key: hit.description for hit in RULES[code].find(ctx)}


def record(
    s, *, entries, outcome=InspectionRecord.Outcome.NO_PROBLEM, days=None, result="compliant", task=None
):
    task = s.in_progress(task)
    services.record_result(
        s.inspector_user,
        task=task,
        outcome=outcome,
        summary="现场检查",
        findings=[
            services.FindingInput(
                item=item, entry=entry, result=result, note="问题" if result != "compliant" else ""
            )
            for item, entry in entries
        ],
        rectify_working_days=days,
    )
    return task


def test_a_record_that_covers_every_point_of_the_standard_breaks_neither_rule(s):
    record(s, entries=[(s.item, p) for p in POINTS])
    record(
        s,
        entries=[(s.item, p) for p in POINTS],
        outcome=InspectionRecord.Outcome.RECTIFY,
        days=10,
        result="not_compliant",
    )
    assert hits("standard_departure") == {} and hits("rectify_outside_range") == {}


def test_未按照市级行政检查标准开展检查_missing_points_and_entries_off_the_checklist(s):
    """「对未按照市级行政检查标准开展检查的，责令整改并跟踪进度」: the record of an item that follows the standard
    must give a result for every checklist point, and nothing off the checklist; either departure is a finding
    of data supervision, for the body to rectify through the three steps."""
    missing = record(s, entries=[(s.item, POINTS[0]), (s.item, POINTS[1])])
    off = record(s, entries=[*((s.item, p) for p in POINTS), (s.item, "是否张贴宣传海报")])
    found = hits("standard_departure")
    assert set(found) == {f"{missing.pk}:{s.item.pk}", f"{off.pk}:{s.item.pk}"}
    assert "未记录检查要点「是否建立安全管理制度」" in found[f"{missing.pk}:{s.item.pk}"]
    assert "《上海市燃气行政检查标准》v2026.1（沪建规范〔2026〕3号）" in found[f"{missing.pk}:{s.item.pk}"]
    assert "记录了标准以外的检查内容「是否张贴宣传海报」" in found[f"{off.pk}:{s.item.pk}"]


def test_only_items_following_a_standard_in_force_on_the_visit_day_are_judged(s):
    other = s.partner_item  # follows no standard: its own checklist, not judged
    task = record(
        s,
        task=s.joint_draft(),
        entries=[*((s.item, p) for p in POINTS), (other, "随便写的内容")],
    )
    assert hits("standard_departure") == {}
    # A version that takes effect tomorrow does not bind today's visit.
    follow_standard(s, [other], effective=timezone.localdate() + datetime.timedelta(days=1), version="2027.1")
    assert hits("standard_departure") == {}
    assert task.pk


def test_行政检查裁量权_a_rectification_deadline_outside_the_standard_s_range(s):
    """「监督…行政检查裁量权行使」: the standard sets the rectification deadline's range (here 5 to 15 working days);
    a deadline outside it is a finding that names the range."""
    too_long = record(
        s,
        entries=[(s.item, p) for p in POINTS],
        outcome=InspectionRecord.Outcome.RECTIFY,
        days=30,
        result="not_compliant",
    )
    too_short = record(
        s,
        entries=[(s.item, p) for p in POINTS],
        outcome=InspectionRecord.Outcome.RECTIFY,
        days=2,
        result="not_compliant",
    )
    record(
        s,
        entries=[(s.item, p) for p in POINTS],
        outcome=InspectionRecord.Outcome.RECTIFY,
        days=15,
        result="not_compliant",
    )
    found = hits("rectify_outside_range")
    assert set(found) == {str(too_long.pk), str(too_short.pk)}
    assert "责令30个工作日内整改" in found[str(too_long.pk)]
    assert (
        "“燃气经营许可情况检查”依《上海市燃气行政检查标准》v2026.1（沪建规范〔2026〕3号）为5至15个工作日"
        in (found[str(too_long.pk)])
    )


def test_the_range_that_binds_is_that_of_the_items_found_not_compliant(s):
    """A joint task with two standard items: the deadline answers to the item found not compliant."""
    follow_standard(
        s, [s.partner_item], effective=datetime.date(2026, 1, 1), version="2026.2", low=20, high=40
    )
    task = s.in_progress(s.joint_draft())
    findings = [
        services.FindingInput(item=s.item, entry=p, result="not_compliant", note="问题") for p in POINTS
    ]
    findings += [services.FindingInput(item=s.partner_item, entry=p, result="compliant") for p in POINTS]
    services.record_result(
        s.inspector_user,
        task=task,
        outcome=InspectionRecord.Outcome.RECTIFY,
        summary="现场检查",
        findings=findings,
        rectify_working_days=10,
    )
    assert hits("rectify_outside_range") == {}  # 10 is within the failed item's 5–15
    RecordFinding.objects.filter(record__task=task, item=s.item).update(result="compliant")
    # nothing failed: every standard item of the task binds, and 10 is below the partner item's 20
    assert set(hits("rectify_outside_range")) == {str(task.pk)}


def test_the_run_stores_them_as_findings_with_chinese_names_in_the_timeline(s):
    record(s, entries=[(s.item, POINTS[0])])
    run = run_rules(s.supervisor, rules=list(CODES))
    assert run.stats["standard_departure"]["new"] == 1
    finding = Finding.objects.get(rule="standard_departure")
    assert finding.title == "未按市级行政检查标准检查" and finding.body == s.body
    assert {e["model"] for e in finding.evidence} == {"inspections.Task", "registry.InspectionStandard"}
    event = AuditEvent.objects.get(action="supervision.rules_run")
    html = render_to_string("core/_timeline.html", {"events": [event], "show_object": True})
    assert "未按市级行政检查标准检查" in html and "整改期限超出标准裁量范围" in html
    assert "standard_departure" not in html
    assert audit.action_label("standard.create") == "登记市级行政检查标准"


def test_both_rules_are_set_based_a_fixed_number_of_queries_whatever_the_data(s):
    def measure():
        with CaptureQueriesContext(connection) as queries:
            for code in CODES:
                list(RULES[code].find(Context(today=timezone.localdate(), now=timezone.now())))
        return len(queries)

    record(s, entries=[(s.item, POINTS[0])])
    record(s, entries=[(s.item, p) for p in POINTS], outcome="rectify", days=40, result="not_compliant")
    few = measure()
    for _ in range(3):
        record(s, entries=[(s.item, POINTS[1])])
        record(s, entries=[(s.item, p) for p in POINTS], outcome="rectify", days=1, result="not_compliant")
    assert measure() == few
    assert len(hits("standard_departure")) == 4 and len(hits("rectify_outside_range")) == 4
