"""The enterprise's side of issue 14: "有人未出示检查码来检查" in one tap from the portal (a complaint of the
category 无码检查或检查码异常), and its yearly inspection count against the caps, by body."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from jianchama.complaints import services as complaint_services
from jianchama.complaints.models import Complaint
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.inspections import frequency
from jianchama.inspections.models import FrequencyRule
from jianchama.notifications.models import Notification
from tests.complaints.conftest import complaint_scenario

DAY = datetime.timedelta(days=1)


@pytest.fixture
def s(db, settings):
    settings.PORTAL_COMPLAINT_RATE_LIMIT = "100/h"
    return complaint_scenario()


def test_one_tap_on_the_portal_reports_an_inspection_without_a_code(client, s):
    client.force_login(s.contact)
    home = client.get(reverse("portal:home")).content.decode()
    assert "有人未出示检查码来检查，一键举报" in home
    assert f'action="{reverse("portal:report_no_code")}"' in home
    response = client.post(reverse("portal:report_no_code"), {"who": "", "note": ""}, follow=True)
    complaint = Complaint.objects.get()
    assert complaint.category == Complaint.Category.NO_CODE
    assert complaint.source == Complaint.Source.PORTAL
    assert complaint.enterprise == s.enterprise and complaint.complainant_enterprise == s.enterprise
    assert complaint.status == Complaint.Status.REGISTERED
    assert "未出示有效的检查码" in complaint.content
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("portal:complaint_detail", args=[complaint.pk])
    assert complaint.number in page and "企业有权拒绝" in page
    # The intake desk of the enterprise's district is told it waits to be assigned, and counts it at home.
    assert Notification.objects.filter(user=s.intake, event="complaint.received").exists()
    assert not Notification.objects.filter(user=s.mh_intake, event="complaint.received").exists()
    client.force_login(s.intake)
    assert 'data-todo="complaints_to_assign"' in client.get(reverse("core:home")).content.decode()


def test_the_report_may_say_who_came(client, s):
    client.force_login(s.contact)
    client.post(reverse("portal:report_no_code"), {"who": "某区城管执法队两名队员", "note": "上午十点到店"})
    complaint = Complaint.objects.get()
    assert "某区城管执法队两名队员" in complaint.title and "上午十点到店" in complaint.content


def test_too_long_is_said_and_nothing_is_filed(client, s):
    client.force_login(s.contact)
    response = client.post(reverse("portal:report_no_code"), {"who": "", "note": "很" * 501})
    assert response.status_code == 200
    assert "500" in response.content.decode()
    assert not Complaint.objects.exists()


def test_only_an_enterprise_contact_may_report(client, s):
    client.force_login(s.inspector_user)
    assert client.post(reverse("portal:report_no_code"), {}).status_code == 403
    with pytest.raises(PermissionDenied):
        complaint_services.report_inspection_without_code(s.head)
    with pytest.raises(DomainError):
        complaint_services.report_inspection_without_code(s.contact, who="人" * 101)
    assert not Complaint.objects.exists()


def test_the_report_page_works_on_its_own(client, s):
    client.force_login(s.contact)
    page = client.get(reverse("portal:report_no_code")).content.decode()
    assert "一键举报" in page and 'name="who"' in page


def test_yearly_count_against_the_cap_and_by_body(client, s):
    FrequencyRule.objects.create(
        name="各部门合计每年两次", scope="all_bodies", period="year", limit=2, action="justify"
    )
    FrequencyRule.objects.create(
        name="同一单位每年一次", scope="per_body", period="year", limit=1, action="warn"
    )
    s.recorded()
    s.notified(
        s.joint_draft(
            window_start=timezone.localdate() + 20 * DAY, window_end=timezone.localdate() + 22 * DAY
        )
    )
    s.draft()  # a draft is not counted
    year = frequency.enterprise_year(s.enterprise)
    assert year.total == 2 and year.cap == 2 and year.over_cap
    assert {(b.name, b.this_year) for b in year.bodies} == {(s.body.name, 2), (s.partner.name, 1)}
    client.force_login(s.contact)
    page = client.get(reverse("portal:home")).content.decode()
    section = page.split('id="frequency"')[1].split("<h2")[0]
    assert f"{timezone.localdate().year}年度已被检查 2 次" in section
    assert "各级各部门合计每年不超过 2 次" in section and "已达上限" in section
    assert "同一执法单位每年不超过 1 次" in section
    assert s.body.name in section and s.partner.name in section
    # Another enterprise's inspections are not its own.
    assert frequency.enterprise_year(s.other_enterprise).total == 0


def test_yearly_count_costs_a_fixed_number_of_queries(s, django_assert_num_queries):
    s.recorded()
    with django_assert_num_queries(4):
        frequency.enterprise_year(s.enterprise)
    s.recorded()
    s.recorded()
    with django_assert_num_queries(4):
        frequency.enterprise_year(s.enterprise)
