"""The demo data: loaded once, realistic, valid, usable by every role from the logins it prints."""

import datetime
import re
from collections import Counter
from io import StringIO

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jianchama.core import audit, sms
from jianchama.core.models import AuditEvent, User
from jianchama.core.roles import Role
from jianchama.demo import story
from jianchama.registry import uscc
from jianchama.registry.models import (
    Certificate,
    EnforcementBody,
    Enterprise,
    EnterpriseContact,
    Field,
    InspectionItem,
    Inspector,
    Region,
)
from jianchama.registry.qualification import check_qualification
from tests.factories import RegionFactory

pytestmark = pytest.mark.django_db

STAFF = [(username, role) for username, role, *_ in story.STAFF_USERS]


def load_demo() -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("load_demo", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def loaded():
    load_demo()


def test_load_demo_prints_what_it_loaded_and_every_login(settings):
    settings.SMS_BACKEND = "jianchama.core.sms.ConsoleBackend"
    out, err = load_demo()
    assert err == ""
    assert "演示数据已载入：3 个区、17 个执法单位、39 名执法人员、500 家企业、18 个检查事项" in out
    assert f"工作人员密码均为 {story.DEMO_PASSWORD}" in out
    for username, role in STAFF:
        assert re.search(rf"{Role(role).label}\s+{username}\s", out), username
    assert f"手机号 {story.CONTACT_PHONE}（上海金山恒泰化工有限公司）" in out
    assert "验证码打印在运行服务器的控制台" in out
    assert len(out.splitlines()) <= 15


def test_the_demo_password_passes_the_password_validators():
    validate_password(story.DEMO_PASSWORD)


def test_regions_fields_and_bodies(loaded):
    assert Region.objects.filter(level=Region.Level.CITY).get().name == "上海市"
    districts = Region.objects.filter(level=Region.Level.DISTRICT)
    assert sorted(districts.values_list("name", flat=True)) == ["松江区", "金山区", "闵行区"]
    jinshan = Region.objects.get(code="310116")
    towns = set(jinshan.subtree().filter(level=Region.Level.TOWN).values_list("name", flat=True))
    assert {
        "石化街道",
        "朱泾镇",
        "枫泾镇",
        "张堰镇",
        "亭林镇",
        "吕巷镇",
        "廊下镇",
        "金山卫镇",
        "漕泾镇",
        "山阳镇",
    } == towns
    assert set(Field.objects.values_list("name", flat=True)) == {"道路危险货物运输", "燃气管理", "安全生产"}

    bodies = EnforcementBody.objects.all()
    assert bodies.count() == 17
    assert set(bodies.filter(level="city").values_list("name", flat=True)) == {
        "上海市交通委员会",
        "上海市住房和城乡建设管理委员会",
        "上海市应急管理局",
    }
    organs = bodies.filter(level="district", body_type=EnforcementBody.Type.ORGAN)
    assert organs.count() == 9
    for body in organs:
        assert body.city_counterpart.level == "city"
        assert set(body.fields.all()) == set(body.city_counterpart.fields.all())
    assert organs.filter(
        name="金山区建设和管理委员会", city_counterpart__name="上海市住房和城乡建设管理委员会"
    ).exists()
    for body in bodies.filter(level="town"):
        assert [f.name for f in body.fields.all()] == ["安全生产"]


def test_entrusted_bodies_carry_organ_scope_and_period(loaded):
    today = timezone.localdate()
    entrusted = EnforcementBody.objects.filter(body_type=EnforcementBody.Type.ENTRUSTED)
    assert entrusted.count() == 2
    for body in entrusted:
        assert body.entrusting_organ.body_type == EnforcementBody.Type.ORGAN
        assert body.entrusted_items.exists()
        assert set(body.entrusted_items.values_list("field", flat=True)) <= set(
            body.fields.values_list("pk", flat=True)
        )
        assert body.entrustment_covers(today)
    safety = entrusted.get(name="金山区安全生产监督检查所")
    assert safety.entrusting_organ.name == "金山区应急管理局"
    ending = entrusted.get(entrustment_end__lte=today + datetime.timedelta(days=30))
    assert ending.name == "金山区燃气管理所"


def test_items_have_legal_bases_checklists_and_the_bodies_of_their_field(loaded):
    items = InspectionItem.objects.prefetch_related("bodies__fields")
    assert items.count() == 18
    assert Counter(items.values_list("field__name", flat=True)) == {
        "道路危险货物运输": 5,
        "燃气管理": 5,
        "安全生产": 8,
    }
    for item in items:
        assert item.legal_basis.startswith("《"), item.code
        assert 3 <= len(item.checklist) <= 6, item.code
        bodies = list(item.bodies.all())
        assert {b.level for b in bodies} >= {"city", "district"}
        for body in bodies:
            assert item.field in body.fields.all()
        # 按照市级行政检查标准开展检查 (issue 17): each item follows its field's city standard, whose points
        # are its checklist
        entry = item.standard_entry()
        assert item.standard.title == f"上海市{item.field.name}行政检查标准", item.code
        assert entry.checklist == item.checklist and (entry.rectify_min_days, entry.rectify_max_days) == (
            5,
            15,
        )
    basis = " ".join(items.values_list("legal_basis", flat=True))
    for law in [
        "《中华人民共和国安全生产法》",
        "《危险化学品安全管理条例》",
        "《城镇燃气管理条例》",
        "《上海市燃气管理条例》",
        "《道路危险货物运输管理规定》",
        "《道路运输车辆动态监督管理办法》",
    ]:
        assert law in basis
    town_items = InspectionItem.objects.filter(bodies__level="town").distinct()
    assert town_items.exists()
    assert set(town_items.values_list("field__name", flat=True)) == {"安全生产"}


def test_enterprises_are_many_valid_and_spread(loaded):
    enterprises = list(Enterprise.objects.select_related("region__parent"))
    assert len(enterprises) == 500
    assert len({e.name for e in enterprises}) == 500
    for enterprise in enterprises:
        assert uscc.is_valid(enterprise.uscc), enterprise.uscc
        district = enterprise.region.parent
        assert enterprise.region.level == Region.Level.TOWN
        assert enterprise.uscc[2:8] == district.code
        assert enterprise.address.startswith(f"上海市{district.name}{enterprise.region.name}")
        assert enterprise.legal_representative
    assert Counter(e.region.parent.name for e in enterprises) == {"金山区": 260, "闵行区": 120, "松江区": 120}
    assert set(Counter(e.risk_grade for e in enterprises)) == {"A", "B", "C", "D"}
    industries = Counter(e.industry for e in enterprises)
    assert (
        industries["道路危险货物运输"] > 20
        and industries["燃气生产和供应业"] > 10
        and industries["餐饮业"] > 50
    )
    assert any("危险品运输有限公司" in e.name for e in enterprises)
    assert EnterpriseContact.objects.count() > 100


def test_enterprises_are_the_same_every_time():
    class Rollback(Exception):
        pass

    def snapshot():
        return list(Enterprise.objects.order_by("uscc").values_list("uscc", "name", "address", "risk_grade"))

    with pytest.raises(Rollback), transaction.atomic():
        story.load()
        first = snapshot()
        raise Rollback
    assert not Enterprise.objects.exists()
    story.load()
    assert snapshot() == first


def test_a_second_run_changes_nothing(loaded):
    before = story.counts(), AuditEvent.objects.count(), list(Enterprise.objects.values_list("pk", "uscc"))
    out, _ = load_demo()
    assert out.startswith("演示数据此前已载入，本次未做更改：3 个区、17 个执法单位")
    assert "inspector" in out
    assert (
        story.counts(),
        AuditEvent.objects.count(),
        list(Enterprise.objects.values_list("pk", "uscc")),
    ) == before


def test_the_load_is_one_audit_event_in_an_intact_chain(loaded):
    event = AuditEvent.objects.get(action="demo.load")
    assert (event.actor_label, event.object_type, event.object_repr) == ("系统", "demo", "演示数据")
    assert event.after["enterprises"] == 500
    assert audit.verify_chain()[1] is None


def test_a_registry_with_other_data_is_left_alone():
    RegionFactory()
    out, err = load_demo()
    assert "演示数据只能载入空数据库，本次未做任何更改" in err
    assert out == ""
    assert Region.objects.count() == 1
    assert not Enterprise.objects.exists() and not User.objects.exists() and not AuditEvent.objects.exists()


def test_every_district_body_can_inspect_with_two_valid_inspectors(loaded):
    today = timezone.localdate()
    for body in EnforcementBody.objects.filter(level="district"):
        valid = Certificate.objects.valid_on(today).filter(inspector__body=body)
        inspectors = list(Inspector.objects.filter(certificates__in=valid).distinct())
        assert len(inspectors) >= 2, body.name
        item = (
            body.entrusted_items if body.body_type == EnforcementBody.Type.ENTRUSTED else body.items
        ).first()
        assert check_qualification(bodies=[body], inspectors=inspectors[:2], items=[item], on=today) == []


def test_there_are_expired_expiring_suspended_and_revoked_certificates(loaded):
    today = timezone.localdate()
    certificates = list(Certificate.objects.prefetch_related("fields", "inspector__body__fields"))
    assert len(certificates) == 39
    statuses = Counter(c.status_on(today) for c in certificates)
    # Two suspended in the register, a third by the supervision decision of the demo's story.
    assert statuses["expired"] >= 2 and statuses["suspended"] == 3 and statuses["revoked"] == 1
    for certificate in certificates:
        assert re.fullmatch(r"310\d{3}00\d{5}", certificate.number)
        assert set(certificate.fields.all()) == set(certificate.inspector.body.fields.all())
        assert certificate.valid_from < certificate.valid_until
        if certificate.status in ("suspended", "revoked"):
            assert certificate.status_reason
    assert any(
        c.status_on(today) == "valid" and c.valid_until <= today + datetime.timedelta(days=30)
        for c in certificates
    )


def test_every_staff_login_works_with_the_printed_password(loaded):
    for username, role in STAFF:
        client = Client()
        response = client.post(reverse("core:login"), {"username": username, "password": story.DEMO_PASSWORD})
        assert response.status_code == 302, username
        home = client.get(reverse("core:home"))
        assert home.status_code == 200
        assert Role(role).label in home.content.decode(), username
    admin = Client()
    admin.post(reverse("core:login"), {"username": "admin", "password": story.DEMO_PASSWORD})
    assert admin.get("/admin/").status_code == 200


def test_the_enterprise_contact_logs_in_by_phone_code(loaded, client, django_capture_on_commit_callbacks):
    assert not User.objects.get(phone=story.CONTACT_PHONE).has_usable_password()
    refused = client.post(
        reverse("core:login"), {"username": story.CONTACT_USERNAME, "password": story.DEMO_PASSWORD}
    )
    assert refused.status_code == 200 and "_auth_user_id" not in client.session
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("core:phone_login"), {"phone": story.CONTACT_PHONE})
    assert sms.outbox[-1].phone == story.CONTACT_PHONE
    code = re.search(r"\d{6}", sms.outbox[-1].text).group()
    response = client.post(
        reverse("core:phone_login"), {"phone": story.CONTACT_PHONE, "code": code}, follow=True
    )
    page = response.content.decode()
    assert "企业联系人" in page and "上海金山恒泰化工有限公司" in page
    own = client.get(reverse("registry:enterprise_detail_own"))
    assert own.status_code == 200 and "上海金山恒泰化工有限公司" in own.content.decode()
    contact = EnterpriseContact.objects.get(phone=story.CONTACT_PHONE)
    assert contact.enterprise.region.parent.name == "金山区"


def test_each_login_sees_only_its_own(loaded):
    supervisor = User.objects.get(username="supervisor")
    visible = Enterprise.objects.visible_to(supervisor)
    assert 0 < visible.count() < Enterprise.objects.count()
    assert all(path.startswith("310000/310116/") for path in visible.values_list("region__path", flat=True))

    inspector = User.objects.get(username="inspector")
    assert inspector.inspector.body.name == "金山区应急管理局"
    assert inspector.inspector.certificates.valid_on(timezone.localdate()).exists()
    colleagues = Inspector.objects.visible_to(inspector)
    assert colleagues.count() == 4
    assert set(colleagues.values_list("body__name", flat=True)) == {"金山区应急管理局"}


def test_the_demo_tells_the_inspection_codes_story(loaded):
    from jianchama.inspections import services
    from jianchama.inspections.models import Task
    from jianchama.notifications.models import Notification

    inspector = User.objects.get(username="inspector")
    contact = User.objects.get(username=story.CONTACT_USERNAME)
    today = Task.objects.get(enterprise=contact.enterprise, status=Task.Status.NOTIFIED)
    assert services.can_show_code(inspector, today)  # the inspector's phone shows its QR
    done = Task.objects.get(enterprise=contact.enterprise, status=Task.Status.RESULT_RECORDED)
    assert services.can_evaluate(contact, done)  # the contact can see the result and evaluate
    assert Task.objects.filter(status=Task.Status.SUBMITTED).exists()  # the head has one to approve
    # The notices of the two tasks above and the supervision story's visit (closed, rated poorly), and the
    # results of the two visits made (issue 14).
    notices = Notification.objects.visible_to(contact)
    assert notices.filter(event="task.notified").count() == 3
    results = set(notices.filter(event="task.result_recorded").values_list("object_id", flat=True))
    assert str(done.pk) in results and len(results) == 2
    assert audit.verify_chain()[1] is None


def test_the_demo_tells_the_plans_story(loaded, tmp_path, client):
    import json
    import subprocess
    import sys

    from jianchama.inspections.models import InspectionCode, Task
    from jianchama.plans.models import Plan, PlanReview, RandomDraw

    routine = Plan.objects.get(method=Plan.Method.ROUTINE)
    assert routine.status == Plan.Status.PUBLISHED and routine.number
    assert list(routine.reviews.values_list("step", "decision")) == [
        (PlanReview.Step.CITY, PlanReview.Decision.APPROVED),
        (PlanReview.Step.BUREAU, PlanReview.Decision.APPROVED),
    ]
    assert Plan.objects.get(method=Plan.Method.SPECIAL).status == Plan.Status.FILED  # awaiting announcement
    # Next year's plan waits at the city-level reviewer: the first thing his home page shows.
    waiting = Plan.objects.get(status=Plan.Status.CITY_REVIEW)
    assert waiting.period_start.year == routine.period_start.year + 1
    client.force_login(User.objects.get(username="cityreviewer"))
    home = client.get("/").content.decode()
    assert "待审核、备案的检查计划" in home and "目前没有等待您处理的事项" not in home
    draw = RandomDraw.objects.get()
    assert draw.status == RandomDraw.Status.REVEALED and draw.tasks.count() == 3
    published = tmp_path / "draw.json"
    published.write_bytes(client.get(f"/draws/{draw.pk}.json").content)
    check = subprocess.run(
        [sys.executable, "scripts/verify_draw.py", str(published)], capture_output=True, text=True
    )
    assert check.returncode == 0 and "核验通过" in check.stdout
    record = json.loads(published.read_text())
    record["seed"] = "0" * len(record["seed"])
    published.write_text(json.dumps(record, ensure_ascii=False))
    assert subprocess.run([sys.executable, "scripts/verify_draw.py", str(published)]).returncode == 1
    joint = Task.objects.get(kind=Task.Kind.REPORT, status=Task.Status.NOTIFIED)
    assert joint.task_bodies.count() == 2 and InspectionCode.objects.filter(task=joint).count() == 1
    triggered = Task.objects.get(kind=Task.Kind.TRIGGER)
    assert triggered.trigger_situation is not None and triggered.evidence


def test_the_demo_tells_the_supervision_story(loaded, client):
    """Issue 5's "done when": the monthly rules find the planted problems; a warning, a recommendation PDF
    with working-day deadlines, the body's rectification report, an escalation to a decision that suspends a
    certificate, after which that inspector cannot be put on a task; a complaint from intake to feedback."""
    import io

    import pypdf

    from jianchama.complaints.models import Complaint, ReconsiderationLead
    from jianchama.core.errors import DomainError
    from jianchama.core.formats import chinese_date
    from jianchama.core.workdays import add_working_days
    from jianchama.inspections import services as tasks
    from jianchama.inspections.models import Task
    from jianchama.notifications.models import Notification
    from jianchama.supervision import rules
    from jianchama.supervision.models import (
        AccountabilityMeasure,
        Decision,
        Finding,
        Recommendation,
        SamplingReview,
        SamplingRound,
    )

    planted = set(Finding.objects.filter(source=Finding.Source.DATA_RULE).values_list("rule", flat=True))
    assert {
        "emergency_unapproved",
        "late_record",
        "poor_evaluation",
        "complaint_overdue",
        "code_not_scanned",
    } <= planted
    before = Finding.objects.count()
    assert rules.run_rules(User.objects.get(username="supervisor")).new_findings == 0
    assert Finding.objects.count() == before

    # The escalated one: recommendation with its deadlines on the official calendar, then a decision.
    escalated = Recommendation.objects.get(status="decided")
    assert escalated.rectify_by == add_working_days(escalated.received_on, 15)
    assert escalated.review_due == add_working_days(escalated.rectify_by, 5)
    assert escalated.finding.status == Finding.Status.DECIDED
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(escalated.document.read())).pages)
    flat = "".join(text.split())
    assert escalated.number in flat and "金山区建设和管理委员会" in flat
    assert chinese_date(escalated.rectify_by) in flat
    decision = Decision.objects.get(recommendation=escalated)
    assert decision.number.startswith("金府监决")
    suspension = AccountabilityMeasure.objects.get(decision=decision, kind="suspend_certificate")
    sanctioned = suspension.inspectors.get()
    assert not sanctioned.certificates.filter(status="valid").exists()
    flagged = Task.objects.exclude(qualification_alert="")
    assert flagged.exists() and all(sanctioned in t.inspectors.all() for t in flagged)
    partner_head = User.objects.get(username="bodyadmin-js")
    colleague = sanctioned.body.inspectors.exclude(pk=sanctioned.pk).order_by("pk").first()
    item = InspectionItem.objects.filter(bodies=sanctioned.body, is_published=True).order_by("code").first()
    with pytest.raises(DomainError) as refused:
        tasks.create_task(
            partner_head,
            enterprise=Enterprise.objects.filter(region__path__startswith=sanctioned.body.region.path)
            .order_by("uscc")
            .last(),
            kind="complaint",
            reason="投诉",
            evidence="工单",
            items=[item],
            inspectors=[sanctioned, colleague],
            legal_basis=item.legal_basis,
            window_start=timezone.localdate(),
            window_end=timezone.localdate(),
        )
    assert sanctioned.name in refused.value.message and "暂停" in refused.value.message

    # The rectified one waits for the bureau's review, with the body's report.
    reported = Recommendation.objects.get(status="reported")
    assert reported.report_text and reported.finding.body.name == "金山区应急管理局"

    # Complaints: one from intake to feedback, one waiting from the portal, the overdue one warned.
    closed = Complaint.objects.get(status=Complaint.Status.CLOSED)
    assert closed.result and closed.feedback and closed.number.startswith("TS-")
    assert Complaint.objects.filter(source="portal", status=Complaint.Status.REGISTERED).exists()
    assert Finding.objects.get(rule="complaint_overdue").status == Finding.Status.WARNED
    assert ReconsiderationLead.objects.get(status="accepted").finding.source == Finding.Source.RECONSIDERATION

    # The observer's meeting and visit (F-47); the lead out of the meeting, waiting at the intake desk.
    from jianchama.complaints.models import ObserverActivity

    observer = User.objects.get(username="observer")
    assert sorted(ObserverActivity.objects.visible_to(observer).values_list("kind", flat=True)) == [
        "meeting",
        "visit",
    ]
    lead = Complaint.objects.get(activity__kind="meeting")
    assert lead.source == "observer" and lead.status == Complaint.Status.REGISTERED
    client.force_login(User.objects.get(username="supervisor"))
    listed = client.get("/complaints/activities/").content.decode()
    assert "金山区工商业联合会三楼会议室" in listed and "<dt>据此提交的线索</dt><dd>1条</dd>" in listed

    # Every role's home has something to do: the district government a decision to issue (the late record's
    # body did not rectify after its recommendation), the observer his lead being handled, the reconsideration
    # office its lead waiting for the bureau's check.
    waiting = Recommendation.objects.get(status="escalated")
    assert (
        waiting.finding.rule == "late_record" and not Decision.objects.filter(recommendation=waiting).exists()
    )
    for username, todo in [
        ("districtgov", "待制发的监督决定书"),
        ("observer", "我报送的线索（办理中）"),
        ("supervisor", "已报送整改报告、待复查的监督建议书"),
        ("supervisor", "待核实的行政复议线索"),
        ("reconsider", "已登记、待司法局核实的复议线索"),
    ]:
        client.force_login(User.objects.get(username=username))
        home = client.get("/", follow=True).content.decode()
        assert todo in home and "目前没有等待您处理的事项" not in home, username
    client.force_login(User.objects.get(username="districtgov"))
    assert waiting.number in client.get("/supervision/steps/?todo=decisions_to_issue").content.decode()

    # Sampling: the quarter's round drawn; a review that became a finding.
    assert SamplingRound.objects.get().status == "revealed"
    assert SamplingReview.objects.get().finding.source == Finding.Source.SAMPLING

    # Guides went with the task notices to the enterprise.
    contact = User.objects.get(username=story.CONTACT_USERNAME)
    assert any("合规指引" in n.body for n in Notification.objects.visible_to(contact))

    # Each role's pages open.
    for username, url in [
        ("supervisor", "/supervision/"),
        ("supervisor", "/supervision/steps/"),
        ("districtgov", f"/supervision/steps/decisions/{decision.pk}/"),
        ("bodyadmin-js", "/supervision/steps/"),
        ("intake", "/complaints/"),
        ("supervisor", "/supervision/sampling/"),
    ]:
        client.force_login(User.objects.get(username=username))
        assert client.get(url).status_code == 200, (username, url)
