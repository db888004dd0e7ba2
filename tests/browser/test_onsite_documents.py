"""Signing the on-site record on the inspector's phone, in a real browser (F-45): both inspectors and the
enterprise's person sign on the screen with a finger (here the mouse), the PDF is made, numbered and delivered;
its text and the three signature images are read back from the file the enterprise downloads."""

from __future__ import annotations

import hashlib

import pytest

from jianchama.inspections.models import OnsiteDocument
from jianchama.notifications.models import Notification
from tests.browser.conftest import fits_screen
from tests.browser.test_inspection_code import staff_login
from tests.inspections.conftest import build_scenario
from tests.inspections.test_onsite_documents import flat, image_count

pytestmark = pytest.mark.django_db(transaction=True)


def draw(page, selector: str, wiggle: int) -> None:
    """A stroke across the signature pad, as a finger would draw it."""
    pad = page.locator(selector)
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + 0.1 * w, y + 0.7 * h)
    page.mouse.down()
    for step in range(1, 9):
        page.mouse.move(x + (0.1 + step * 0.1) * w, y + (0.3 if step % 2 else 0.7) * h + wiggle, steps=3)
    page.mouse.up()


def test_the_inspectors_and_the_enterprise_sign_the_record_on_the_phone(live_server, phone):
    s = build_scenario()
    task = s.recorded()
    staff_login(phone, live_server.url, s.inspector_user.username)
    phone.goto(f"{live_server.url}/tasks/{task.pk}/")
    phone.click("text=检查文书")
    phone.wait_for_selector("canvas.signature-pad")
    assert fits_screen(phone)
    # Submitting with a pad left blank saves nothing and says whose signature is missing.
    draw(phone, f"#pad-inspector-{s.inspector.pk}", 0)
    phone.fill("#id_party_name", "钱七")
    phone.click("text=签署并送达企业")
    phone.wait_for_selector("text=请执法人员李四在签名框内签名")
    assert not OnsiteDocument.objects.exists()
    # The page came back: every pad is drawn again and the record is signed.
    draw(phone, f"#pad-inspector-{s.inspector.pk}", 0)
    draw(phone, f"#pad-inspector-{s.inspector2.pk}", 4)
    phone.fill("#id_party_statement", "无异议")
    draw(phone, "#pad-party", 8)
    phone.click("text=签署并送达企业")
    # Rendering the PDF takes a few seconds on a busy 2-core machine.
    phone.wait_for_selector(
        "text=现场检查文书已签署，并已送达企业", timeout=240_000
    )  # the PDFs rendered on signing; the whole test takes ~60 s alone, and once passed 90 s here under load
    document = OnsiteDocument.objects.get(task=task, kind="record")
    assert Notification.objects.filter(enterprise=task.enterprise, event="task.documents_signed").exists()
    # The file the page links to is the one whose hash the audit log holds, with its text and signatures.
    href = phone.locator("a", has_text="现场检查笔录").get_attribute("href")
    response = phone.context.request.get(f"{live_server.url}{href}")
    assert response.ok and response.headers["content-type"] == "application/pdf"
    data = response.body()
    assert hashlib.sha256(data).hexdigest() == document.sha256
    text = flat(data)
    assert "当事人：钱七" in text and "无异议" in text and "执法人员：李四" in text
    assert image_count(data) == 3
