"""Logging in on a phone, in a real browser: staff with a password, enterprise contacts with an SMS code."""

import re

import pytest

from jianchama.core import sms
from jianchama.core.roles import Role
from tests.browser.conftest import fits_screen
from tests.factories import ContactFactory, EnterpriseFactory, user_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_logs_in_on_a_phone_and_sees_its_role(live_server, phone):
    user_for(Role.BODY_ADMIN, username="zhangsan", full_name="张三")
    phone.goto(f"{live_server.url}/login/")
    assert phone.locator("h1").inner_text() == "工作人员登录"
    assert fits_screen(phone)
    phone.fill("#id_username", "zhangsan")
    phone.fill("#id_password", "wrong-password")
    phone.click("button[type=submit]")
    assert phone.locator(".errorlist, .msg.error").count() >= 1
    phone.fill("#id_username", "zhangsan")
    phone.fill("#id_password", "demo-pass-123")
    phone.click("button[type=submit]")
    phone.wait_for_url(f"{live_server.url}/")
    assert "您好，张三" in phone.locator("h1").inner_text()
    assert "执法单位管理员" in phone.content()
    assert fits_screen(phone)


def test_enterprise_contact_logs_in_with_sms_code(live_server, phone):
    enterprise = EnterpriseFactory(name="上海金山燃气供应站有限公司")
    ContactFactory(enterprise=enterprise, phone="13912345678")
    user_for(Role.ENTERPRISE_CONTACT, enterprise=enterprise, phone="13912345678", full_name="王经理")
    phone.goto(f"{live_server.url}/login/phone/")
    assert fits_screen(phone)
    phone.fill("#id_phone", "13912345678")
    phone.click("button[type=submit]")
    phone.wait_for_selector("#id_code")
    assert len(sms.outbox) == 1 and sms.outbox[0].phone == "13912345678"
    code = re.search(r"\d{6}", sms.outbox[0].text).group()
    phone.fill("#id_code", code)
    phone.click("button[type=submit]")
    phone.wait_for_url(f"{live_server.url}/portal/")  # the enterprise's home is its portal
    assert "上海金山燃气供应站有限公司" in phone.content()
    assert fits_screen(phone)
