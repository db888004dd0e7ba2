"""Stored files in a real headless Chromium (issue 10, item 2): the inspector's photo on the scan page of a
genuine code loads on an anonymous phone through its signed link, and the same photo by the staff link is
refused to that phone; the body's administrator sees it on the inspector's page."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from jianchama.inspections import services
from jianchama.registry import services as registry_services
from tests.browser.test_inspection_code import build_world, notified_task, scanned_url, staff_login

pytestmark = pytest.mark.django_db(transaction=True)


def portrait() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (30, 40), (90, 60, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def w(settings, live_server) -> SimpleNamespace:
    settings.CODE_BASE_URL = live_server.url
    w = build_world()
    upload = SimpleUploadedFile("张三.jpg", portrait(), content_type="image/jpeg")
    w.inspector = registry_services.update_inspector(w.head, inspector=w.inspector, photo=upload)
    return w


def loaded_width(page, selector: str) -> int:
    image = page.locator(selector)
    image.scroll_into_view_if_needed()
    page.wait_for_function(
        "s => { const i = document.querySelector(s); return i && i.complete; }", arg=selector
    )
    return image.evaluate("i => i.naturalWidth")


def test_the_scan_page_shows_the_photo_and_the_staff_link_is_closed_to_the_public(w, live_server, phone):
    task = notified_task(w)
    phone.goto(scanned_url(services.current_token(w.inspector_user, task=task)))
    selector = f"img[alt='{w.inspector.name}的照片']"
    assert loaded_width(phone, selector) == 30
    src = phone.locator(selector).get_attribute("src")
    assert src.startswith("/inspector-photos/")
    # The staff link of the same photo asks the phone to log in.
    staff = phone.request.get(
        f"{live_server.url}/registry/inspectors/{w.inspector.pk}/photo/", max_redirects=0
    )
    assert staff.status == 302 and "/login/" in staff.headers["location"]
    # (Not /media/ here: Django's live test server serves MEDIA_URL itself, which no deployment runs.)


def test_the_body_sees_the_photo_on_the_inspectors_page(w, live_server, browser):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    try:
        staff_login(page, live_server.url, "jinshan-head")
        page.goto(f"{live_server.url}/registry/inspectors/{w.inspector.pk}/")
        assert loaded_width(page, f"img[alt='{w.inspector.name}的照片']") == 30
    finally:
        context.close()
