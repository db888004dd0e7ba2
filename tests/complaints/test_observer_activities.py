"""Observers' visits and meetings (走访、座谈会; F-47). Seed 003 二（一）2: 「加强与工商联及各行业协会的沟通协作…通过
定期召开座谈会、聘请法治观察员等方式，了解企业在接受行政检查过程中遇到的困难和问题，及时收集企业对行政检查工作的意见
和建议」. An observer or a supervisor records each visit and meeting (how many enterprises, what they raised, never
which enterprise said what); a problem to follow up becomes a lead in the complaint ledger; bodies see none of it."""

from __future__ import annotations

import datetime
import io
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from jianchama.complaints import activities
from jianchama.complaints import services as complaints_services
from jianchama.complaints.models import Complaint, ObserverActivity
from jianchama.core.audit import AuditEvent
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.roles import Role
from tests.factories import user_for

PROBLEMS = "多家企业反映同一月内被不同部门重复检查燃气设施；有检查人员未出示检查码。"


def record(actor, **changes) -> ObserverActivity:
    args = {
        "kind": ObserverActivity.Kind.MEETING,
        "held_on": timezone.localdate() - datetime.timedelta(days=3),
        "place": "金山区工商联三楼会议室",
        "organiser": "金山区工商业联合会",
        "enterprise_count": 12,
        "participants": "法治观察员2名、区司法局1名",
        "problems": PROBLEMS,
        "suggestions": "建议联合检查、一次查完",
        **changes,
    }
    return activities.record_activity(actor, **args)


def workbook_rows(response) -> list[tuple]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(load_workbook(io.BytesIO(body)).active.values)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_座谈会_and_走访_are_recorded_with_how_many_enterprises_and_what_they_raised(s):
    """「通过定期召开座谈会、聘请法治观察员等方式，了解企业在接受行政检查过程中遇到的困难和问题」"""
    meeting = record(s.observer)
    visit = record(s.supervisor, kind=ObserverActivity.Kind.VISIT, organiser="", enterprise_count=1)
    assert meeting.region == s.jinshan and meeting.recorded_by == s.observer
    assert visit.get_kind_display() == "走访企业" and visit.region == s.jinshan
    event = AuditEvent.objects.get(action="activity.recorded", object_id=str(meeting.pk))
    assert event.after["enterprise_count"] == 12 and event.after["problems"] == PROBLEMS
    figures = activities.totals(ObserverActivity.objects.all())
    assert (figures.visits, figures.meetings, figures.enterprises, figures.leads) == (1, 1, 13, 0)


def test_a_bad_record_is_refused_in_chinese_and_nothing_is_saved(s):
    with pytest.raises(DomainError) as refused:
        record(
            s.observer,
            kind="party",
            held_on=timezone.localdate() + datetime.timedelta(days=1),
            place=" ",
            enterprise_count=0,
            problems="",
        )
    assert refused.value.problems == [
        "请选择走访企业或座谈会",
        "日期不能晚于今天：请在走访或座谈之后记录",
        "请填写地点",
        "参与企业数请填写1至10000之间的整数",
        "请填写企业反映的困难和问题（没有的，写“未反映问题”）",
    ]
    assert not ObserverActivity.objects.exists()
    assert not AuditEvent.objects.filter(action="activity.recorded").exists()


def test_only_observers_and_supervisors_record_and_bodies_see_nothing(s):
    for actor in (s.head, s.inspector_user, s.contact, s.intake, s.government, s.city_reviewer):
        with pytest.raises(PermissionDenied):
            record(actor)
    mine = record(s.observer)
    theirs = record(user_for(Role.OBSERVER, region=s.minhang), place="闵行区某园区")
    other_observer = user_for(Role.OBSERVER, region=s.jinshan)
    city_supervisor = user_for(Role.SUPERVISOR, region=s.city)
    seen = {
        user: set(ObserverActivity.objects.visible_to(user))
        for user in (s.observer, other_observer, s.supervisor, s.mh_supervisor, city_supervisor, s.head)
    }
    assert seen[s.observer] == {mine} and seen[other_observer] == set()
    assert seen[s.supervisor] == {mine} and seen[s.mh_supervisor] == {theirs}
    assert seen[city_supervisor] == {mine, theirs}
    assert seen[s.head] == set()
    for user in (s.head, s.contact, s.intake):
        response = client_for(user).get(reverse("complaints:activity_detail", args=[mine.pk]))
        assert response.status_code in (403, 404)
        assert PROBLEMS not in response.content.decode()


def test_a_problem_raised_becomes_a_lead_that_goes_the_complaints_way(s):
    """「及时收集企业对行政检查工作的意见和建议」: what needs checking goes to the ledger as a lead, linked to the
    meeting it came out of."""
    meeting = record(s.observer)
    client = client_for(s.observer)
    detail = client.get(reverse("complaints:activity_detail", args=[meeting.pk])).content.decode()
    lead_url = f"{reverse('complaints:observe')}?activity={meeting.pk}"
    assert lead_url.replace("&", "&amp;") in detail and "尚未据此提交线索" in detail
    response = client.post(
        lead_url,
        {
            "source": Complaint.Source.OBSERVER,
            "category": Complaint.Category.DISGUISED_INSPECTION,
            "title": "座谈会反映：检查人员未出示检查码",
            "content": "座谈会上有企业反映，本月有检查人员上门未出示检查码。",
            "body": s.body.pk,
        },
    )
    lead = Complaint.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "complaints:detail", args=[lead.pk]
    )
    assert lead.activity == meeting and lead.source == Complaint.Source.OBSERVER and lead.body == s.body
    detail = client.get(reverse("complaints:activity_detail", args=[meeting.pk])).content.decode()
    assert lead.number in detail
    assert activities.totals(ObserverActivity.objects.all()).leads == 1
    # The bureau sees where the lead came from; the body it is assigned to sees the lead, not the meeting.
    supervisor_view = (
        client_for(s.supervisor).get(reverse("complaints:detail", args=[lead.pk])).content.decode()
    )
    assert reverse("complaints:activity_detail", args=[meeting.pk]) in supervisor_view
    s.assigned(lead)
    body_view = client_for(s.head).get(reverse("complaints:detail", args=[lead.pk])).content.decode()
    assert lead.title in body_view
    assert reverse("complaints:activity_detail", args=[meeting.pk]) not in body_view


def test_a_lead_cannot_claim_someone_else_s_meeting(s):
    meeting = record(user_for(Role.OBSERVER, region=s.minhang), place="闵行区某园区")
    response = client_for(s.observer).post(
        f"{reverse('complaints:observe')}?activity={meeting.pk}",
        {"source": "observer", "category": "other", "title": "t", "content": "c"},
    )
    assert response.status_code == 404
    for value in ("abc", "-1", "9" * 30, "1 OR 1=1"):
        response = client_for(s.observer).get(f"{reverse('complaints:observe')}?activity={value}")
        assert response.status_code == 404
    with pytest.raises(PermissionDenied):
        s.hotline(s.observer, source=Complaint.Source.OBSERVER, activity=meeting)
    assert not Complaint.objects.exists()


def test_the_list_filters_counts_and_exports_what_it_shows(s):
    old = record(s.observer, held_on=datetime.date(2026, 1, 5), place="山阳镇走访", kind="visit")
    new = record(s.observer)
    client = client_for(s.supervisor)
    page = client.get(reverse("complaints:activity_list")).content.decode()
    assert "山阳镇走访" in page and "金山区工商联三楼会议室" in page
    assert "<dt>走访企业</dt><dd>1次</dd>" in page and "<dt>参与企业</dt><dd>24家次</dd>" in page
    page = client.get(reverse("complaints:activity_list"), {"kind": "visit"}).content.decode()
    assert "山阳镇走访" in page and "金山区工商联三楼会议室" not in page
    assert "<dt>座谈会</dt><dd>0次</dd>" in page
    page = client.get(reverse("complaints:activity_list"), {"start": "2026-02-01", "end": "2026-01-01"})
    assert "日期起不能晚于日期止" in page.content.decode()
    response = client.get(reverse("complaints:activity_export"), {"kind": "meeting"})
    assert response.status_code == 200
    rows = workbook_rows(response)
    assert rows[0][:5] == ("形式", "日期", "地点", "组织单位", "参与企业数")
    assert len(rows) == 2 and rows[1][2] == new.place and rows[1][6] == PROBLEMS
    assert old.place not in {row[2] for row in rows}


def test_the_export_neutralises_formulas(s):
    record(s.observer, place='=HYPERLINK("http://x","点我")', problems="+1+1")
    response = client_for(s.observer).get(reverse("complaints:activity_export"))
    row = workbook_rows(response)[1]
    assert not str(row[2]).startswith("=") and not str(row[6]).startswith("+")


def test_the_form_saves_a_visit_and_shows_errors_in_chinese(s):
    client = client_for(s.observer)
    url = reverse("complaints:activity_create")
    assert "记录走访、座谈情况" in client.get(url).content.decode()
    response = client.post(url, {"kind": "visit", "held_on": "2026-13-40", "enterprise_count": "x"})
    assert response.status_code == 200 and not ObserverActivity.objects.exists()
    text = response.content.decode()
    assert "请填写地点" in text or "这个字段是必填项" in text
    response = client.post(
        url,
        {
            "kind": "visit",
            "held_on": (timezone.localdate() - datetime.timedelta(days=1)).isoformat(),
            "place": "金山工业区",
            "enterprise_count": "3",
            "problems": "企业反映检查通知太晚",
        },
    )
    activity = ObserverActivity.objects.get()
    assert response["Location"] == reverse("complaints:activity_detail", args=[activity.pk])
    assert activity.kind == "visit" and activity.enterprise_count == 3
    assert client_for(s.head).get(url).status_code == 403


def test_the_observers_home_asks_for_the_quarters_meeting_and_follows_his_leads(s):
    """An observer's home shows 本季度尚未记录走访或座谈 until he records one this quarter (a visit or meeting of
    an earlier quarter does not count), and his leads until they are closed; another observer's lead is not
    his to-do."""
    client = client_for(s.observer)
    today = timezone.localdate()
    first_of_quarter = datetime.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)

    def home() -> str:
        return client.get(reverse("core:home"), follow=True).content.decode()

    assert 'data-todo="observer_quarter_activity"' in home()
    record(s.observer, held_on=first_of_quarter - datetime.timedelta(days=1))  # last quarter's
    page = home()
    assert 'data-todo="observer_quarter_activity"' in page and "本季度尚未记录走访或座谈" in page
    assert 'data-todo="observer_leads_in_handling"' not in page
    meeting = record(s.observer, held_on=first_of_quarter)
    page = home()
    assert 'data-todo="observer_quarter_activity"' not in page

    other = user_for(Role.OBSERVER, region=s.jinshan)
    for author in (s.observer, other):
        complaints_services.register_complaint(
            author,
            source=Complaint.Source.OBSERVER,
            category=Complaint.Category.DISGUISED_INSPECTION,
            title=f"{author.username}：座谈会反映检查人员未出示检查码",
            content="座谈会上有企业反映，本月有检查人员上门未出示检查码。",
            body=s.body,
            activity=meeting if author == s.observer else None,
        )
    page = home()
    link = re.search(r'<a class="todo" href="([^"]+)" data-todo="observer_leads_in_handling">', page)
    assert link, "the observer's leads are not on his home page"
    ledger = client.get(link.group(1).replace("&amp;", "&")).content.decode()
    assert f"{s.observer.username}：座谈会反映" in ledger and f"{other.username}：座谈会反映" not in ledger
