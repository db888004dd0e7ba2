"""Lists cost what they show (issue 16): the queries of a page do not grow with the rows it shows.

Each list is opened as a user who sees it, with a few rows and then with ten times as many on one page; the
query count must be the same (a query per row, an N+1, fails here). The task list's own test is
tests/inspections/test_task_list_scale.py."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jianchama.core import pages
from jianchama.core.roles import Role
from jianchama.notifications.services import notify_user
from jianchama.supervision.models import Finding
from jianchama.supervision.services import create_finding
from tests.complaints.conftest import complaint_scenario
from tests.factories import BodyFactory, EnterpriseFactory, RegionFactory, filed_plan, make_uscc, user_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def s(db, monkeypatch):
    monkeypatch.setattr(pages, "PAGE_SIZE", 500)
    return complaint_scenario()


def queries(client, url: str) -> tuple[int, str]:
    client.get(url)  # the session's first request also saves its last activity
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured), response.content.decode()


def same_queries_for_few_and_many(client, url: str, add, few: int = 10, many: int = 100) -> str:
    for n in range(few):
        add(n)
    before, page = queries(client, url)
    for n in range(few, many):
        add(n)
    after, page = queries(client, url)
    assert after == before, f"{url}: {before} queries for {few} rows, {after} for {many}"
    return page


@pytest.mark.parametrize("who", ["intake", "supervisor", "head"])
def test_complaint_ledger(client, s, who):
    client.force_login(getattr(s, who))

    def add(n):
        complaint = s.hotline(title=f"第{n}件投诉", enterprise=s.enterprise)
        if n % 2:
            s.handled(complaint)

    page = same_queries_for_few_and_many(client, "/complaints/", add)
    if who != "head":
        assert "第99件投诉" in page


@pytest.mark.parametrize("who", ["supervisor", "head"])
def test_finding_list(client, s, who):
    client.force_login(getattr(s, who))

    def add(n):
        finding = create_finding(
            s.supervisor,
            source=Finding.Source.COMPLAINT,
            body=s.body,
            title=f"第{n}个问题",
            period=datetime.date(2026, 1 + n % 12, 1),
        )
        # The body sees a finding once it has been warned of it.
        Finding.objects.filter(pk=finding.pk).update(status=Finding.Status.WARNED)

    page = same_queries_for_few_and_many(client, "/supervision/findings/", add)
    assert "第99个问题" in page


def test_notification_inbox(client, s):
    client.force_login(s.head)

    def add(n):
        notify_user(user=s.head, event="test", subject=f"第{n}条消息", body="正文")

    page = same_queries_for_few_and_many(client, "/notifications/", add)
    assert "第99条消息" in page


@pytest.mark.parametrize("who", ["head", "supervisor"])
def test_enterprise_list(client, s, who):
    client.force_login(getattr(s, who))

    def add(n):
        EnterpriseFactory(
            name=f"金山第{n}号企业", region=s.jinshan, uscc=make_uscc(n, region_code="310120")
        )  # apart from the factory's serials

    page = same_queries_for_few_and_many(client, "/registry/enterprises/", add)
    assert "金山第99号企业" in page


# --- Every list page, on 10 rows and on 100 (issue 16) ------------------------------------------------------
#
# Each row below is made with its own related records (its own enterprise, body, finding, reviewer…), so a
# page that reads one of them per row costs a query per row and fails. The rows are written directly where
# the services would take seconds each (letters render PDFs); what the page reads of them is what the
# services write.

TEN, HUNDRED = 10, 100


def ten_and_hundred(client, url: str, add) -> str:
    return same_queries_for_few_and_many(client, url, add, few=TEN, many=HUNDRED)


def _task(s, n: int, *, enterprise=None, body=None, **fields):
    from django.utils import timezone

    from jianchama.inspections.models import Task, TaskBody

    body = body or s.body
    today = timezone.localdate()
    task = Task.objects.create(
        enterprise=enterprise
        or EnterpriseFactory(name=f"第{n}号企业", region=s.jinshan, uscc=make_uscc(9000 + n)),
        lead_body=body,
        legal_basis="《城镇燃气管理条例》",
        kind=fields.pop("kind", Task.Kind.ROUTINE),
        window_start=today,
        window_end=today + datetime.timedelta(days=5),
        number=f"JC2026{8000000 + n:07d}",
        created_by=s.head,
        **fields,
    )
    TaskBody.objects.create(task=task, body=body)
    task.items.add(s.item)
    task.inspectors.add(s.inspector, s.inspector2)
    return task


def test_task_detail_timeline_and_findings(client, s):
    from jianchama.core import audit
    from jianchama.inspections.models import Finding as CheckFinding
    from jianchama.inspections.models import InspectionRecord, Statement

    task = s.recorded()
    record = InspectionRecord.objects.get(task=task)
    client.force_login(s.head)

    def add(n):
        CheckFinding.objects.create(record=record, item=s.item, entry=f"第{n}项检查内容", result="compliant")
        Statement.objects.create(task=task, author=s.contact, text=f"第{n}条陈述")
        audit.record(actor=s.head, action="test.note", obj=task, after={"n": n})

    page = ten_and_hundred(client, f"/tasks/{task.pk}/", add)
    assert "第99项检查内容" in page and "第99条陈述" in page


@pytest.mark.parametrize("who", ["supervisor", "head"])
def test_steps_list(client, s, who):
    from django.utils import timezone

    from jianchama.supervision.models import Decision, Recommendation, SupervisionWarning

    client.force_login(getattr(s, who))
    today, now = timezone.localdate(), timezone.now()
    town = RegionFactory(code="310116101", name="朱泾镇", level="town", parent=s.jinshan)

    def add(n):
        region = s.jinshan if n % 2 else town  # a town's body: its bureau is its district's
        body = (
            BodyFactory(name=f"第{n}号执法单位", region=region, fields=[s.gas])
            if who == "supervisor"
            else s.body
        )
        finding = create_finding(
            s.supervisor, source=Finding.Source.COMPLAINT, body=body, title=f"第{n}个问题", period=today
        )
        Finding.objects.filter(pk=finding.pk).update(status=Finding.Status.WARNED)
        warning = SupervisionWarning.objects.create(
            finding=finding,
            body=body,
            channel="phone",
            warned_on=today,
            content="电话预警",
            outcome="not_rectified",
            outcome_on=today,
            recommendation_due=today + datetime.timedelta(days=7),
            created_by=s.supervisor,
        )
        if n % 3 == 0:
            return  # waits for its recommendation
        rec = Recommendation.objects.create(
            finding=finding,
            warning=warning,
            body=body,
            number=f"金司监建〔2026〕{n}号",
            facts="事实",
            legal_basis="依据",
            demanded="要求",
            issue_due=today,
            issued_on=today,
            issued_at=now,
            issued_by=s.supervisor,
            document="supervision/recommendations/x.pdf",
            received_on=today,
            rectify_by=today + datetime.timedelta(days=21),
            review_due=today + datetime.timedelta(days=28),
            acknowledged_by=s.head,
            acknowledged_at=now,
        )
        if n % 3 == 1:
            Decision.objects.create(
                recommendation=rec,
                body=body,
                **{
                    f.name: _decision_value(f, s, today, now, n)
                    for f in Decision._meta.concrete_fields
                    if _decision_value(f, s, today, now, n) is not None
                },
            )

    page = ten_and_hundred(client, "/supervision/steps/", add)
    assert "金司监建〔2026〕98号" in page


def _decision_value(field, s, today, now, n):
    """What a required field of a decision gets in these rows (the letter's own fields are not what the
    list page is about)."""
    if field.name in ("id", "recommendation", "body") or field.null or field.has_default() or field.blank:
        return None
    if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
        return None
    if field.is_relation:
        return s.supervisor if field.related_model.__name__ == "User" else None
    internal = field.get_internal_type()
    if internal == "DateField":
        return today
    if internal == "DateTimeField":
        return now
    if internal in ("CharField", "TextField", "FileField"):
        return f"金府监决〔2026〕{n}号" if field.name == "number" else "x"
    if "Integer" in internal:
        return 10
    return None


def test_sampling_rounds_and_reviews(client, s):
    from jianchama.supervision.models import SampledBody, SamplingReview, SamplingRound, ScoreSheet

    sheet = ScoreSheet.objects.create(
        region=s.jinshan,
        name="案卷评查表",
        method="case_file",
        items=[],
        pass_score=60,
        created_by=s.supervisor,
    )
    client.force_login(s.supervisor)

    def add(n):
        sampling_round = SamplingRound.objects.create(
            region=s.jinshan if n % 2 else s.minhang,
            year=2000 + n,
            quarter=1 + n % 4,
            algorithm="jcm-sampling-v1",
            ratio="0.1",
            body_count=1,
            pool_hash="0" * 64,
            seed_commitment="0" * 64,
            seed="",
            created_by=s.supervisor,
        )
        body = BodyFactory(name=f"第{n}号被抽查单位", region=s.jinshan, fields=[s.gas])
        sampled = SampledBody.objects.create(round=sampling_round, body=body, position=1)
        SamplingReview.objects.create(
            sampled=sampled,
            method="case_file",
            sheet=sheet,
            total=80 + n % 20,
            full_marks=100,
            pass_score=60,
            passed=True,
            reviewed_on=datetime.date(2026, 1, 1) + datetime.timedelta(days=n),
            reviewer=user_for(Role.SUPERVISOR, region=s.jinshan, full_name=f"评查员{n}"),
        )

    for n in range(TEN):
        add(n)
    rounds_few, _ = queries(client, "/supervision/sampling/")
    reviews_few, _ = queries(client, "/supervision/sampling/reviews/")
    for n in range(TEN, HUNDRED):
        add(n)
    rounds_many, _ = queries(client, "/supervision/sampling/")
    reviews_many, page = queries(client, "/supervision/sampling/reviews/")
    assert (rounds_many, reviews_many) == (rounds_few, reviews_few)
    assert "第99号被抽查单位" in page


def _draw(s, plan, n: int, tasks: int = 0):
    from django.utils import timezone

    from jianchama.plans.models import RandomDraw

    draw = RandomDraw.objects.create(
        plan=plan,
        algorithm="jcm-draw-v1",
        enterprise_count=tasks,
        pool_hash="0" * 64,
        seed_commitment="0" * 64,
        seed="1" * 64 if tasks else "",
        status=RandomDraw.Status.REVEALED if tasks else RandomDraw.Status.COMMITTED,
        revealed_at=timezone.now() if tasks else None,
        created_by=s.head,
    )
    return draw


def test_draw_list(client, s):
    client.force_login(s.supervisor)

    def add(n):
        body = BodyFactory(name=f"第{n}号抽取单位", region=s.jinshan, fields=[s.gas])
        plan = filed_plan(body, items=[s.item], method="random", status="published", title=f"第{n}号抽查计划")
        _draw(s, plan, n)

    page = ten_and_hundred(client, "/draws/", add)
    assert "第99号抽查计划" in page


def test_draw_detail_rows(client, s):
    plan = filed_plan(s.body, items=[s.item], method="random", status="published")
    draw = _draw(s, plan, 0, tasks=1)
    client.force_login(s.head)

    def add(n):
        task = _task(s, n, draw=draw)
        draw.result.append(
            {"uscc": task.enterprise.uscc, "risk_grade": "B", "inspectors": ["31011600000", "31011600001"]}
        )
        draw.save(update_fields=["result"])

    page = ten_and_hundred(client, f"/draws/{draw.pk}/", add)
    assert "第99号企业" in page


@pytest.mark.parametrize("who", ["head", "supervisor", "city_reviewer", "observer"])
def test_plan_lists(client, s, who):
    from jianchama.plans.models import Plan

    client.force_login(getattr(s, who))

    def add(n):
        body = (
            s.body
            if who == "head"
            else BodyFactory(
                name=f"第{n}号计划单位", region=s.jinshan, fields=[s.gas], city_counterpart=s.city_body
            )
        )
        plan = filed_plan(
            body, items=[s.item], status=Plan.Status.PUBLISHED, title=f"第{n}号检查计划", published_at=None
        )
        plan.target_regions.add(s.jinshan)
        plan.target_enterprises.add(EnterpriseFactory(region=s.jinshan, uscc=make_uscc(7000 + n)))

    for n in range(TEN):
        add(n)
    urls = ["/plans/", "/plans/public/"] + (["/plans/supervision/"] if who == "supervisor" else [])
    few = {url: queries(client, url)[0] for url in urls}
    for n in range(TEN, HUNDRED):
        add(n)
    for url in urls:
        many, page = queries(client, url)
        assert many == few[url], f"{url}: {few[url]} queries for {TEN} rows, {many} for {HUNDRED}"
        if url != "/plans/supervision/":  # lists only the plans overdue for publication
            assert "第99号检查计划" in page, url


@pytest.mark.parametrize("who", ["head", "supervisor"])
def test_body_list(client, s, who):
    client.force_login(getattr(s, who))

    def add(n):
        BodyFactory(
            name=f"第{n}号登记单位", region=s.jinshan, fields=[s.gas, s.market], city_counterpart=s.city_body
        )

    if who == "head":
        for n in range(TEN):
            add(n)
        return  # a body's administrator sees his own body; the rows do not grow
    page = ten_and_hundred(client, "/registry/bodies/", add)
    assert "第99号登记单位" in page


@pytest.mark.parametrize("who", ["head", "supervisor"])
def test_inspector_list_with_certificates(client, s, who):
    from tests.factories import CertificateFactory, InspectorFactory

    client.force_login(getattr(s, who))

    def add(n):
        inspector = InspectorFactory(name=f"执法员{n}", body=s.body)
        CertificateFactory(inspector=inspector, number=f"3101169{n:05d}")
        CertificateFactory(inspector=inspector, number=f"3101168{n:05d}", fields=[s.gas, s.market])

    page = ten_and_hundred(client, "/registry/inspectors/", add)
    assert "执法员99" in page and "310116900099" in page


def test_item_and_guide_lists(client, s):
    from jianchama.registry.models import ComplianceGuide
    from tests.factories import ItemFactory

    client.force_login(s.head)

    def add(n):
        item = ItemFactory(name=f"第{n}号检查事项", field=s.gas, bodies=[s.body, s.other_body])
        ComplianceGuide.objects.create(
            **_guide_fields(ComplianceGuide, s, item, n),
        )

    for n in range(TEN):
        add(n)
    few = {url: queries(client, url)[0] for url in ("/registry/items/", "/registry/guides/")}
    for n in range(TEN, HUNDRED):
        add(n)
    pages = {}
    for url in few:
        many, pages[url] = queries(client, url)
        assert many == few[url], f"{url}: {few[url]} queries for {TEN} rows, {many} for {HUNDRED}"
    assert "第99号检查事项" in pages["/registry/items/"]
    assert "第99号合规指引" in pages["/registry/guides/"]


def _guide_fields(model, s, item, n):
    fields = {}
    for f in model._meta.concrete_fields:
        if f.name == "id" or f.null or f.has_default() or getattr(f, "auto_now_add", False):
            continue
        if getattr(f, "auto_now", False):
            continue
        if f.is_relation:
            related = f.related_model.__name__
            fields[f.name] = {
                "InspectionItem": item,
                "Field": s.gas,
                "EnforcementBody": s.body,
                "User": s.head,
                "Region": s.jinshan,
            }.get(related)
        elif f.get_internal_type() in ("CharField", "TextField"):
            fields[f.name] = f"第{n}号合规指引"
    return fields


def test_portal_lists(client, s):
    from django.utils import timezone

    from jianchama.inspections.models import Task, TaskBody

    client.force_login(s.contact)

    def add(n):
        task = _task(
            s,
            n,
            enterprise=s.enterprise,
            status=Task.Status.CLOSED if n % 2 else Task.Status.NOTIFIED,
            notified_at=timezone.now(),
        )
        if n % 3 == 0:  # a joint inspection
            TaskBody.objects.create(task=task, body=s.partner)
        s.hotline(title=f"企业第{n}件投诉", enterprise=s.enterprise)

    for n in range(TEN):
        add(n)
    few = {url: queries(client, url)[0] for url in ("/portal/", "/portal/complaints/")}
    for n in range(TEN, HUNDRED):
        add(n)
    for url in few:
        many, page = queries(client, url)
        assert many == few[url], f"{url}: {few[url]} queries for {TEN} rows, {many} for {HUNDRED}"
    page = queries(client, "/portal/")[1]
    assert page.count("去评议") == HUNDRED // 2 and "等联合检查" in page


@pytest.mark.parametrize("who", ["supervisor", "city_supervisor"])
def test_rule_run_list(client, s, who, monkeypatch):
    from jianchama.supervision.models import RuleRun
    from jianchama.supervision.views import findings as finding_views

    monkeypatch.setattr(finding_views, "RUNS_PER_PAGE", 500)
    s.city_supervisor = user_for(Role.SUPERVISOR, region=s.city)
    client.force_login(getattr(s, who))

    def add(n):
        RuleRun.objects.create(
            triggered_by=user_for(
                Role.SUPERVISOR, region=s.jinshan if n % 2 else s.minhang, full_name=f"监督员{n}"
            ),
            status=RuleRun.Status.DONE,
            rules=["no_code"],
            stats={"no_code": {"hits": n, "new": 1, "seconds": 0.1, "regions": {str(s.jinshan.pk): [n, 1]}}},
            new_findings=1,
        )

    page = ten_and_hundred(client, "/supervision/rules/runs/", add)
    # The starter is named to the people of his own district only.
    assert ("监督员99" in page) == (who == "supervisor")
