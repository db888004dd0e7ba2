"""The three steps of supervision (issue 5) end to end, through the pages, each person in a browser of their
own: the bureau's supervisor warns a body about a finding, records it as not rectified and issues the
recommendation (numbered, with its deadlines and its PDF); the body's administrator signs for it and reports
its rectification on a phone; the supervisor's re-check finds it not rectified and asks the district
government for a decision; the government issues it, suspending one inspector's certificate; and the body can
then no longer put that inspector on a task."""

from __future__ import annotations

import datetime
import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfWriter

from jianchama.core.formats import chinese_date
from jianchama.core.roles import Role
from jianchama.core.workdays import add_working_days
from jianchama.inspections.models import Task
from jianchama.registry.models import Certificate
from jianchama.supervision.models import Decision, Finding, Recommendation, SupervisionWarning
from jianchama.supervision.services import create_finding
from tests.browser.test_inspection_code import no_horizontal_scroll, person, staff_login
from tests.factories import filed_plan, user_for
from tests.inspections.conftest import build_scenario
from tests.supervision._steps_world import pdf_text

pytestmark = pytest.mark.django_db(transaction=True)

FACTS = "2026年，该单位对金山燃气有限公司实施检查时未出示检查码，企业无法核验检查人员身份。"
BASIS = "《上海市优化营商环境条例》\n《关于进一步规范涉企行政检查的实施意见》"
DEMANDED = "立即停止无码检查；对相关执法人员进行批评教育；完善检查码使用内部管理制度。"


def report_pdf() -> bytes:
    """A small real PDF (one blank A4 page), made with pypdf."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def success_message(page) -> str:
    page.wait_for_selector(".msg.success")
    return page.locator(".messages").inner_text()


def test_three_steps_from_a_warning_to_a_suspended_certificate(
    settings, tmp_path, live_server, browser, phone
):
    settings.MEDIA_ROOT = tmp_path
    s = build_scenario()
    government = user_for(Role.DISTRICT_GOVERNMENT, region=s.jinshan, full_name="金山区政府经办人")
    finding = create_finding(
        s.supervisor,
        source=Finding.Source.OBSERVER,
        body=s.body,
        title="入企检查未出示检查码",
        description="法治观察员反映：一次入企检查未出示检查码",
    )
    suspended, colleague = s.inspector, s.inspector2  # 张三 loses his certificate; 李四 keeps his
    base = live_server.url
    today = timezone.localdate()
    year = today.year
    rec_number, decision_number = f"金司监建〔{year}〕1号", f"金府监决〔{year}〕1号"
    rectify_by = chinese_date(add_working_days(today, 15))

    with person(browser, "desktop") as bureau, person(browser, "desktop") as gov:
        # 1. The supervisor opens the finding: the three-step panel, nothing done yet.
        staff_login(bureau, base, s.supervisor.username)
        finding_url = f"{base}{reverse('supervision:finding_detail', args=[finding.pk])}"
        bureau.goto(finding_url)
        assert bureau.locator("h1").inner_text() == "入企检查未出示检查码"
        panel = bureau.locator("#steps-panel")
        assert "三步法：预警提醒 → 督促整改 → 监督决定" in panel.inner_text()
        assert "尚未预警提醒" in panel.inner_text()

        # Step one: a warning by visit, then its outcome, not rectified.
        bureau.select_option("#warn-channel", SupervisionWarning.Channel.VISIT)
        bureau.fill("#warn-content", "走访提醒：入企检查须出示检查码，请立即整改并反馈")
        bureau.click("#warn-form button[type=submit]")
        assert "已登记预警提醒，并通知了执法单位" in success_message(bureau)
        record = bureau.locator("#steps-panel .warning-record")
        assert "走访" in record.inner_text() and "待核实整改情况" in record.inner_text()
        assert "请立即整改并反馈" in record.inner_text()
        assert bureau.locator("#warn-form").count() == 0

        record.locator("summary:has-text('核实整改情况')").click()
        outcome = record.locator("form[action$='/outcome/']")
        outcome.locator("input[name=rectified][value=no]").check()
        outcome.locator("textarea[name=note]").fill("再次走访核实，该单位仍未整改")
        outcome.locator("button[type=submit]").click()
        assert "已登记整改情况，请在5个工作日内制发监督建议书" in success_message(bureau)
        panel = bureau.locator("#steps-panel")
        assert "未整改" in panel.locator(".warning-record").inner_text()
        assert "制发期限：" in panel.inner_text()

        # Step two: the recommendation, from the panel's form (its facts prefilled from the finding).
        assert "入企检查未出示检查码" in bureau.input_value("#rec-facts")
        bureau.fill("#rec-facts", FACTS)
        bureau.fill("#rec-basis", BASIS)
        bureau.fill("#rec-demanded", DEMANDED)
        bureau.click("#recommend-form button[type=submit]")
        bureau.wait_for_url(re.compile(r"/steps/recommendations/\d+/$"))
        assert f"已制发行政执法监督建议书{rec_number}，整改期限{rectify_by}" in success_message(bureau)
        assert bureau.locator("h1").inner_text() == f"行政执法监督建议书 {rec_number}"
        rec = Recommendation.objects.get()
        assert rec.number == rec_number and rec.status == Recommendation.Status.ISSUED
        rec_url = f"{base}{reverse('supervision:recommendation_detail', args=[rec.pk])}"
        rectify_row = bureau.locator("table.deadlines tr", has_text="整改并报送整改报告").inner_text()
        assert rectify_by in rectify_row and "剩余15个工作日" in rectify_row and s.body.name in rectify_row
        assert "未签收" in bureau.locator("main").inner_text()

        # The official PDF, fetched in the supervisor's session from the page's own link.
        pdf_href = bureau.locator("a:has-text('下载建议书（PDF）')").get_attribute("href")
        response = bureau.request.get(f"{base}{pdf_href}")
        assert response.ok and response.headers["content-type"] == "application/pdf"
        text = flat(pdf_text(response.body()))
        assert rec_number in text and rectify_by in text and s.body.name in text

        # The finding page's panel now shows the recommendation, its number and its deadlines.
        bureau.goto(finding_url)
        panel_text = bureau.locator("#steps-panel").inner_text()
        assert rec_number in panel_text and "已制发，待整改" in panel_text
        assert rectify_by in panel_text and "剩余15个工作日" in panel_text
        assert bureau.locator("#recommend-form").count() == 0

        # 2. The body's administrator, on a phone: finds it, signs for it, reports with a PDF attached.
        staff_login(phone, base, s.head.username)
        phone.goto(f"{base}{reverse('supervision:steps')}")
        assert "本单位收到的监督建议书与决定书" in phone.locator("h1").inner_text()
        assert no_horizontal_scroll(phone)
        phone.click(f"text={rec_number}")
        phone.wait_for_selector("#report-form")
        main = phone.locator("main").inner_text()
        assert rectify_by in main and "剩余15个工作日" in main and "立即停止无码检查" in main
        assert no_horizontal_scroll(phone)
        phone.click("button:has-text('签收')")
        assert "已签收" in success_message(phone)
        assert "金山建管委负责人于" in phone.locator("main").inner_text()
        assert phone.locator("button:has-text('签收')").count() == 0
        assert "PDF" in phone.locator("label[for=report-file]").inner_text()
        phone.fill("#report-text", "已组织全体执法人员培训，入企检查一律出示检查码，并建立使用台账。")
        phone.set_input_files(
            "#report-file",
            files=[{"name": "整改报告.pdf", "mimeType": "application/pdf", "buffer": report_pdf()}],
        )
        phone.click("#report-form button[type=submit]")
        assert "整改报告已报送，区司法局将进行跟踪复查" in success_message(phone)
        assert phone.locator("#report-form").count() == 0
        main = phone.locator("main").inner_text()
        assert "建立使用台账" in main and "已报送整改报告，待复查" in main
        assert no_horizontal_scroll(phone)
        rec.refresh_from_db()
        assert rec.status == Recommendation.Status.REPORTED and rec.acknowledged_by_id == s.head.pk
        assert rec.report_file.read().startswith(b"%PDF-")

        # 3. The supervisor re-checks: not rectified, and asks the district government for a decision.
        bureau.goto(rec_url)
        assert "建立使用台账" in bureau.locator("main").inner_text()
        bureau.locator("#review-form input[name=rectified][value=no]").check()
        bureau.fill("#review-note", "现场复查：仍有执法人员入企检查未出示检查码")
        bureau.click("#review-form button[type=submit]")
        assert "已登记复查结果" in success_message(bureau)
        assert "复查未整改" in bureau.locator(".badge").first.inner_text()
        bureau.fill("#request-note", "建议暂停张三执法证件")
        bureau.click("#request-form button[type=submit]")
        assert "已报请区政府制发行政执法监督决定书" in success_message(bureau)
        assert "已报请区政府制发决定书" in bureau.locator(".badge").first.inner_text()
        assert bureau.locator("a:has-text('制发监督决定书')").count() == 0  # the bureau does not decide

        # 4. The district government: the decision form, one measure naming one inspector.
        staff_login(gov, base, government.username)
        gov.goto(rec_url)
        gov.click("a:has-text('制发监督决定书')")
        gov.wait_for_url(f"{base}{reverse('supervision:decision_create', args=[rec.pk])}")
        assert gov.locator("h1").inner_text() == "制发行政执法监督决定书"
        assert "建议暂停张三执法证件" in gov.locator("main").inner_text()
        assert gov.input_value("#d-facts") == FACTS  # prefilled from the recommendation
        gov.fill("#d-facts", FACTS + "经复查仍未整改。")
        gov.fill("#d-basis", BASIS + "\n《上海市行政执法监督办法》")
        gov.fill("#d-demanded", "15个工作日内完成整改并书面报告，整改期间张三不得从事执法检查。")
        kind = "suspend_certificate"
        suspend_box = gov.locator(f"input[name=measure_{kind}]")
        assert "暂停使用执法证件" in gov.locator("fieldset", has=suspend_box).inner_text()
        suspend_box.check()
        gov.select_option(f"#insp-{kind}", str(suspended.pk))
        gov.fill(f"#note-{kind}", "依监督决定暂停使用")
        gov.click("button:has-text('制发监督决定书')")
        gov.wait_for_url(re.compile(r"/steps/decisions/\d+/$"))
        assert f"已制发行政执法监督决定书{decision_number}" in success_message(gov)
        assert gov.locator("h1").inner_text() == f"行政执法监督决定书 {decision_number}"
        decide_by = chinese_date(add_working_days(today, 15))
        decision_row = gov.locator("table.deadlines tr", has_text="按监督决定书整改").inner_text()
        assert decide_by in decision_row and "剩余15个工作日" in decision_row
        certificate = Certificate.objects.get(inspector=suspended)
        measures = gov.locator("#measures").inner_text()
        assert f"暂停使用执法证件：张三（证号{certificate.number}）" in measures
        assert "李四" not in measures
        decision_pdf = gov.locator("a:has-text('下载决定书（PDF）')").get_attribute("href")
        text = flat(pdf_text(gov.request.get(f"{base}{decision_pdf}").body()))
        assert decision_number in text and rec_number in text and "张三" in text

    # 5. The certificate is suspended at once; his colleague's is not.
    decision = Decision.objects.get()
    assert decision.number == decision_number and decision.issued_by_id == government.pk
    assert Recommendation.objects.get().status == Recommendation.Status.DECIDED
    assert Certificate.objects.get(pk=certificate.pk).status == Certificate.Status.SUSPENDED
    assert Certificate.objects.get(inspector=colleague).status == Certificate.Status.VALID

    # 6. The body's administrator, back on the phone, sees the decision in its list, then tries to put 张三 on
    # a new task: refused, in Chinese, naming him and the suspension.
    phone.goto(f"{base}{reverse('supervision:steps')}")
    assert decision_number in phone.locator("main").inner_text()
    assert no_horizontal_scroll(phone)
    plan = filed_plan(s.body, items=[s.item])
    phone.goto(f"{base}/tasks/new/")
    assert phone.locator("h1").inner_text() == "新建检查任务"
    phone.fill("#id_enterprise_uscc", s.enterprise.uscc)
    phone.select_option("#id_kind", Task.Kind.ROUTINE)
    phone.fill("#id_plan_number", plan.number)
    phone.check(f"input[name=items][value='{s.item.pk}']")
    for someone in (suspended, colleague):
        phone.check(f"input[name=inspectors][value='{someone.pk}']")
    phone.fill("#id_legal_basis", "《城镇燃气管理条例》第十五条")
    phone.fill("#id_window_start", today.isoformat())
    phone.fill("#id_window_end", (today + datetime.timedelta(days=10)).isoformat())
    phone.click("button:has-text('保存草稿')")
    phone.wait_for_selector(".errorlist")
    refusal = phone.locator(".errorlist").first.inner_text()
    assert "张三" in refusal and "暂停" in refusal and certificate.number in refusal, refusal
    assert "李四" not in refusal
    assert no_horizontal_scroll(phone)
    assert Task.objects.count() == 0
