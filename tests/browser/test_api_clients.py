"""The API's pages on a phone (issue 12: "the client list, the key shown once, the delivery log, all on a phone
too"), in a real Chromium against the live server: a body's administrator registers his system's client, copies
the key shown once, the key works on the API, the webhook the system registers and its delivery log read in
Chinese, a rotation shows the new key once; every page fits the screen, shows no raw key and passes axe-core."""

from __future__ import annotations

import httpx
import pytest
from django.urls import reverse

from jianchama.core.roles import Role
from jianchama.integrations.models import ApiClient, Webhook, WebhookDelivery
from tests.browser.test_every_page import check_page
from tests.browser.test_inspection_code import no_horizontal_scroll, staff_login
from tests.factories import user_for

pytestmark = pytest.mark.django_db(transaction=True)


def checked(page, url: str, tmp_path) -> None:
    problems: list[str] = []
    check_page(
        page,
        url,
        tmp_path / "shot.png",
        problems,
        {"axe_pages": 0, "axe_serious_or_critical": 0, "timings": []},
    )
    assert not problems, problems


def test_a_body_admin_connects_his_system_on_a_phone(settings, tmp_path, live_server, phone):
    settings.API_WEBHOOK_ALLOW_HTTP = True  # the receiver below is plain HTTP on this machine
    admin = user_for(Role.BODY_ADMIN)
    base = live_server.url
    staff_login(phone, base, admin.username)

    phone.goto(f"{base}{reverse('integrations:client_list')}")
    assert "尚未登记接口客户端" in phone.inner_text("main")
    phone.click('a.btn:has-text("登记接口客户端")')
    phone.fill("#id_name", "金山区市场监管综合执法系统")
    phone.fill("#id_vendor", "上海某某信息技术有限公司")
    phone.fill("#id_contact", "李工 13900000000")
    for box in phone.locator("input[name=scopes]").all():
        box.check()
    phone.click('button:has-text("登记并生成密钥")')
    phone.wait_for_selector("#key-once")
    key = phone.inner_text("#key-once code").strip()
    assert key.startswith("jck_") and "只显示这一次" in phone.inner_text("#key-once")
    assert no_horizontal_scroll(phone)
    client = ApiClient.objects.get(body=admin.body)
    assert client.keys.count() == 1 and key not in str(client.keys.get().secret_hash)

    # The key works; the system registers where it wants events pushed.
    auth = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{base}/api/v1/tasks", headers=auth).status_code == 200
    hook = httpx.post(
        f"{base}/api/v1/webhooks",
        headers=auth,
        json={"url": "http://127.0.0.1:9/hook", "events": ["task.status_changed", "scan.recorded"]},
    )
    assert hook.status_code in (200, 201), hook.text
    WebhookDelivery.objects.create(
        webhook=Webhook.objects.get(client=client),
        event="task.status_changed",
        payload={"task": "demo"},
        status=WebhookDelivery.Status.FAILED,
        attempts=3,
        last_error="连接被拒绝",
    )

    # Shown once: the detail page read again has no key, but the webhook and its log, in Chinese.
    detail = f"{base}{reverse('integrations:client_detail', args=[client.pk])}"
    phone.goto(detail)
    assert phone.locator("#key-once").count() == 0 and key not in phone.content()
    text = phone.inner_text("main")
    assert "任务状态变化、企业扫码" in text and "发送失败" in text and "连接被拒绝" in text
    assert "task.status_changed" not in text
    checked(phone, detail, tmp_path)
    checked(phone, f"{base}{reverse('integrations:client_list')}", tmp_path)
    assert "创建和办理检查任务" in phone.inner_text("main")
    checked(phone, f"{base}{reverse('integrations:client_create')}", tmp_path)

    # A rotation shows the new key once; both keys work through the grace period.
    phone.goto(detail)
    phone.click('button:has-text("轮换密钥")')
    phone.wait_for_selector("#key-once")
    new_key = phone.inner_text("#key-once code").strip()
    assert new_key != key and "已签发新密钥" in phone.inner_text("main")
    for k in (key, new_key):
        assert httpx.get(f"{base}/api/v1/tasks", headers={"Authorization": f"Bearer {k}"}).status_code == 200
