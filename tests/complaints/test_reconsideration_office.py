"""Seed 003 二（一）1: 「加强与行政复议的协同联动，建立行政复议与执法监督线索互通机制」 — the reconsideration office
(行政复议机构) has its own role, enters its leads itself, and sees what became of them; the bureau's
supervisors are told, accept or return them."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jianchama.complaints import services
from jianchama.complaints.models import ReconsiderationLead
from jianchama.core.errors import PermissionDenied
from jianchama.core.roles import REGION_ROLES, Role
from jianchama.notifications.models import Notification
from jianchama.supervision import steps
from tests.factories import user_for

pytestmark = pytest.mark.django_db
L = ReconsiderationLead.Status


@pytest.fixture
def office(s):
    s.office = user_for(Role.RECONSIDERATION_OFFICE, region=s.jinshan, full_name="金山区行政复议机构经办人")
    s.mh_office = user_for(Role.RECONSIDERATION_OFFICE, region=s.minhang)
    return s


def register(s, actor, **overrides):
    args = {
        "case_number": "金府复〔2026〕31号",
        "body": s.body,
        "description": "复议审理中发现：入企检查未使用检查码，未告知陈述申辩权",
        "received_on": timezone.localdate(),
    }
    return services.register_lead(actor, **{**args, **overrides})


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_建立行政复议与执法监督线索互通机制_the_office_enters_its_lead_itself(office):
    """建立行政复议与执法监督线索互通机制: the office registers the lead in the platform (not through a
    supervisor), about a body of its district; the district's supervisors are told."""
    s = office
    assert Role.RECONSIDERATION_OFFICE in REGION_ROLES
    lead = register(s, s.office, task=s.notified())
    assert lead.registered_by == s.office and lead.status == L.REGISTERED
    [note] = Notification.objects.filter(user=s.supervisor, event="complaints.lead_registered")
    assert "金府复〔2026〕31号" in note.subject
    assert not Notification.objects.filter(user=s.mh_supervisor).exists()
    with pytest.raises(PermissionDenied):
        register(s, s.mh_office)  # another district's body
    for other in (s.intake, s.head, s.government, s.inspector_user):
        with pytest.raises(PermissionDenied):
            register(s, other)


def test_the_office_sees_what_became_of_its_leads_but_does_not_act_for_supervision(office):
    s = office
    lead = register(s, s.office)
    with pytest.raises(PermissionDenied):
        services.accept_lead(s.office, lead=lead)
    with pytest.raises(PermissionDenied):
        services.return_lead(s.office, lead=lead, note="自行反馈")
    lead = services.accept_lead(s.supervisor, lead=lead, title="未使用检查码", severity="medium")
    steps.warn_body(s.supervisor, finding=lead.finding, channel="phone", content="电话提醒：须使用检查码")
    assert list(ReconsiderationLead.objects.visible_to(s.office)) == [lead]
    assert not ReconsiderationLead.objects.visible_to(s.mh_office).exists()
    page = client_for(s.office).get(reverse("complaints:lead_list")).content.decode()
    assert "金府复〔2026〕31号" in page and "已转为监督问题" in page and "已预警" in page
    detail = client_for(s.office).get(reverse("complaints:lead_detail", args=[lead.pk])).content.decode()
    assert "未使用检查码" in detail and "已预警" in detail
    assert (
        reverse("supervision:finding_detail", args=[lead.finding_id]) not in detail
    )  # not the bureau's page
    assert 'action="/complaints/leads/' not in detail  # no accept/return form
    assert (
        client_for(s.office).get(reverse("supervision:finding_detail", args=[lead.finding_id])).status_code
        == 404
    )
    services.return_lead(s.supervisor, lead=lead, note="已预警提醒，跟踪整改中")
    detail = client_for(s.office).get(reverse("complaints:lead_detail", args=[lead.pk])).content.decode()
    assert "已预警提醒，跟踪整改中" in detail and "已反馈复议机构" in detail


def test_the_office_registers_through_the_page_and_its_menu_is_its_leads(office):
    s = office
    client = client_for(s.office)
    form = client.get(reverse("complaints:lead_create")).content.decode()
    assert s.body.name in form and s.other_body.name not in form
    response = client.post(
        reverse("complaints:lead_create"),
        {
            "case_number": "金府复〔2026〕32号",
            "body": s.body.pk,
            "description": "复议中发现检查频次明显过高",
            "received_on": timezone.localdate().isoformat(),
        },
    )
    lead = ReconsiderationLead.objects.get()
    assert response.status_code == 302 and lead.registered_by == s.office
    home = client.get("/").content.decode()
    nav = home[home.index('<nav class="nav nav-desktop"') : home.index("</nav>")]
    assert "复议线索" in nav and "检查任务" not in nav and "数据监督" not in nav


def test_a_registered_lead_is_a_to_do_for_the_bureau_and_a_waiting_item_for_the_office(office):
    """The home pages (F-46): the district's supervisors see 待核实的行政复议线索 and the office 已登记、待司法局核实的
    复议线索, each linking to the leads list narrowed to exactly those; accepted or returned, it leaves both
    homes. Another district's supervisors and office see nothing of it."""
    import re

    s = office
    waiting = register(s, s.office)
    accepted = services.accept_lead(
        s.supervisor, lead=register(s, s.office, case_number="金府复〔2026〕32号")
    )

    def todo(user, key):
        home = client_for(user).get(reverse("core:home"), follow=True).content.decode()
        match = re.search(
            rf'<a class="todo" href="([^"]+)" data-todo="{key}">\s*<span[^>]*>([^<]+)</span>', home
        )
        return (match.group(2), match.group(1).replace("&amp;", "&")) if match else None

    for user, key in (
        (s.supervisor, "reconsideration_leads_to_check"),
        (s.office, "reconsideration_leads_waiting"),
    ):
        count, url = todo(user, key)
        assert count == "1"
        listed = client_for(user).get(url).content.decode()
        assert waiting.case_number in listed and accepted.case_number not in listed
    assert todo(s.mh_supervisor, "reconsideration_leads_to_check") is None
    assert todo(s.mh_office, "reconsideration_leads_waiting") is None
    services.return_lead(s.supervisor, lead=waiting, note="非检查码相关问题，已反馈复议机构")
    assert todo(s.supervisor, "reconsideration_leads_to_check") is None
    assert todo(s.office, "reconsideration_leads_waiting") is None
