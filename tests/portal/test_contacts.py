"""Who manages an enterprise's logins (issue 10, item 1).

A contact's phone logs in as the enterprise. Only the platform administrator and the enterprise itself (on
the portal, with a code sent to its legal representative's phone on record) may add one; enforcement bodies
never, whether they inspect the enterprise or not. Every change is told by SMS to the representative and the
other contacts and is in the audit log.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from jianchama.complaints.models import Complaint
from jianchama.core import sms
from jianchama.core.models import AuditEvent, LoginCode, User
from jianchama.core.roles import Role
from jianchama.inspections.models import Evaluation
from jianchama.registry import services
from jianchama.registry.models import EnterpriseContact
from tests.factories import ContactFactory, user_for
from tests.inspections.conftest import build_scenario

pytestmark = pytest.mark.django_db

ATTACKER = "13700000666"
REPRESENTATIVE = "13900000001"  # s.contact: the enterprise's legal representative on record, logged in
SCORES = {
    "overall": 5,
    "certificate_shown": 5,
    "rights_told": 5,
    "conduct": 5,
    "efficiency": 5,
    "integrity": 5,
}
CONTACTS = "/portal/contacts/"
REQUEST = "/portal/contacts/new/"
CONFIRM = "/portal/contacts/confirm/"


@pytest.fixture
def s(db):
    return build_scenario()


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def code_sent_to(phone: str) -> str:
    [message] = [m for m in sms.outbox if m.phone == phone]
    return re.search(r"\b(\d{6})\b", message.text).group(1)


def log_in_by_phone(client, phone, django_capture_on_commit_callbacks) -> bool:
    """The enterprise login as anyone holding the phone would do it: ask for a code, type what arrived."""
    client.logout()
    sms.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("core:phone_login"), {"phone": phone})
    codes = [re.search(r"\b(\d{6})\b", m.text).group(1) for m in sms.outbox if m.phone == phone]
    client.post(reverse("core:phone_login"), {"phone": phone, "code": codes[0] if codes else "000000"})
    return client.session.get("_auth_user_id") is not None


# --- The attack of the issue, closed ------------------------------------------------------------------


@pytest.mark.parametrize("who", ["head", "partner_head"], ids=["inspecting_body_admin", "other_body_admin"])
def test_a_body_admin_cannot_become_the_enterprise(client, s, who, django_capture_on_commit_callbacks):
    """Add a contact → log in with its phone → read evaluations and complaints → rate the body's own
    inspection: every step of the chain is refused, and nothing is saved."""
    task = s.recorded()
    client.force_login(s.contact)
    client.post(
        reverse("portal:complaint_create"),
        {"category": "misconduct", "title": "检查人员态度恶劣", "content": "具体情况", "task": task.pk},
    )
    assert Complaint.objects.filter(complainant_enterprise=s.enterprise).exists()
    body_admin = getattr(s, who)  # the admin of the inspecting body, or of another body of the district
    client.force_login(body_admin)
    page = text(client.get(reverse("registry:enterprise_detail", args=[s.enterprise.pk])))
    assert reverse("registry:contact_create", args=[s.enterprise.pk]) not in page
    assert reverse("registry:contact_remove", args=[s.enterprise.contacts.get().pk]) not in page

    response = client.post(
        reverse("registry:contact_create", args=[s.enterprise.pk]),
        {"kind": "on_site", "name": "冒名联系人", "phone": ATTACKER},
    )
    assert response.status_code == 403
    assert "执法单位人员不能添加、修改或移除" in text(response)
    assert not EnterpriseContact.objects.filter(phone=ATTACKER).exists()
    assert not User.objects.filter(phone=ATTACKER).exists()

    assert not log_in_by_phone(client, ATTACKER, django_capture_on_commit_callbacks)
    assert sms.outbox == []  # no code was even sent
    assert client.get("/portal/").status_code == 302
    assert client.get(reverse("portal:complaint_list")).status_code == 302
    client.post(f"/portal/tasks/{task.pk}/", {"form": "evaluation", **SCORES})
    assert not Evaluation.objects.exists()


@pytest.mark.parametrize("role", [Role.BODY_ADMIN, Role.INSPECTOR, Role.CITY_REVIEWER, Role.SUPERVISOR])
def test_no_staff_but_the_platform_admin_manages_contacts_in_the_services(s, role):
    actor = {
        Role.BODY_ADMIN: s.head,
        Role.INSPECTOR: s.inspector_user,
        Role.CITY_REVIEWER: s.city_reviewer,
        Role.SUPERVISOR: s.supervisor,
    }[role]
    contact = s.enterprise.contacts.get()
    with pytest.raises(services.PermissionDenied, match="执法单位人员不能添加、修改或移除"):
        services.add_contact(actor, enterprise=s.enterprise, kind="on_site", name="某人", phone=ATTACKER)
    with pytest.raises(services.PermissionDenied):
        services.remove_contact(actor, contact=contact)
    assert list(s.enterprise.contacts.all()) == [contact]
    assert not User.objects.filter(phone=ATTACKER).exists()


def test_the_platform_admin_adds_and_everyone_on_record_is_told(s, django_capture_on_commit_callbacks):
    ContactFactory(enterprise=s.enterprise, kind="on_site", name="现场甲", phone="13900000002")
    admin = user_for(Role.PLATFORM_ADMIN)
    with django_capture_on_commit_callbacks(execute=True):
        services.add_contact(
            admin, enterprise=s.enterprise, kind="on_site", name="现场乙", phone="13900000003"
        )
    told = {m.phone: m.text for m in sms.outbox}
    assert set(told) == {REPRESENTATIVE, "13900000002"}
    assert (
        "平台管理员已将现场乙（手机号139****0003，现场负责人）添加为“金山燃气有限公司”的联系人"
        in told[REPRESENTATIVE]
    )
    assert AuditEvent.objects.filter(action="contact.add", object_repr__startswith="现场乙").exists()


# --- The enterprise on the portal ---------------------------------------------------------------------


def test_the_portal_lists_the_contacts(client, s):
    ContactFactory(enterprise=s.enterprise, kind="on_site", name="现场甲", phone="13900000002")
    client.force_login(s.contact)
    assert "我的联系人" in text(client.get("/portal/"))
    page = text(client.get(CONTACTS))
    assert "王经理" in page and "法定代表人" in page and "现场甲" in page and "13900000002" in page
    assert "139****0001" in page and "发送验证码给法定代表人" in page


def test_the_enterprise_adds_a_contact_with_the_representatives_code(
    client, s, django_capture_on_commit_callbacks
):
    onsite = ContactFactory(enterprise=s.enterprise, kind="on_site", name="现场甲", phone="13900000002")
    client.force_login(user_for(Role.ENTERPRISE_CONTACT, enterprise=s.enterprise, phone=onsite.phone))
    with django_capture_on_commit_callbacks(execute=True):
        page = text(client.post(REQUEST, {"name": "新同事", "phone": "13900000003"}))
    assert "验证码已发送至法定代表人王经理的手机（139****0001）" in page
    [message] = sms.outbox
    assert message.phone == REPRESENTATIVE and "新同事（手机号13900000003）" in message.text
    assert not EnterpriseContact.objects.filter(phone="13900000003").exists()  # nothing until the code
    code = code_sent_to(REPRESENTATIVE)
    sms.outbox.clear()

    wrong = "000000" if code != "000000" else "111111"
    page = text(client.post(CONFIRM, {"name": "新同事", "phone": "13900000003", "code": wrong}))
    assert "验证码不正确，还可以再试 4 次" in page
    # The code approves this person and phone only: a swapped phone is refused even with the right code.
    page = text(client.post(CONFIRM, {"name": "新同事", "phone": ATTACKER, "code": code}))
    assert "验证码不正确" in page
    assert not EnterpriseContact.objects.filter(phone__in=["13900000003", ATTACKER]).exists()
    assert not User.objects.filter(phone__in=["13900000003", ATTACKER]).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(CONFIRM, {"name": "新同事", "phone": "13900000003", "code": code}, follow=True)
    assert "已添加联系人新同事" in text(response)
    contact = EnterpriseContact.objects.get(phone="13900000003")
    assert (contact.enterprise, contact.kind) == (s.enterprise, "on_site")
    assert {m.phone for m in sms.outbox} == {REPRESENTATIVE, onsite.phone}
    assert all("本企业联系人" in m.text and "新同事" in m.text for m in sms.outbox)
    event = AuditEvent.objects.get(action="contact.add")
    assert event.actor.phone == onsite.phone
    assert event.after["approved_by_legal_representative"] == "王经理（139****0001）"
    # The code is spent, and the new contact logs in with their own phone.
    page = text(client.post(CONFIRM, {"name": "新同事", "phone": "13900000003", "code": code}))
    assert "该验证码已使用过" in page or "已是本企业的联系人" in page
    assert log_in_by_phone(client, "13900000003", django_capture_on_commit_callbacks)


def test_an_expired_representatives_code_is_refused(client, s, django_capture_on_commit_callbacks):
    client.force_login(s.contact)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(REQUEST, {"name": "新同事", "phone": "13900000003"})
    code = code_sent_to(REPRESENTATIVE)
    LoginCode.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    page = text(client.post(CONFIRM, {"name": "新同事", "phone": "13900000003", "code": code}))
    assert "验证码已过期，请重新获取" in page
    assert not EnterpriseContact.objects.filter(phone="13900000003").exists()


def test_the_approval_code_does_not_log_in_and_shares_the_login_limits(
    client, s, django_capture_on_commit_callbacks
):
    client.force_login(s.contact)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(REQUEST, {"name": "新同事", "phone": "13900000003"})
    code = code_sent_to(REPRESENTATIVE)
    client.logout()
    client.post(reverse("core:phone_login"), {"phone": REPRESENTATIVE, "code": code})
    assert client.session.get("_auth_user_id") is None  # an approval is not a login
    client.force_login(s.contact)
    page = text(client.post(REQUEST, {"name": "新同事", "phone": "13900000003"}))
    assert "验证码发送过于频繁" in page  # one cool-down per phone, whatever the code is for


def test_without_a_representatives_phone_adding_is_impossible(client, s):
    client.force_login(s.other_contact)  # 金山另一燃气公司: no legal representative on record
    page = text(client.get(CONTACTS))
    assert "没有登记法定代表人的手机号，无法通过短信验证添加联系人" in page and "联系平台管理员" in page
    page = text(client.post(REQUEST, {"name": "新同事", "phone": "13900000003"}))
    assert "没有登记法定代表人的手机号" in page
    assert sms.outbox == [] and not LoginCode.objects.exists()
    with pytest.raises(services.DomainError, match="没有登记法定代表人的手机号"):
        services.add_contact(
            s.other_contact,
            enterprise=s.other_enterprise,
            kind="on_site",
            name="新同事",
            phone="13900000003",
            representative_code="123456",
        )
    assert not EnterpriseContact.objects.filter(phone="13900000003").exists()


def test_the_enterprise_cannot_name_a_legal_representative_or_skip_the_code(s):
    with pytest.raises(services.DomainError, match="企业端只能添加现场负责人"):
        services.add_contact(
            s.contact, enterprise=s.enterprise, kind="legal_representative", name="新法人", phone=ATTACKER
        )
    with pytest.raises(services.DomainError, match="请填写法定代表人手机收到的验证码"):
        services.add_contact(s.contact, enterprise=s.enterprise, kind="on_site", name="某人", phone=ATTACKER)
    assert not EnterpriseContact.objects.filter(phone=ATTACKER).exists()


def test_the_enterprise_removes_a_contact_and_everyone_is_told(client, s, django_capture_on_commit_callbacks):
    onsite = ContactFactory(enterprise=s.enterprise, kind="on_site", name="现场甲", phone="13900000002")
    ContactFactory(enterprise=s.enterprise, kind="on_site", name="现场乙", phone="13900000003")
    account = user_for(Role.ENTERPRISE_CONTACT, enterprise=s.enterprise, phone=onsite.phone)
    client.force_login(s.contact)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:contact_remove", args=[onsite.pk]), follow=True)
    assert "已移除联系人现场甲" in text(response)
    assert not EnterpriseContact.objects.filter(pk=onsite.pk).exists()
    account.refresh_from_db()
    assert account.is_active is False
    assert {m.phone for m in sms.outbox} == {REPRESENTATIVE, "13900000002", "13900000003"}
    assert all(
        "已将现场甲（手机号139****0002，现场负责人）从“金山燃气有限公司”的联系人中移除" in m.text
        for m in sms.outbox
    )
    assert AuditEvent.objects.filter(action="contact.remove").exists()
    # The legal representative's record approves new contacts: the portal does not remove it.
    representative = s.enterprise.contacts.get(kind="legal_representative")
    response = client.post(reverse("portal:contact_remove", args=[representative.pk]), follow=True)
    assert "企业端不能移除" in text(response)
    assert EnterpriseContact.objects.filter(pk=representative.pk).exists()


def test_an_enterprise_cannot_manage_another_enterprises_contacts(client, s):
    onsite = ContactFactory(enterprise=s.enterprise, kind="on_site", name="现场甲", phone="13900000002")
    client.force_login(s.other_contact)
    assert client.post(reverse("portal:contact_remove", args=[onsite.pk])).status_code == 404
    assert "现场甲" not in text(client.get(CONTACTS))
    with pytest.raises(services.PermissionDenied):
        services.remove_contact(s.other_contact, contact=onsite)
    with pytest.raises(services.PermissionDenied):
        services.add_contact(
            s.other_contact,
            enterprise=s.enterprise,
            kind="on_site",
            name="某人",
            phone=ATTACKER,
            representative_code="123456",
        )
    # Nor through the registry pages, which are for the platform administrator.
    response = client.post(
        reverse("registry:contact_create", args=[s.enterprise.pk]),
        {"kind": "on_site", "name": "某人", "phone": ATTACKER},
    )
    assert response.status_code in (403, 404)
    assert EnterpriseContact.objects.filter(pk=onsite.pk).exists()
    assert not EnterpriseContact.objects.filter(phone=ATTACKER).exists()
