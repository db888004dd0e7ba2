# ruff: noqa: F811  (the `world` fixture is imported from the shared module)
"""Seed 003 二（四）2: 「对问题突出的行政执法单位，及时制发执法监督建议书」 — a supervisor may issue the
recommendation letter without a prior warning, giving the reason; the letter is flagged as such in the
lists, the export, the PDF and the statistics (`Recommendation.direct`)."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.workdays import add_working_days
from jianchama.supervision import steps
from jianchama.supervision.models import Finding, Recommendation
from tests.supervision._steps_world import (
    BASIS,
    DEMANDED,
    FACTS,
    new_finding,
    not_rectified,
    pdf_text,
    recommended,
    warned,
    world,  # noqa: F401
)

REASON = "该单位本季度三次入企检查均未使用检查码，企业投诉集中，问题突出。"


def direct(w, finding=None, actor=None, reason=REASON):
    return steps.issue_direct_recommendation(
        actor or w.supervisor,
        finding=finding or w.finding,
        reason=reason,
        facts=FACTS,
        legal_basis=BASIS,
        demanded=DEMANDED,
    )


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_对问题突出的行政执法单位_及时制发执法监督建议书_without_a_prior_warning(world):
    """对问题突出的行政执法单位，及时制发执法监督建议书: issued from an open finding, no warning, with the
    reason; numbered, deadlines as step two, the finding moves to 已制发监督建议书."""
    w = world
    rec = direct(w)
    today = timezone.localdate()
    assert rec.direct and rec.direct_reason == REASON and rec.warning is None
    assert rec.number == f"金司监建〔{today.year}〕1号"
    assert rec.issue_due == rec.issued_on == today
    assert rec.rectify_by == add_working_days(today, 15)
    w.finding.refresh_from_db()
    assert w.finding.status == Finding.Status.RECOMMENDED
    issue, _rectify, _review = steps.recommendation_deadlines(rec)
    assert issue.text == "按期办理" and not issue.missed
    text = pdf_text(rec.document.read())
    assert "突出问题" in text and "直接制发的理由" in text and "预警提醒后" not in text
    assert "三次入企检查均未使用检查码" in text


def test_a_direct_letter_needs_its_reason_the_bureau_and_the_right_state(world):
    w = world
    with pytest.raises(DomainError) as refused:
        direct(w, reason="  ")
    assert "请填写直接制发的理由" in refused.value.problems[0]
    for outsider in (w.mh_supervisor, w.head, w.government):
        with pytest.raises(PermissionDenied, match="金山区司法局执法监督人员"):
            direct(w, actor=outsider)
    assert not Recommendation.objects.exists()
    # A warning still pending does not stop it: the problem is prominent now.
    warned(w)
    assert direct(w).direct
    # A warning found not rectified takes the ordinary step two.
    other = new_finding(w, "未出示执法证件")
    not_rectified(w, other)
    with pytest.raises(InvalidTransition, match="请按第二步制发"):
        direct(w, finding=other)
    with pytest.raises(InvalidTransition, match=r"不能重复制发|只有待核实或已预警"):
        direct(w)


def test_direct_letters_are_flagged_in_the_lists_the_export_and_the_counts(world):
    w = world
    ordinary = recommended(w)
    flagged = direct(w, finding=new_finding(w, "多次未使用检查码"))
    page = client_for(w.supervisor).get(reverse("supervision:steps")).content.decode()
    assert "共2份，其中问题突出、未经预警直接制发1份" in page
    row = page[page.index(flagged.number) :][:400]
    assert "直接制发" in row
    assert steps.recommendation_counts(w.supervisor) == {"total": 2, "direct": 1}
    assert steps.recommendation_counts(w.mh_supervisor) == {"total": 0, "direct": 0}
    response = client_for(w.supervisor).get(reverse("supervision:steps") + "?export=xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)))["监督建议书"]
    header, *rows = list(sheet.iter_rows(values_only=True))
    assert header[-2:] == ("制发方式", "直接制发理由")
    by_number = {r[0]: r for r in rows}
    assert by_number[flagged.number][-2:] == ("直接制发", REASON)
    assert by_number[ordinary.number][-2] == "预警后制发"
    detail = client_for(w.head).get(reverse("supervision:recommendation_detail", args=[flagged.pk]))
    assert "未经预警提醒直接制发" in detail.content.decode()


def test_the_panel_and_the_page_issue_a_direct_letter(world):
    w = world
    client = client_for(w.supervisor)
    finding_page = client.get(reverse("supervision:finding_detail", args=[w.finding.pk])).content.decode()
    assert 'id="direct-recommend-form"' in finding_page
    head_page = client_for(w.head).get(reverse("supervision:finding_detail", args=[w.finding.pk]))
    assert 'id="direct-recommend-form"' not in head_page.content.decode()
    url = reverse("supervision:finding_recommend_direct", args=[w.finding.pk])
    response = client.post(url, {"reason": "", "facts": FACTS, "legal_basis": BASIS, "demanded": DEMANDED})
    assert response.status_code == 302 and not Recommendation.objects.exists()
    response = client.post(
        url, {"reason": REASON, "facts": FACTS, "legal_basis": BASIS, "demanded": DEMANDED}, follow=True
    )
    rec = Recommendation.objects.get()
    assert rec.direct and "已直接制发" in response.content.decode()
    assert client_for(w.mh_supervisor).post(url, {"reason": REASON}).status_code in (403, 404)
