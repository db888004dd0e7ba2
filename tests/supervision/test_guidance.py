# ruff: noqa: F811  (the `world` fixture is imported from the shared module)
"""Guidance opinions (F-37, seed 003 二（四）3): a supervisor marks a problem found at several bodies (or in a field)
as systemic; the opinion is due one calendar month later, reminded and flagged when missed; issued as a numbered
PDF (text extracted back, CJK font embedded) to the bodies concerned, each of which acknowledges it."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.formats import chinese_date
from jianchama.core.roles import Role
from jianchama.notifications.models import Notification
from jianchama.supervision import guidance
from jianchama.supervision.models import Finding, GuidanceOpinion
from jianchama.supervision.services import create_finding
from tests.factories import BodyFactory, user_for
from tests.supervision._steps_world import backdate, embedded_fonts, pdf_text, world  # noqa: F401

GUIDANCE_TEXT = (
    "一、入企检查前须通过平台生成检查码并向企业出示。\n二、各单位每月自查检查码使用情况并报送司法局。"
)


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def partner_finding(w, title="检查未使用检查码"):
    return create_finding(
        w.supervisor, source=Finding.Source.OTHER, body=w.partner, title=title, description="无码入企"
    )


def marked(w, **kwargs):
    return guidance.mark_systemic(
        w.supervisor,
        findings=[w.finding, partner_finding(w)],
        title="部分执法单位入企检查未使用检查码",
        problem="建管委、市场监管局均存在无码入企检查，反映检查码使用制度未落实。",
        **kwargs,
    )


@pytest.mark.parametrize(
    "marked_on, due",
    [
        (datetime.date(2026, 1, 31), datetime.date(2026, 2, 28)),
        (datetime.date(2028, 1, 31), datetime.date(2028, 2, 29)),
        (datetime.date(2026, 12, 15), datetime.date(2027, 1, 15)),
        (datetime.date(2026, 3, 31), datetime.date(2026, 4, 30)),
        (datetime.date(2026, 5, 1), datetime.date(2026, 6, 1)),
    ],
)
def test_the_opinion_is_due_one_calendar_month_after_the_problem_is_marked(marked_on, due):
    assert guidance.one_month_after(marked_on) == due


def test_findings_of_several_bodies_make_a_systemic_problem_sent_to_those_bodies(world):
    w = world
    opinion = marked(w)
    assert opinion.status == GuidanceOpinion.Status.DRAFT
    assert opinion.region == w.jinshan
    assert opinion.due_on == guidance.one_month_after(timezone.localdate())
    assert {r.body for r in opinion.recipients.all()} == {w.body, w.partner}
    assert set(opinion.findings.all()) == {w.finding, Finding.objects.get(body=w.partner)}


def test_one_body_alone_is_not_systemic_unless_a_field_is_named(world):
    w = world
    second = create_finding(w.supervisor, source=Finding.Source.OTHER, body=w.body, title="又一次无码检查")
    with pytest.raises(DomainError, match="只涉及一个执法单位"):
        guidance.mark_systemic(
            w.supervisor, findings=[w.finding, second], title="无码检查", problem="反复出现"
        )
    # By field: every active body of the district in the gas field receives it (not Minhang's).
    gas_town_body = BodyFactory(name="金山区燃气执法大队", region=w.jinshan, fields=[w.gas])
    opinion = guidance.mark_systemic(
        w.supervisor, findings=[w.finding, second], title="燃气领域无码检查", problem="反复出现", field=w.gas
    )
    assert {r.body for r in opinion.recipients.all()} == {w.body, gas_town_body}
    # A finding of a body outside the field is refused.
    with pytest.raises(DomainError, match="不属于"):
        guidance.mark_systemic(
            w.supervisor, findings=[w.finding, partner_finding(w)], title="x", problem="y", field=w.gas
        )


def test_only_the_district_bureau_marks_and_issues(world):
    w = world
    with pytest.raises(PermissionDenied, match="金山区司法局执法监督人员"):
        guidance.mark_systemic(
            w.mh_supervisor, findings=[w.finding, partner_finding(w)], title="x", problem="y"
        )
    with pytest.raises(PermissionDenied):
        guidance.mark_systemic(w.head, findings=[w.finding, partner_finding(w)], title="x", problem="y")
    opinion = marked(w)
    for outsider in (w.mh_supervisor, w.head, w.government):
        with pytest.raises(PermissionDenied):
            guidance.issue_guidance(outsider, opinion=opinion, guidance=GUIDANCE_TEXT)
    # Bodies of two districts: refused, each bureau speaks for its own district.
    mh_finding = create_finding(w.mh_supervisor, source=Finding.Source.OTHER, body=w.other_body, title="无码")
    with pytest.raises(DomainError, match="不在同一区"):
        guidance.mark_systemic(w.supervisor, findings=[w.finding, mh_finding], title="x", problem="y")


def test_issue_numbers_renders_the_pdf_and_tells_the_bodies(world):
    w = world
    opinion = marked(w)
    with pytest.raises(DomainError, match="指导意见"):
        guidance.issue_guidance(w.supervisor, opinion=opinion, guidance="短")
    opinion = guidance.issue_guidance(w.supervisor, opinion=opinion, guidance=GUIDANCE_TEXT)
    today = timezone.localdate()
    assert opinion.status == GuidanceOpinion.Status.ISSUED
    assert opinion.number == f"金司监指〔{today.year}〕1号"
    data = opinion.document.read()
    text = flat(pdf_text(data))
    assert "指导性意见" in text and opinion.number in text
    assert "金山区市场监督管理局、金山区建设和管理委员会：" in text  # the addressees, by name
    assert "多个执法单位存在普遍性、系统性问题" in text
    assert "部分执法单位入企检查未使用检查码" in text
    assert "各单位每月自查检查码使用情况并报送司法局" in text
    assert "金山区司法局" in text and chinese_date(today) in text
    fonts = embedded_fonts(data)
    assert fonts and all(
        "Noto-Serif-CJK-SC" in name and key in ("/FontFile2", "/FontFile3") for name, key in fonts
    )
    told = Notification.objects.filter(event="supervision.guidance")
    assert {n.user for n in told} == {w.head, w.partner_head}
    with pytest.raises(InvalidTransition):
        guidance.issue_guidance(w.supervisor, opinion=opinion, guidance=GUIDANCE_TEXT)
    assert guidance.deadline(opinion).text == "按期印发"


def test_each_body_acknowledges_once_and_only_its_own(world):
    w = world
    opinion = marked(w)
    with pytest.raises(InvalidTransition, match="尚未印发"):
        guidance.acknowledge_guidance(w.head, opinion=opinion)
    guidance.issue_guidance(w.supervisor, opinion=opinion, guidance=GUIDANCE_TEXT)
    recipient = guidance.acknowledge_guidance(w.head, opinion=opinion)
    assert recipient.body == w.body and recipient.acknowledged_by == w.head
    with pytest.raises(InvalidTransition, match="已于"):
        guidance.acknowledge_guidance(w.head, opinion=opinion)
    with pytest.raises(PermissionDenied, match="未发给你单位"):
        guidance.acknowledge_guidance(w.other_head, opinion=opinion)
    with pytest.raises(PermissionDenied):
        guidance.acknowledge_guidance(w.supervisor, opinion=opinion)


def test_reminders_before_the_due_day_and_once_when_missed_then_flagged_after_late_issue(world):
    w = world
    opinion = marked(w)
    today = timezone.localdate()
    # Far from due: nothing.
    assert guidance.send_reminders(today) == 0
    # Five days before the due day: one reminder to the district's supervisors, sent once.
    backdate(opinion, due_on=today + datetime.timedelta(days=5))
    assert guidance.send_reminders(today) == 1
    assert guidance.send_reminders(today) == 0
    reminder = Notification.objects.get(event="supervision.deadline", user=w.supervisor)
    assert "剩余5天" in reminder.subject
    assert not Notification.objects.filter(event="supervision.deadline", user=w.mh_supervisor).exists()
    # Missed: flagged, reminded once.
    backdate(
        opinion, marked_on=today - datetime.timedelta(days=40), due_on=today - datetime.timedelta(days=9)
    )
    assert guidance.send_reminders(today) == 1
    assert guidance.send_reminders(today) == 0
    opinion.refresh_from_db()
    assert opinion.due_missed_at is not None
    assert guidance.deadline(opinion, today).text == "已逾期9天"
    opinion = guidance.issue_guidance(w.supervisor, opinion=opinion, guidance=GUIDANCE_TEXT)
    view = guidance.deadline(opinion)
    assert view.missed and view.text == "逾期9天印发"


def test_pages_list_create_issue_acknowledge_and_download(world, client):
    w = world
    second = partner_finding(w)
    client.force_login(w.supervisor)
    page = client.get(reverse("supervision:guidance_create"))
    assert page.status_code == 200 and "检查未使用检查码" in page.content.decode()
    response = client.post(
        reverse("supervision:guidance_create"),
        {"title": "无码入企", "problem": "两个单位都有", "finding": [w.finding.pk, second.pk], "field": ""},
    )
    opinion = GuidanceOpinion.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "supervision:guidance_detail", args=[opinion.pk]
    )
    listing = client.get(reverse("supervision:guidance_list")).content.decode()
    assert "无码入企" in listing and "剩余" in listing
    client.post(
        reverse("supervision:guidance_action", args=[opinion.pk, "issue"]), {"guidance": GUIDANCE_TEXT}
    )
    opinion.refresh_from_db()
    assert opinion.status == GuidanceOpinion.Status.ISSUED
    pdf = client.get(reverse("supervision:guidance_pdf", args=[opinion.pk]))
    data = b"".join(pdf.streaming_content) if pdf.streaming else pdf.content
    assert pdf.status_code == 200 and data.startswith(b"%PDF-")
    # The body admin sees it, acknowledges on the page; another district's body admin gets 404.
    client.force_login(w.head)
    detail = client.get(reverse("supervision:guidance_detail", args=[opinion.pk])).content.decode()
    assert "签收" in detail and opinion.number in detail
    client.post(reverse("supervision:guidance_action", args=[opinion.pk, "acknowledge"]))
    assert opinion.recipients.get(body=w.body).acknowledged_at is not None
    client.force_login(w.other_head)
    assert client.get(reverse("supervision:guidance_detail", args=[opinion.pk])).status_code == 404
    client.force_login(user_for(Role.INSPECTOR, body=w.body))
    assert client.get(reverse("supervision:guidance_list")).status_code == 403


def test_a_refused_mark_says_why_on_the_page(world, client):
    w = world
    client.force_login(w.supervisor)
    response = client.post(
        reverse("supervision:guidance_create"),
        {"title": "x", "problem": "y", "finding": [w.finding.pk]},
        follow=True,
    )
    assert "只涉及一个执法单位" in response.content.decode()
    assert not GuidanceOpinion.objects.exists()
