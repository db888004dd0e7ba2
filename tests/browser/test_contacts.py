"""An enterprise adds a contact on a phone, in a real browser: the legal representative's SMS code approves it
(issue 10, item 1)."""

import re

import pytest

from jianchama.core import sms
from jianchama.core.roles import Role
from jianchama.registry.models import EnterpriseContact
from tests.browser.conftest import fits_screen
from tests.factories import ContactFactory, EnterpriseFactory, user_for

pytestmark = pytest.mark.django_db(transaction=True)


def code_for(phone_number: str) -> str:
    [message] = [m for m in sms.outbox if m.phone == phone_number]
    return re.search(r"\b\d{6}\b", message.text).group()  # the code, not the digits of a phone number


def test_enterprise_adds_a_contact_with_the_representatives_code(live_server, phone):
    enterprise = EnterpriseFactory(name="上海金山燃气供应站有限公司")
    ContactFactory(enterprise=enterprise, kind="legal_representative", name="王总", phone="13900000001")
    ContactFactory(enterprise=enterprise, kind="on_site", name="李经理", phone="13912345678")
    user_for(Role.ENTERPRISE_CONTACT, enterprise=enterprise, phone="13912345678", full_name="李经理")
    phone.goto(f"{live_server.url}/login/phone/")
    phone.fill("#id_phone", "13912345678")
    phone.click("button[type=submit]")
    phone.wait_for_selector("#id_code")
    phone.fill("#id_code", code_for("13912345678"))
    phone.click("button[type=submit]")
    phone.wait_for_url(f"{live_server.url}/portal/")  # the enterprise's home is its portal

    phone.goto(f"{live_server.url}/portal/")
    phone.click("text=我的联系人")
    phone.wait_for_url(f"{live_server.url}/portal/contacts/")
    assert "王总" in phone.content() and "139****0001" in phone.content()
    assert fits_screen(phone)
    phone.fill("#id_name", "新同事")
    phone.fill("#id_phone", "13900000003")
    phone.click("text=发送验证码给法定代表人")
    phone.wait_for_selector("#id_code")
    assert "验证码已发送至法定代表人王总的手机" in phone.content()
    assert not EnterpriseContact.objects.filter(phone="13900000003").exists()
    assert fits_screen(phone)
    phone.fill("#id_code", code_for("13900000001"))
    phone.click("text=确认添加")
    phone.wait_for_selector("text=已添加联系人新同事")
    assert EnterpriseContact.objects.get(phone="13900000003").kind == "on_site"
    told = sorted(m.phone for m in sms.outbox if "新同事" in m.text and "已将" in m.text)
    assert told == ["13900000001", "13912345678"]
