"""The inspection code end to end: rendered to a PNG, decoded back by a real decoder (zxing-cpp), and the URL in
the QR opened on a phone in a real headless Chromium. Genuine, forged (one character changed), revoked, stale,
completed and another enterprise's code each get their page, and every scan is logged."""

from __future__ import annotations

import contextlib
import datetime
import io
import re
from types import SimpleNamespace

import pytest
import zxingcpp
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from jianchama.core import conduct, sms
from jianchama.core.roles import Role
from jianchama.inspections import qr, services, signing
from jianchama.inspections.models import CodeReport, Finding, InspectionRecord, Scan, Task
from tests.factories import (
    BodyFactory,
    CertificateFactory,
    ContactFactory,
    EnterpriseFactory,
    FieldFactory,
    InspectorFactory,
    ItemFactory,
    filed_plan,
    user_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
PASSWORD = "demo-pass-123"  # what tests.factories.UserFactory sets
PHONE_CONTEXT = {
    "viewport": {"width": 375, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
    "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
}
DESKTOP_CONTEXT = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}


# --- The world, and helpers the story test shares --------------------------------------------------------


def build_world() -> SimpleNamespace:
    """Jinshan's gas body with two published items, two certified inspectors with accounts and a head; an
    enterprise with a contact who has an account, and a second enterprise with its own contact."""
    w = SimpleNamespace()
    w.gas = FieldFactory()
    w.body = BodyFactory(name="金山区建设和管理委员会", fields=[w.gas])
    w.item = ItemFactory(
        name="燃气经营许可情况检查",
        field=w.gas,
        bodies=[w.body],
        checklist=["是否取得燃气经营许可证", "是否按许可范围经营"],
    )
    w.item2 = ItemFactory(
        name="燃气设施安全运行检查", field=w.gas, bodies=[w.body], checklist=["储罐区安全间距是否符合要求"]
    )
    w.inspectors = []
    for name, number in (("张三", "31011600000101"), ("李四", "31011600000102")):
        user = user_for(Role.INSPECTOR, body=w.body, full_name=name, username=f"inspector-{number[-3:]}")
        inspector = InspectorFactory(name=name, body=w.body, user=user)
        inspector.certificate = CertificateFactory(inspector=inspector, number=number)
        w.inspectors.append(inspector)
    w.inspector, w.inspector2 = w.inspectors
    w.inspector_user = w.inspector.user
    w.head = user_for(Role.BODY_ADMIN, body=w.body, full_name="金山建管委负责人", username="jinshan-head")
    w.enterprise = EnterpriseFactory(name="金山燃气有限公司", region=w.body.region)
    ContactFactory(enterprise=w.enterprise, name="王经理", phone="13900000001")
    w.contact = user_for(
        Role.ENTERPRISE_CONTACT, enterprise=w.enterprise, phone="13900000001", full_name="王经理"
    )
    w.other_enterprise = EnterpriseFactory(name="金山另一燃气公司", region=w.body.region)
    ContactFactory(enterprise=w.other_enterprise, name="赵经理", phone="13900000002")
    w.other_contact = user_for(
        Role.ENTERPRISE_CONTACT, enterprise=w.other_enterprise, phone="13900000002", full_name="赵经理"
    )
    return w


def notified_task(w: SimpleNamespace) -> Task:
    """A task taken to 已告知企业 by the real services: created and submitted by the inspector, approved by the head."""
    today = timezone.localdate()
    task = services.create_task(
        w.inspector_user,
        enterprise=w.enterprise,
        items=[w.item, w.item2],
        inspectors=w.inspectors,
        legal_basis="《城镇燃气管理条例》第十五条",
        kind=Task.Kind.ROUTINE,
        plan=filed_plan(w.inspector_user.body, items=[w.item, w.item2]),
        window_start=today,
        window_end=today + datetime.timedelta(days=10),
    )
    services.submit_task(w.inspector_user, task=task)
    task = services.approve_task(w.head, task=task)
    assert task.status == Task.Status.NOTIFIED
    return Task.objects.get(pk=task.pk)


def decode_qr(image: Image.Image) -> str:
    """The text of the one QR code in `image`, read by zxing-cpp.

    Only QR codes are looked for: with every format enabled, zxing-cpp now and then reads a false linear
    barcode (ITF, UPC-E, Codabar) out of a QR code's modules — 13 of 3,000 random tokens here."""
    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(results) == 1, f"expected one QR code, zxing-cpp found {len(results)}"
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode
    return results[0].text


def scanned_url(token: str) -> str:
    """What a phone's camera reads from the code of `token`: the PNG rendered and decoded back."""
    png = qr.qr_png(signing.qr_content(token))
    text = decode_qr(Image.open(io.BytesIO(png)))
    assert text == signing.qr_content(token)
    return text


@contextlib.contextmanager
def person(browser, kind: str = "phone"):
    """A browser context of its own for one person (own cookies), a phone or a desktop; yields its page."""
    context = browser.new_context(**(PHONE_CONTEXT if kind == "phone" else DESKTOP_CONTEXT))
    try:
        yield context.new_page()
    finally:
        context.close()


def staff_login(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def contact_login(page, base_url: str, phone: str) -> None:
    """An enterprise contact logs in with the SMS code (captured by the locmem SMS backend)."""
    page.goto(f"{base_url}/login/phone/")
    page.fill("#id_phone", phone)
    page.click("button[type=submit]")
    page.wait_for_selector("#id_code")
    texts = [message.text for message in sms.outbox if message.phone == phone and "验证码" in message.text]
    assert texts, f"no login code was sent to {phone}"
    page.fill("#id_code", re.search(r"\d{6}", texts[-1]).group())
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/portal/")  # the enterprise's home is its portal


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def verdict(page) -> str:
    return page.locator("#verdict").inner_text()


def outcomes() -> list[str]:
    return list(Scan.objects.order_by("pk").values_list("outcome", flat=True))


def flip(url: str, position: int, replacement: str | None = None) -> str:
    """`url` with the token's character at `position` changed: to `replacement`, or to another base32 letter."""
    prefix, token = url.rsplit("/", 1)
    old = token[position]
    new = replacement or next(c for c in "QRSTUVWXYZ" if c != old)
    assert new != old
    return f"{prefix}/{token[:position]}{new}{token[position + 1 :]}"


# --- The tests ---------------------------------------------------------------------------------------------


@pytest.fixture
def w(settings, live_server) -> SimpleNamespace:
    # The QR must hold a URL the test's Chromium can open.
    settings.CODE_BASE_URL = live_server.url
    return build_world()


def test_genuine_code_decoded_from_png_opens_the_verification_page_on_a_phone(w, live_server, phone):
    task = notified_task(w)
    token = services.current_token(w.inspector_user, task=task)
    url = scanned_url(token)
    assert url.startswith(f"{live_server.url.upper()}/C/") and len(url.rsplit("/", 1)[1]) == 125

    requests = []
    phone.on("request", lambda request: requests.append(request.url))
    response = phone.goto(url)
    assert response.status == 200

    assert "检查码真实有效" in verdict(phone)
    text = phone.locator("main").inner_text()
    assert "金山区建设和管理委员会" in text
    for inspector in w.inspectors:
        assert inspector.name in text
        assert f"执法证号 {inspector.certificate.number}" in text
    assert "燃气经营许可情况检查" in text and "燃气设施安全运行检查" in text
    assert "《城镇燃气管理条例》第十五条" in text
    assert task.number in text
    assert services.RIGHTS_TEXT in text
    assert len(conduct.FIVE_PROHIBITIONS) == 5
    for prohibition in conduct.FIVE_PROHIBITIONS:
        assert prohibition.text in text
    assert phone.locator("a", has_text="举报").count() == 0  # nothing to report about a genuine code

    # Light enough for a messaging app's browser on a weak signal: one small page, no script, nothing else.
    assert len(response.body()) < 60 * 1024
    assert phone.locator("script").count() == 0
    assert len(requests) == 1, requests
    assert no_horizontal_scroll(phone)

    # An anonymous scan is logged but does not start the visit: only the enterprise's own contact does.
    scan = Scan.objects.get()
    assert (scan.outcome, scan.code_id, scan.enterprise_id) == (Scan.Outcome.GENUINE, task.code.pk, None)
    assert scan.client_hash == services.client_hash("127.0.0.1")  # keyed hash of the address, not the address
    assert Task.objects.get(pk=task.pk).status == Task.Status.NOTIFIED


@pytest.mark.parametrize(
    ("position", "replacement"),
    [
        pytest.param(5, None, id="letter-in-code-id"),  # still base32: the signature no longer verifies
        pytest.param(60, "1", id="digit-in-signature"),  # '1' is not base32 at all
    ],
)
def test_one_flipped_character_is_forged_and_can_be_reported(w, live_server, phone, position, replacement):
    task = notified_task(w)
    genuine = scanned_url(services.current_token(w.inspector_user, task=task))
    forged = flip(genuine, position, replacement)
    assert forged != genuine and len(forged) == len(genuine)

    response = phone.goto(forged)
    assert response.status == 200
    assert "检查码验证失败" in verdict(phone)
    assert "企业有权拒绝" in verdict(phone)
    # Nothing of the task is shown for a forged code.
    assert "金山区建设和管理委员会" not in phone.content()
    assert "张三" not in phone.content()
    assert services.RIGHTS_TEXT in phone.content()
    assert no_horizontal_scroll(phone)

    phone.click("a:has-text('举报')")
    phone.wait_for_url(re.compile(r"/c/report/"))
    assert phone.locator("h1").inner_text() == "举报可疑检查码"
    assert "验证失败（疑似伪造）" in phone.content()
    phone.fill("#id_contact_phone", "13911112222")
    phone.fill("#id_description", "来人自称燃气执法，出示的二维码无法核验")
    phone.click("button[type=submit]")
    phone.wait_for_selector("text=举报已收到")
    assert no_horizontal_scroll(phone)

    scan = Scan.objects.get()
    assert (scan.outcome, scan.code_id) == (Scan.Outcome.FORGED, None)
    report = CodeReport.objects.get()
    assert report.scan == scan
    assert report.contact_phone == "13911112222"
    assert report.description == "来人自称燃气执法，出示的二维码无法核验"


def test_revoked_code(w, live_server, phone):
    task = notified_task(w)
    url = scanned_url(services.current_token(w.inspector_user, task=task))
    services.cancel_task(w.head, task=task, reason="企业已停业")

    phone.goto(url)
    assert "已作废" in verdict(phone)
    assert "任务已被取消" in verdict(phone)
    assert phone.locator("a", has_text="举报").count() == 1
    assert no_horizontal_scroll(phone)
    assert outcomes() == [Scan.Outcome.REVOKED]
    assert Scan.objects.get().code_id == task.code.pk


def test_stale_code(w, live_server, phone):
    task = notified_task(w)
    ten_minutes_ago = timezone.now() - datetime.timedelta(minutes=10)
    url = scanned_url(signing.issue_token(task.code.public_id, now=ten_minutes_ago))

    phone.goto(url)
    assert "二维码已刷新" in verdict(phone)
    # The task behind a screenshot is real; the page says whose it is, without the people.
    assert "金山区建设和管理委员会" in verdict(phone)
    assert "张三" not in phone.content()
    assert no_horizontal_scroll(phone)
    assert outcomes() == [Scan.Outcome.STALE]
    assert Task.objects.get(pk=task.pk).status == Task.Status.NOTIFIED


def test_completed_code_links_to_the_result(w, live_server, phone):
    task = notified_task(w)
    services.check_in(w.inspector_user, task=task)
    url = scanned_url(services.current_token(w.inspector_user, task=task))
    services.record_result(
        w.inspector_user,
        task=task,
        outcome=InspectionRecord.Outcome.NO_PROBLEM,
        summary="现场检查燃气经营许可证及储罐区，未发现问题",
        findings=[
            services.FindingInput(item=item, entry=entry, result=Finding.Result.COMPLIANT)
            for item in task.items.all()
            for entry in item.checklist
        ],
    )

    phone.goto(url)
    assert "本次检查已完成" in verdict(phone)
    link = phone.locator("a", has_text="查看检查结果并评议")
    result_path = reverse("portal:task_detail", args=[task.pk])
    assert link.get_attribute("href") == result_path
    assert "需以企业联系人身份用手机号登录" in phone.content()
    assert no_horizontal_scroll(phone)
    # Not logged in: the link leads to the contact's phone login first.
    link.click()
    phone.wait_for_url(re.compile(r"/login/phone/"))
    assert result_path in phone.url
    assert outcomes() == [Scan.Outcome.COMPLETED]


def test_another_enterprise_contact_is_told_it_is_not_its_code(w, live_server, phone):
    task = notified_task(w)
    url = scanned_url(services.current_token(w.inspector_user, task=task))
    contact_login(phone, live_server.url, w.other_contact.phone)

    phone.goto(url)
    assert "这不是贵企业的检查码" in verdict(phone)
    assert "张三" not in phone.content()
    assert phone.locator("a", has_text="举报").count() == 1
    assert no_horizontal_scroll(phone)
    scan = Scan.objects.get()
    assert (scan.outcome, scan.enterprise_id) == (Scan.Outcome.WRONG_ENTERPRISE, w.other_enterprise.pk)
    # Another enterprise's scan never starts the visit.
    assert Task.objects.get(pk=task.pk).status == Task.Status.NOTIFIED


def test_every_scan_is_logged_with_its_outcome(w, live_server, phone):
    """One task, scanned as the enterprise would meet it over a day: a screenshot, a forgery, the real code,
    the result; then another task's code after it was cancelled."""
    task = notified_task(w)
    stale = scanned_url(
        signing.issue_token(task.code.public_id, now=timezone.now() - datetime.timedelta(minutes=10))
    )
    current = scanned_url(services.current_token(w.inspector_user, task=task))
    for url in (stale, flip(current, 30), current):
        phone.goto(url)
    services.check_in(w.inspector_user, task=task)
    later = scanned_url(services.current_token(w.inspector_user, task=task))
    services.record_result(
        w.inspector_user,
        task=task,
        outcome=InspectionRecord.Outcome.NO_PROBLEM,
        summary="未发现问题",
        findings=[
            services.FindingInput(item=item, entry=entry, result=Finding.Result.COMPLIANT)
            for item in task.items.all()
            for entry in item.checklist
        ],
    )
    phone.goto(later)
    cancelled = notified_task(w)
    revoked = scanned_url(services.current_token(w.inspector_user, task=cancelled))
    services.cancel_task(w.head, task=cancelled, reason="计划调整")
    phone.goto(revoked)

    outcome = Scan.Outcome
    logged = list(Scan.objects.order_by("pk").values_list("outcome", "code__task"))
    assert logged == [
        (outcome.STALE, task.pk),
        (outcome.FORGED, None),
        (outcome.GENUINE, task.pk),
        (outcome.COMPLETED, task.pk),
        (outcome.REVOKED, cancelled.pk),
    ]
    assert len(set(Scan.objects.values_list("client_hash", flat=True))) == 1  # one phone, one client
