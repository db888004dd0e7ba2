"""The world of the role matrix: two districts (Jinshan, "side A", whose people make the requests, and Minhang,
"side B", whose objects they must not reach), each with two bodies, a city-level counterpart, the justice
bureau's people, an enterprise with its contact, and one object of every kind, made by the real services.

Every private object of side B carries MARK in a name, title or text, so that a page that shows it can be
caught by a plain search of the response. Public things (bodies, items, published plans and guides, draws,
sampling rounds) carry no mark: anyone may see them."""

from __future__ import annotations

import datetime
import struct
import zlib
from types import SimpleNamespace

from django.core import signing as django_signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from jianchama.complaints import services as complaints
from jianchama.complaints.models import Complaint
from jianchama.core.models import ExportJob
from jianchama.core.roles import Role
from jianchama.core.workdays import add_working_days
from jianchama.inspections import services as inspections
from jianchama.inspections.models import Evaluation, Evidence, InspectionRecord, Task
from jianchama.inspections.models import Finding as ItemFinding
from jianchama.notifications import services as notifications
from jianchama.plans import draws
from jianchama.plans import services as plans
from jianchama.plans.models import Plan
from jianchama.portal.views.portal import REPORT_SALT, RESULT_SALT
from jianchama.registry import guides
from jianchama.registry.models import EnforcementBody, ImportJob, InspectionStandard, Region
from jianchama.supervision import bulletins, guidance, sampling, steps
from jianchama.supervision.models import Finding, Method, SampledBody
from jianchama.supervision.rules import run_rules
from jianchama.supervision.services import create_finding
from tests.factories import (
    BodyFactory,
    ContactFactory,
    EnterpriseFactory,
    FieldFactory,
    ItemFactory,
    RegionFactory,
    user_for,
)
from tests.inspections.conftest import inspector_with_account

MARK = "越权甲乙"
# Who complained is for the intake desk and the supervisors only, never for the body complained about (F-?,
# issue 10 item 10): side A's complainant is searched for on every page of every other role.
COMPLAINANT_NAME = "投诉人隐私"
COMPLAINANT_PHONE = {"甲": "13911110001", "乙": "13911110002"}
DAY = datetime.timedelta(days=1)
SHEET_ITEMS = [
    {"name": "检查计划按时备案并公告", "max": 30},
    {"name": "执法人员持证并出示检查码", "max": 40},
    {"name": "检查记录完整", "max": 30},
]


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"\x00\xff\x00\x00"
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _filed(side, plan: Plan) -> Plan:
    """Through every step of the plan's filing route, each approved by the step's reviewer."""
    plan = plans.submit_plan(side.heads[plan.body_id], plan=plan)
    while plan.status in (Plan.Status.CITY_REVIEW, Plan.Status.BUREAU_REVIEW):
        reviewer = side.city_reviewer if plan.status == Plan.Status.CITY_REVIEW else side.supervisor
        plan = plans.approve_plan(reviewer, plan=plan)
    return plan


def build_side(w, *, tag: str, code: str, name: str, mark: str) -> SimpleNamespace:
    """One district with its people and one object of every kind. `mark` is put into every private text."""
    s = SimpleNamespace(mark=mark, name=name)
    today = timezone.localdate()
    s.region = RegionFactory(code=code, name=name, level=Region.Level.DISTRICT, parent=w.city)
    s.city_body = BodyFactory(
        name=f"上海市燃气管理处{tag}", level=EnforcementBody.Level.CITY, region=w.city, fields=[w.gas]
    )
    s.body = BodyFactory(
        name=f"{name}建设和管理委员会", region=s.region, fields=[w.gas], city_counterpart=s.city_body
    )
    s.partner = BodyFactory(
        name=f"{name}市场监督管理局", region=s.region, fields=[w.market], city_counterpart=s.city_body
    )
    s.item = ItemFactory(name=f"燃气经营许可情况检查{tag}", field=w.gas, bodies=[s.body])
    s.partner_item = ItemFactory(
        name=f"燃气器具产品质量检查{tag}", field=w.market, bodies=[s.partner], checklist=["是否有合格证明"]
    )
    # A version of the city's inspection standard (issue 17): city-wide, read by every logged-in user.
    s.standard = InspectionStandard.objects.create(
        document_number=f"沪建规范〔2026〕{tag}号",
        version="2026.1",
        title=f"上海市燃气行政检查标准{tag}",
        effective_date=datetime.date(2026, 1, 1),
    )

    # People
    s.inspector = inspector_with_account(s.body, f"{mark}张执法{tag}")
    s.inspector2 = inspector_with_account(s.body, f"{mark}李执法{tag}")
    s.inspector_user = s.inspector.user
    s.partner_inspector = inspector_with_account(s.partner, f"{mark}王执法{tag}")
    s.body_admin = user_for(Role.BODY_ADMIN, body=s.body, full_name=f"{mark}建管委负责人{tag}")
    s.partner_admin = user_for(Role.BODY_ADMIN, body=s.partner, full_name=f"{mark}市场监管局负责人{tag}")
    s.heads = {s.body.pk: s.body_admin, s.partner.pk: s.partner_admin}
    s.city_reviewer = user_for(Role.CITY_REVIEWER, body=s.city_body, full_name=f"{mark}市燃气处审核人{tag}")
    s.supervisor = user_for(Role.SUPERVISOR, region=s.region, full_name=f"{mark}司法局监督员{tag}")
    s.district_government = user_for(
        Role.DISTRICT_GOVERNMENT, region=s.region, full_name=f"{mark}区政府经办人{tag}"
    )
    s.complaint_intake = user_for(Role.COMPLAINT_INTAKE, region=s.region, full_name=f"{mark}受理员{tag}")
    s.observer = user_for(Role.OBSERVER, region=s.region, full_name=f"{mark}法治观察员{tag}")
    s.reconsideration_office = user_for(
        Role.RECONSIDERATION_OFFICE, region=s.region, full_name=f"{mark}复议机构{tag}"
    )
    s.enterprise = EnterpriseFactory(
        name=f"{mark}{name}燃气有限公司", region=s.region, legal_representative=f"{mark}法人{tag}"
    )
    s.contact = ContactFactory(enterprise=s.enterprise, name=f"{mark}王经理{tag}")
    s.enterprise_contact = user_for(
        Role.ENTERPRISE_CONTACT,
        enterprise=s.enterprise,
        phone=s.contact.phone,
        full_name=f"{mark}企业联系人{tag}",
    )
    s.certificate = s.inspector.certificate

    # Plans: one filed (private until published), one published (public, no mark) with a committed draw
    s.plan = _filed(
        s,
        plans.create_plan(
            s.inspector_user,
            title=f"{mark}{name}燃气日常检查计划",
            period_start=today - 30 * DAY,
            period_end=today + 300 * DAY,
            method=Plan.Method.ROUTINE,
            items=[s.item],
            expected_count=20,
            description=f"{mark}计划说明",
        ),
    )
    s.partner_plan = _filed(
        s,
        plans.create_plan(
            s.partner_inspector.user,
            title=f"{mark}{name}市场监管日常检查计划",
            period_start=today - 30 * DAY,
            period_end=today + 300 * DAY,
            method=Plan.Method.ROUTINE,
            items=[s.partner_item],
            expected_count=10,
        ),
    )
    s.published_plan = plans.publish_plan(
        s.body_admin,
        plan=_filed(
            s,
            plans.create_plan(
                s.inspector_user,
                title=f"{name}燃气双随机抽查计划{tag}",
                period_start=today - 30 * DAY,
                period_end=today + 300 * DAY,
                method=Plan.Method.RANDOM,
                items=[s.item],
                expected_count=1,
            ),
        ),
    )
    s.draw = draws.commit_draw(s.body_admin, plan=s.published_plan, enterprise_count=1)
    s.proposal = plans.propose_merge(
        s.supervisor,
        region=s.region,
        start=today + 5 * DAY,
        end=today + 60 * DAY,
        plans=[s.plan, s.partner_plan],
        enterprises=[s.enterprise],
        comment=f"{mark}联合检查建议",
    )

    # Tasks: one closed (result, evidence, evaluation, statement), one notified (its code, a scan, a report)
    def new_task():
        return inspections.create_task(
            s.inspector_user,
            enterprise=s.enterprise,
            items=[s.item],
            inspectors=[s.inspector, s.inspector2],
            legal_basis=f"{mark}《城镇燃气管理条例》第十五条",
            kind=Task.Kind.ROUTINE,
            window_start=today,
            window_end=today + 10 * DAY,
            plan=s.plan,
        )

    task = inspections.submit_task(s.inspector_user, task=new_task())
    task = inspections.approve_task(s.body_admin, task=task)
    task = inspections.check_in(s.inspector_user, task=task)
    photo = SimpleUploadedFile(f"{mark}现场照片{tag}.png", png_bytes(), content_type="image/png")
    inspections.record_result(
        s.inspector_user,
        task=task,
        outcome=InspectionRecord.Outcome.NO_PROBLEM,
        summary=f"{mark}现场检查燃气经营许可证，未发现问题",
        findings=[
            inspections.FindingInput(item=s.item, entry=entry, result=ItemFinding.Result.COMPLIANT, note="")
            for entry in s.item.checklist
        ],
        evidence=[inspections.EvidenceInput("photo", photo)],
    )
    s.evidence = Evidence.objects.latest("pk")
    # The on-site record signed on site (F-45): a stored document of the task, like the evidence.
    from jianchama.inspections import documents
    from tests.inspections.test_onsite_documents import signature

    [s.document] = documents.sign_onsite_record(
        s.inspector_user,
        task=Task.objects.get(pk=task.pk),
        inspector_signatures={s.inspector.pk: signature(1), s.inspector2.pk: signature(2)},
        party_name=f"{mark}现场负责人",
        party_signature=signature(3),
        party_statement=f"{mark}当事人意见",
    )
    s.task = inspections.close_task(s.body_admin, task=Task.objects.get(pk=task.pk))
    names = ["overall"] + [dimension for dimension, _ in Evaluation.DIMENSIONS]
    s.evaluation = inspections.evaluate(
        s.enterprise_contact, task=s.task, scores=dict.fromkeys(names, 4), comment=f"{mark}评议意见"
    )
    s.statement = inspections.file_statement(s.enterprise_contact, task=s.task, text=f"{mark}陈述申辩意见")

    s.open_task = inspections.approve_task(
        s.body_admin, task=inspections.submit_task(s.inspector_user, task=new_task())
    )
    s.token = inspections.current_token(s.inspector_user, task=s.open_task)
    s.scan = inspections.scan_code(s.token, client_address="192.0.2.1").scan
    s.report_key = django_signing.dumps(s.scan.pk, salt=REPORT_SALT)
    s.result_key = django_signing.dumps(s.scan.pk, salt=RESULT_SALT)

    # Complaints: from the hotline (assigned to the body), from the enterprise's portal; a reconsideration lead
    s.complaint = complaints.assign_complaint(
        s.complaint_intake,
        complaint=complaints.register_complaint(
            s.complaint_intake,
            source=Complaint.Source.HOTLINE_12345,
            category=Complaint.Category.DISTURBING_BUSINESS,
            title=f"{mark}检查时间过长影响营业",
            content=f"{mark}执法人员在营业高峰检查三小时",
            complainant_name=f"{mark}{COMPLAINANT_NAME}{tag}",
            complainant_phone=COMPLAINANT_PHONE[tag],
            body=s.body,
        ),
        body=s.body,
    )
    s.portal_complaint = complaints.register_complaint(
        s.enterprise_contact,
        source=Complaint.Source.PORTAL,
        category=Complaint.Category.REPEATED_INSPECTION,
        title=f"{mark}企业投诉重复检查",
        content=f"{mark}一个月内检查三次",
        task=s.task,
    )
    s.lead = complaints.register_lead(
        s.supervisor,
        case_number=f"{mark}复议〔2026〕{tag}号",
        body=s.body,
        description=f"{mark}行政复议线索",
        received_on=today,
        task=s.task,
    )

    # A supervision report of the side's district (F-37), generated as a draft
    from jianchama.reports import services as reports

    s.report = reports.generate_report(
        s.supervisor,
        report=reports.create_report(s.supervisor, region=s.region, kind="month", year=today.year, number=1),
    )

    # The assessment of the side's bodies (考核评议, F-37): a district scheme in use (its name private, with the
    # mark), last year's assessment under it, issued (so the government and the bodies read it)
    import importlib

    from jianchama.reports import assessment as assessments

    # The default scheme's items (not the seeded row: a transactional test elsewhere may have flushed it)
    default = importlib.import_module("jianchama.reports.migrations.0004_default_scheme")
    s.scheme = assessments.activate_scheme(
        s.supervisor,
        scheme=assessments.create_scheme(
            s.supervisor,
            region=s.region,
            name=f"{mark}{name}执法单位考核方案",
            year_from=today.year - 1,
            items=default.ITEMS,
        ),
    )
    s.assessment = assessments.issue_assessment(
        s.supervisor,
        assessment=assessments.compute_assessment(s.supervisor, region=s.region, year=today.year - 1),
    )

    # A survey of the side's district, open to its enterprises (F-47)
    from jianchama.complaints import surveys

    s.survey = surveys.open_survey(
        s.supervisor,
        survey=surveys.create_survey(
            s.supervisor,
            region=s.region,
            title=f"{mark}检查感受调查",
            intro=f"{mark}请如实填写",
            questions=f"[评分] {mark}检查人员是否出示证件？",
            closes_on=today + datetime.timedelta(days=30),
        ),
    )

    # An observer's meeting with the district's enterprises, and a lead out of it (F-47)
    from jianchama.complaints import activities

    s.activity = activities.record_activity(
        s.observer,
        kind="meeting",
        held_on=today,
        place=f"{mark}工商联会议室",
        enterprise_count=8,
        problems=f"{mark}企业反映重复检查",
        suggestions=f"{mark}建议联合检查",
    )
    complaints.register_complaint(
        s.observer,
        source="observer",
        category="other",
        title=f"{mark}座谈会反映的问题",
        content=f"{mark}座谈会上企业反映重复检查",
        body=s.body,
        activity=s.activity,
    )

    # Supervision: a finding taken through the three steps to a decision, and one left open
    s.finding = create_finding(
        s.supervisor,
        source=Finding.Source.OTHER,
        body=s.body,
        title=f"{mark}检查未使用检查码",
        description=f"{mark}一次入企检查未出示检查码",
    )
    s.open_finding = create_finding(
        s.supervisor, source=Finding.Source.OTHER, body=s.body, title=f"{mark}检查记录不完整"
    )
    s.warning = steps.warn_body(s.supervisor, finding=s.finding, channel="phone", content=f"{mark}电话提醒")
    s.warning = steps.record_warning_outcome(s.supervisor, warning=s.warning, rectified=False, note="未整改")
    rec = steps.issue_recommendation(
        s.supervisor,
        finding=s.finding,
        facts=f"{mark}该单位检查时未使用检查码",
        legal_basis="《上海市优化营商环境条例》",
        demanded=f"{mark}立即停止无码检查",
    )
    past = today - 40 * DAY
    type(rec).objects.filter(pk=rec.pk).update(
        issued_on=past,
        received_on=past,
        rectify_by=add_working_days(past, 15),
        review_due=add_working_days(add_working_days(past, 15), 5),
    )
    rec.refresh_from_db()
    rec = steps.review_recommendation(s.supervisor, recommendation=rec, rectified=False, note="仍未整改")
    s.recommendation = steps.request_decision(
        s.supervisor, recommendation=rec, note=f"{mark}建议暂停执法证件"
    )
    s.decision = steps.issue_decision(
        s.district_government,
        recommendation=s.recommendation,
        facts=f"{mark}经查该单位拒不整改",
        legal_basis="《上海市优化营商环境条例》",
        demanded=f"{mark}限期整改",
    )

    # A guidance opinion on a problem of the side's two bodies, issued to them (F-37)
    partner_finding = create_finding(
        s.supervisor, source=Finding.Source.OTHER, body=s.partner, title=f"{mark}检查未使用检查码（市场）"
    )
    s.guidance = guidance.mark_systemic(
        s.supervisor,
        findings=[s.finding, partner_finding],
        title=f"{mark}多个单位无码入企",
        problem=f"{mark}建管委、市场监管局均有无码入企",
    )
    s.guidance = guidance.issue_guidance(
        s.supervisor, opinion=s.guidance, guidance=f"{mark}入企检查前须生成检查码并出示。"
    )

    # Bulletins (F-37): one published to the district's bodies (private to the district), one to the public
    # (public objects carry no MARK), each approved by a second supervisor of the district
    approver = user_for(Role.SUPERVISOR, region=s.region, full_name=f"{mark}审核人{tag}")

    def bulletin(audience, title, text):
        item = bulletins.draft_bulletin(
            s.supervisor, kind="typical_case", audience=audience, title=title, text=text, findings=[s.finding]
        )
        item = bulletins.submit_bulletin(s.supervisor, bulletin=item)
        item = bulletins.review_bulletin(approver, bulletin=item, approve=True)
        return bulletins.publish_bulletin(s.supervisor, bulletin=item)

    s.bulletin = bulletin("district_bodies", f"{mark}内部通报{tag}", f"{mark}某单位无码入企")
    s.public_bulletin = bulletin("public", f"典型案例{tag}", "某单位无码入企，经监督建议书整改。")

    # Sampling: a revealed quarterly round, a score sheet, a review
    year, quarter = sampling.quarter_of(today)
    s.round = sampling.reveal_round(
        s.supervisor,
        sampling_round=sampling.commit_round(s.supervisor, year=year, quarter=quarter, region=s.region),
    )
    s.sampled = SampledBody.objects.filter(round=s.round).order_by("position").first()
    s.sheet = sampling.create_score_sheet(
        s.supervisor,
        name=f"{mark}案卷评查评分表",
        method=Method.CASE_FILE_REVIEW,
        items=SHEET_ITEMS,
        region=s.region,
    )
    s.review = sampling.record_review(
        s.supervisor,
        sampled=s.sampled,
        method=Method.CASE_FILE_REVIEW,
        sheet=s.sheet,
        scores={item["name"]: item["max"] for item in SHEET_ITEMS},
        notes=f"{mark}评查意见",
    )

    # Guides: a draft (the body's own) and a published one (public)
    s.guide = guides.create_guide(
        s.body_admin, field=w.gas, title=f"{mark}燃气企业自查指引（草稿）", content=f"{mark}草稿内容"
    )
    s.published_guide = guides.create_guide(
        s.body_admin, field=w.gas, title=f"{name}燃气企业自查指引{tag}", content="公开内容", publish=True
    )

    # An API client of the body (F-29), its key and a webhook, with the side's mark in its private texts
    from jianchama.integrations import services as integrations
    from jianchama.integrations.models import ApiKey

    s.api_client, s.api_key = integrations.register_client(
        s.body_admin,
        name=f"{mark}执法系统{tag}",
        vendor=f"{mark}承建单位{tag}",
        contact=f"{mark}联系人{tag}",
        scopes=["tasks:write", "tasks:read", "results:write", "scans:read", "webhooks:manage"],
    )
    s.api_key_row = ApiKey.objects.get(client=s.api_client)
    s.webhook, _ = integrations.register_webhook(
        s.api_client, url=f"https://hook-{code}.example.gov.cn/jianchama", events=["task.status_changed"]
    )
    from jianchama.integrations.models import WebhookDelivery

    s.webhook_delivery = WebhookDelivery.objects.create(
        webhook=s.webhook,
        event="task.status_changed",
        payload={"mark": f"{mark}"},
        status="failed",
        attempts=6,
    )

    # The rules run of the district's supervisor (its findings carry the district's tasks and names)
    s.rule_run = run_rules(s.supervisor)

    # A notification of one's own for each person of the side
    s.notifications = {}
    for role in ROLE_USERS:
        user = getattr(s, role)
        s.notifications[role] = notifications.notify_user(
            user=user, event="test.matrix", subject=f"{mark}通知{role}", body=f"{mark}通知正文"
        )
    # A queued import of the side's body admin (its page is its uploader's alone).
    s.import_job = ImportJob.objects.create(
        kind="enterprises",
        actor=s.body_admin,
        file_name=f"{mark}企业名录{tag}.csv",
        sha256="0" * 64,
        status=ImportJob.Status.REJECTED,
        problems=[[2, "名称", f"{mark}问题{tag}"]],
        problem_count=1,
    )
    # A written export of the side's supervisor (its page and file are his alone).
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    s.export_job = ExportJob.objects.create(
        title=f"{mark}监督问题{tag}",
        builder="jianchama.supervision.views.findings.finding_export",
        fingerprint=tag,
        actor=s.supervisor,
        status=ExportJob.Status.DONE,
        rows_estimate=1,
        rows_done=1,
        file=default_storage.save(f"exports/test{tag}.xlsx", ContentFile(f"{mark}导出内容".encode())),
        file_name=f"{mark}监督问题.xlsx",
        finished_at=timezone.now(),
        expires_at=timezone.now() + datetime.timedelta(hours=1),
    )
    return s


# The logged-in people of a side, by the name the matrix gives their role.
ROLE_USERS = [
    "inspector_user",
    "body_admin",
    "partner_admin",
    "city_reviewer",
    "supervisor",
    "district_government",
    "complaint_intake",
    "observer",
    "reconsideration_office",
    "enterprise_contact",
]


def build_world(settings, media_root) -> SimpleNamespace:
    settings.MEDIA_ROOT = media_root
    w = SimpleNamespace()
    w.city = RegionFactory()
    w.gas = FieldFactory()
    w.market = FieldFactory(code="market", name="市场监管")
    w.a = build_side(w, tag="甲", code="310116", name="金山区", mark="")
    w.b = build_side(w, tag="乙", code="310112", name="闵行区", mark=MARK)
    w.platform_admin = user_for(Role.PLATFORM_ADMIN, full_name="平台管理员")
    w.admin_notification = notifications.notify_user(
        user=w.platform_admin, event="test.matrix", subject="平台通知", body="平台通知正文"
    )
    return w
