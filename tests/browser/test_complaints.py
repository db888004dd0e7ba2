"""On a phone: an enterprise files a complaint on the portal and finds it in its list; the intake staff, also
on a phone, find it in the ledger, filter it and give it to the body."""

from __future__ import annotations

import pytest

from jianchama.complaints.models import Complaint
from tests.browser.conftest import fits_screen
from tests.browser.test_inspection_code import contact_login, person, staff_login
from tests.complaints.conftest import complaint_scenario

pytestmark = pytest.mark.django_db(transaction=True)


def fits_phone(page) -> bool:
    """Styled and as wide as the phone (375 px): a mobile browser widens its layout viewport to content
    wider than the screen, so comparing with window.innerWidth alone would not catch it."""
    return fits_screen(page) and page.evaluate("document.documentElement.scrollWidth") <= 376


def test_an_enterprise_complains_on_its_phone_and_the_ledger_shows_it(live_server, browser):
    s = complaint_scenario()
    task = s.recorded()
    base = live_server.url
    with person(browser, "phone") as contact, person(browser, "phone") as intake:
        contact_login(contact, base, "13900000001")
        contact.goto(f"{base}/portal/")
        contact.click("main >> text=投诉举报")  # the page's own link; the menu's is in the closed drawer
        contact.click("text=我要投诉")
        assert contact.locator("h1").inner_text() == "投诉举报"
        assert fits_phone(contact)
        contact.select_option("#id_category", Complaint.Category.DISTURBING_BUSINESS)
        contact.select_option("#id_task", str(task.pk))
        contact.fill("#id_title", "检查占用整个营业时段")
        contact.fill("#id_content", "执法人员中午到店检查，持续三小时，顾客无法就餐")
        contact.click("main button[type=submit]")
        contact.wait_for_url(f"{base}/portal/complaints/*/")
        complaint = Complaint.objects.get()
        assert complaint.number in contact.locator("main").inner_text()
        assert "已登记" in contact.locator("main").inner_text()
        contact.click("text=← 我的投诉举报")
        assert "检查占用整个营业时段" in contact.locator("main").inner_text()
        assert fits_phone(contact)

        staff_login(intake, base, s.intake.username)
        intake.goto(f"{base}/complaints/?source=portal")
        row = intake.locator("tbody tr").first
        assert complaint.number in row.inner_text() and "待交办" in row.inner_text()
        assert fits_phone(intake)
        intake.click(f"text={complaint.number}")
        intake.select_option("#id_body", str(s.body.pk))
        intake.click("form[action$='/assign/'] button")
        intake.wait_for_selector(".msg.success")
        assert "办理剩余15个工作日" in intake.locator("main").inner_text()
        assert fits_phone(intake)
    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.ASSIGNED and complaint.body == s.body
