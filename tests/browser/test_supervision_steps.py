"""The three steps on a phone, in a real browser: the body's administrator finds the recommendation the bureau
issued, signs for it, reads the deadline with its working days left and uploads its rectification report."""

from __future__ import annotations

import pytest
from django.urls import reverse

from jianchama.core.formats import chinese_date
from jianchama.supervision.models import Recommendation
from tests.browser.test_inspection_code import no_horizontal_scroll, staff_login
from tests.supervision._steps_world import build_world, recommended

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_body_admin_uploads_its_rectification_report_on_a_phone(settings, tmp_path, live_server, phone):
    w = build_world(settings, tmp_path)
    rec = recommended(w)
    base = live_server.url

    staff_login(phone, base, w.head.username)
    phone.goto(f"{base}{reverse('supervision:steps')}")
    assert "本单位收到的监督建议书与决定书" in phone.locator("h1").inner_text()
    assert no_horizontal_scroll(phone)
    phone.click(f"text={rec.number}")
    phone.wait_for_selector("#report-form")
    body = phone.locator("main").inner_text()
    assert chinese_date(rec.rectify_by) in body and "剩余15个工作日" in body
    assert no_horizontal_scroll(phone)

    phone.click("button:has-text('签收')")
    phone.wait_for_selector(".msg.success")
    assert "已签收" in phone.locator(".messages").inner_text()

    phone.fill("#report-text", "已组织全体执法人员培训，入企检查一律出示检查码，并建立使用台账。")
    phone.set_input_files(
        "#report-file",
        files=[{"name": "整改报告.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n%report\n"}],
    )
    phone.click("#report-form button[type=submit]")
    phone.wait_for_selector(".msg.success")
    assert "整改报告已报送" in phone.locator(".messages").inner_text()
    assert phone.locator("#report-form").count() == 0
    assert "建立使用台账" in phone.locator("main").inner_text()
    assert no_horizontal_scroll(phone)

    rec = Recommendation.objects.get(pk=rec.pk)
    assert rec.status == Recommendation.Status.REPORTED and rec.acknowledged_by_id == w.head.pk
    assert rec.report_file.read().startswith(b"%PDF-")
