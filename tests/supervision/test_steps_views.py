# ruff: noqa: F811  (the `world` fixture is imported from the shared module)
"""The three steps' pages as their users see them, through Django's test client: the panel on the finding
page, the list with deadlines and flags, the recommendation page with the body's acknowledgement and report,
the district government's decision form, the PDF downloads, and the scoping of each."""

from __future__ import annotations

import datetime

from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from jianchama.core.roles import Role
from jianchama.core.workdays import add_working_days
from jianchama.registry.models import Certificate
from jianchama.supervision import steps
from jianchama.supervision.models import Decision, Finding, Recommendation, SupervisionWarning
from tests.factories import user_for
from tests.supervision._steps_world import (
    BASIS,
    DEMANDED,
    FACTS,
    backdate,
    escalated,
    not_rectified,
    recommended,
    world,  # noqa: F401
)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


def panel_html(user, finding) -> str:
    request = RequestFactory().get(f"/supervision/findings/{finding.pk}/")
    request.user = user
    return render_to_string(
        "supervision/_steps_panel.html", steps.finding_panel(user, finding), request=request
    )


def test_the_panel_offers_each_role_its_actions(world):
    w = world
    html = panel_html(w.supervisor, w.finding)
    assert 'id="warn-form"' in html and "发出预警提醒" in html
    assert 'id="recommend-form"' not in html
    not_rectified(w)
    w.finding.refresh_from_db()
    html = panel_html(w.supervisor, w.finding)
    assert 'id="recommend-form"' in html and "剩余5个工作日" in html
    head_html = panel_html(w.head, w.finding)
    assert 'id="recommend-form"' not in head_html and 'id="warn-form"' not in head_html
    assert "电话" in head_html  # the warning itself is shown to the body


def test_the_supervisor_warns_and_recommends_through_the_pages(world):
    w = world
    client = client_for(w.supervisor)
    response = client.post(
        reverse("supervision:finding_warn", args=[w.finding.pk]),
        {"channel": "meeting", "content": "座谈会提醒：检查须出示检查码", "next": "/supervision/steps/"},
    )
    assert response.status_code == 302 and response.url == "/supervision/steps/"
    warning = SupervisionWarning.objects.get()
    assert warning.channel == "meeting"
    response = client.post(reverse("supervision:warning_action", args=[warning.pk, "outcome"]), {"note": "x"})
    assert response.status_code == 302  # no choice: refused with a message, nothing saved
    warning.refresh_from_db()
    assert warning.outcome == SupervisionWarning.Outcome.PENDING
    client.post(
        reverse("supervision:warning_action", args=[warning.pk, "outcome"]),
        {"rectified": "no", "note": "走访核实未整改"},
    )
    warning.refresh_from_db()
    assert warning.outcome == SupervisionWarning.Outcome.NOT_RECTIFIED
    # Missing content: refused with the reasons, no recommendation.
    response = client.post(
        reverse("supervision:finding_recommend", args=[w.finding.pk]),
        {"facts": "", "legal_basis": "", "demanded": "", "next": reverse("supervision:steps")},
        follow=True,
    )
    assert "请填写问题事实" in text(response) and not Recommendation.objects.exists()
    response = client.post(
        reverse("supervision:finding_recommend", args=[w.finding.pk]),
        {"facts": FACTS, "legal_basis": BASIS, "demanded": DEMANDED},
        follow=True,
    )
    rec = Recommendation.objects.get()
    page = text(response)
    assert rec.number in page and "剩余15个工作日" in page and "下载建议书（PDF）" in page
    assert 'id="review-form"' in page  # the supervisor may review (the page shows the form)
    assert 'id="report-form"' not in page


def test_the_list_shows_deadlines_days_left_and_flags(world):
    w = world
    on_time = recommended(w)
    from tests.supervision._steps_world import new_finding

    late = recommended(w, new_finding(w, "未出示执法证件"))
    backdate(late, rectify_by=timezone.localdate() - datetime.timedelta(days=7))
    page = text(client_for(w.supervisor).get(reverse("supervision:steps")))
    assert on_time.number in page and late.number in page
    assert "剩余15个工作日" in page and "已逾期" in page and "有逾期" in page
    flagged = text(client_for(w.supervisor).get(reverse("supervision:steps") + "?flagged=1"))
    assert late.number in flagged and on_time.number not in flagged
    # Scoping: Minhang's supervisor and another body's admin see none of it; Jinshan's body admin its own.
    assert on_time.number not in text(client_for(w.mh_supervisor).get(reverse("supervision:steps")))
    assert on_time.number not in text(client_for(w.partner_head).get(reverse("supervision:steps")))
    own = text(client_for(w.head).get(reverse("supervision:steps")))
    assert on_time.number in own and "本单位收到的" in own


def test_the_list_exports_to_excel_as_filtered_and_scoped(world):
    import io

    from openpyxl import load_workbook

    from tests.supervision._steps_world import new_finding

    w = world
    on_time = recommended(w)
    late = recommended(w, new_finding(w, "未出示执法证件"))
    overdue = timezone.localdate() - datetime.timedelta(days=7)
    backdate(late, rectify_by=overdue)

    def export(user, query=""):
        response = client_for(user).get(reverse("supervision:steps") + "?export=xlsx" + query)
        assert response["Content-Type"].startswith("application/vnd.openxmlformats")
        book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
        return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}

    sheets = export(w.supervisor)
    header, *rows = sheets["监督建议书"]
    assert header[:6] == ("文号", "执法单位", "问题", "状态", "制发日期", "整改期限")
    by_number = {row[0]: row for row in rows}
    assert set(by_number) == {on_time.number, late.number}
    assert by_number[on_time.number][6] == "剩余15个工作日"
    assert by_number[late.number][5].date() == overdue and by_number[late.number][6].startswith("已逾期")
    assert by_number[late.number][1] == w.body.name and by_number[late.number][2] == "未出示执法证件"
    assert [row[0] for row in export(w.supervisor, "&flagged=1")["监督建议书"][1:]] == [late.number]
    assert export(w.mh_supervisor)["监督建议书"][1:] == []  # another district's letters are not in it


def test_the_body_acknowledges_and_uploads_its_report(world):
    w = world
    rec = recommended(w)
    client = client_for(w.head)
    page = text(client.get(reverse("supervision:recommendation_detail", args=[rec.pk])))
    assert 'id="report-form"' in page and "签收" in page and 'id="review-form"' not in page
    client.post(reverse("supervision:recommendation_action", args=[rec.pk, "acknowledge"]))
    rec.refresh_from_db()
    assert rec.acknowledged_by == w.head
    bad = SimpleUploadedFile("报告.exe", b"MZ\x90\x00")
    response = client.post(
        reverse("supervision:recommendation_action", args=[rec.pk, "report"]),
        {"text": "已整改", "file": bad},
        follow=True,
    )
    assert "类型不支持" in text(response)
    upload = SimpleUploadedFile("整改报告.pdf", b"%PDF-1.4\n%report\n", content_type="application/pdf")
    response = client.post(
        reverse("supervision:recommendation_action", args=[rec.pk, "report"]),
        {"text": "已对执法人员进行培训并建立检查码使用台账", "file": upload},
        follow=True,
    )
    page = text(response)
    assert "整改报告已报送" in page and "建立检查码使用台账" in page
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.REPORTED
    download = client_for(w.supervisor).get(reverse("supervision:recommendation_report_file", args=[rec.pk]))
    assert download.status_code == 200 and download.getvalue().startswith(b"%PDF-")
    # Another body's administrator cannot see it at all.
    other = client_for(w.partner_head)
    assert other.get(reverse("supervision:recommendation_detail", args=[rec.pk])).status_code == 404
    assert (
        other.post(reverse("supervision:recommendation_action", args=[rec.pk, "report"])).status_code == 404
    )


def test_a_refused_action_of_the_wrong_role_is_a_403_that_says_why(world):
    w = world
    rec = recommended(w)
    response = client_for(w.supervisor).post(
        reverse("supervision:recommendation_action", args=[rec.pk, "report"])
    )
    assert response.status_code == 403 and "管理员" in text(response)
    response = client_for(w.supervisor).get(reverse("supervision:decision_create", args=[rec.pk]))
    assert response.status_code == 403 and "金山区人民政府" in text(response)


def test_the_pdf_downloads_are_scoped(world):
    w = world
    rec = recommended(w)
    url = reverse("supervision:recommendation_pdf", args=[rec.pk])
    for user in (w.supervisor, w.head, w.government):
        response = client_for(user).get(url)
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert response.getvalue().startswith(b"%PDF-")
    for user in (w.mh_supervisor, w.partner_head, w.inspector_user, w.contact):
        assert client_for(user).get(url).status_code == 404
    assert Client().get(url).status_code == 302  # to the login page


def test_the_review_request_and_the_government_decision_form(world):
    w = world
    rec = recommended(w)
    past = timezone.localdate() - datetime.timedelta(days=40)
    backdate(
        rec,
        issued_on=past,
        received_on=past,
        rectify_by=add_working_days(past, 15),
        review_due=add_working_days(add_working_days(past, 15), 5),
    )
    supervisor = client_for(w.supervisor)
    supervisor.post(
        reverse("supervision:recommendation_action", args=[rec.pk, "review"]),
        {"rectified": "no", "note": "逾期未报送整改报告，现场复查未整改"},
    )
    supervisor.post(
        reverse("supervision:recommendation_action", args=[rec.pk, "request_decision"]),
        {"note": "建议暂停张三执法证件"},
    )
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.ESCALATED
    government = client_for(w.government)
    page = text(government.get(reverse("supervision:recommendation_detail", args=[rec.pk])))
    assert "制发监督决定书" in page and "逾期办理" in page  # the body missed its deadline
    form = government.get(reverse("supervision:decision_create", args=[rec.pk]))
    assert form.status_code == 200 and "张三" in text(form) and "暂停使用执法证件" in text(form)
    # A certificate measure without inspectors is refused, the form keeps what was typed.
    response = government.post(
        reverse("supervision:decision_create", args=[rec.pk]),
        {
            "facts": FACTS,
            "legal_basis": BASIS,
            "demanded": DEMANDED,
            "deadline_working_days": "15",
            "measure_suspend_certificate": "1",
        },
    )
    assert response.status_code == 200 and "须指明涉及的执法人员" in text(response)
    assert not Decision.objects.exists()
    response = government.post(
        reverse("supervision:decision_create", args=[rec.pk]),
        {
            "facts": FACTS,
            "legal_basis": BASIS,
            "demanded": DEMANDED,
            "deadline_working_days": "15",
            "measure_suspend_certificate": "1",
            "inspectors_suspend_certificate": [str(w.inspector.pk)],
            "measure_interview": "1",
            "note_interview": "约谈主要负责人",
        },
        follow=True,
    )
    decision = Decision.objects.get()
    page = text(response)
    assert decision.number in page and "暂停使用执法证件：张三" in page and "约谈主要负责人" in page
    assert Certificate.objects.get(inspector=w.inspector).status == Certificate.Status.SUSPENDED
    w.finding.refresh_from_db()
    assert w.finding.status == Finding.Status.DECIDED
    pdf = government.get(reverse("supervision:decision_pdf", args=[decision.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert (
        client_for(w.mh_government)
        .get(reverse("supervision:decision_detail", args=[decision.pk]))
        .status_code
        == 404
    )
    # The bureau confirms the rectification on the decision page.
    supervisor.post(reverse("supervision:decision_action", args=[decision.pk, "confirm"]), {"note": "已整改"})
    decision.refresh_from_db()
    assert decision.status == Decision.Status.RECTIFIED


def test_the_task_page_shows_the_qualification_alert(world):
    w = world
    task = w.submitted()
    rec = escalated(w)
    steps.issue_decision(
        w.government,
        recommendation=rec,
        facts=FACTS,
        legal_basis=BASIS,
        demanded=DEMANDED,
        measures=[steps.MeasureInput(kind="suspend_certificate", inspectors=[w.inspector])],
    )
    page = text(client_for(w.head).get(reverse("inspections:task_detail", args=[task.pk])))
    assert 'id="qualification-alert"' in page and "执法人员资格预警" in page and "张三" in page


def test_an_observer_sees_nothing(world):
    w = world
    rec = recommended(w)
    observer = user_for(Role.OBSERVER, region=w.jinshan)
    assert rec.number not in text(client_for(observer).get(reverse("supervision:steps")))
    assert (
        client_for(observer).get(reverse("supervision:recommendation_detail", args=[rec.pk])).status_code
        == 404
    )


def test_only_overdue_is_filtered_by_the_database_exactly_as_the_deadlines_flag(world):
    """「只看逾期」 reads only the flagged letters from the database (a city's letters are not loaded and
    filtered in memory, nor cut at a fixed number): the query's rows are exactly those whose deadlines the
    page marks 有逾期, over every way a deadline can be missed or kept."""
    from tests.supervision._steps_world import escalated, new_finding

    w = world
    today, now = timezone.localdate(), timezone.now()
    past = today - datetime.timedelta(days=7)
    recs = [recommended(w, new_finding(w, f"问题{number}")) for number in range(6)]
    backdate(recs[1], rectify_by=past)  # the body's report pending past its deadline
    backdate(recs[2], rectify_by=past, reported_at=now)  # reported after the deadline
    backdate(recs[3], reported_at=now)  # reported in time
    backdate(recs[4], rectify_missed_at=now)  # recorded as missed
    backdate(  # reported in time, the bureau's review pending past its deadline
        recs[5],
        rectify_by=past - datetime.timedelta(days=10),
        reported_at=now - datetime.timedelta(days=20),
        review_due=past,
    )
    decided = [
        steps.issue_decision(
            w.government,
            recommendation=escalated(w, new_finding(w, f"决定{number}")),
            measures=[],
            facts=FACTS,
            legal_basis=BASIS,
            demanded=DEMANDED,
        )
        for number in range(3)
    ]
    Decision.objects.filter(pk=decided[1].pk).update(deadline=past)  # pending past its deadline
    Decision.objects.filter(pk=decided[2].pk).update(deadline=past, closed_at=now)  # closed late

    recommendations = Recommendation.objects.select_related("body__region__parent", "warning")
    expected = {r.pk for r in recommendations if steps.flagged(steps.recommendation_deadlines(r))}
    assert {r.pk for r in steps.flagged_recommendations(Recommendation.objects.all())} == expected
    assert {recs[1].pk, recs[2].pk, recs[4].pk, recs[5].pk} <= expected
    assert not {recs[0].pk, recs[3].pk} & expected
    decisions = Decision.objects.select_related("body__region__parent")
    expected = {d.pk for d in decisions if steps.flagged(steps.decision_deadlines(d))}
    assert {d.pk for d in steps.flagged_decisions(Decision.objects.all())} == expected
    assert expected == {decided[1].pk, decided[2].pk}

    page = text(client_for(w.supervisor).get(reverse("supervision:steps") + "?flagged=1"))
    assert recs[1].number in page and recs[0].number not in page and recs[3].number not in page
    assert decided[1].number in page and decided[0].number not in page
