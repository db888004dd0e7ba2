"""The whole story of one inspection, through the pages, each person in a browser of their own: the inspector
creates and submits a task, the head approves it, the enterprise is told, the inspector's phone shows a
refreshing QR, the enterprise scans it, the inspector records the result, the enterprise sees it and evaluates."""

from __future__ import annotations

import datetime
import io
import re

import pytest
from django.utils import timezone
from PIL import Image

from jianchama.inspections import signing
from jianchama.inspections.models import Evaluation, Evidence, Finding, InspectionRecord, Scan, Task
from tests.browser.test_inspection_code import (
    build_world,
    contact_login,
    decode_qr,
    no_horizontal_scroll,
    person,
    staff_login,
    verdict,
)
from tests.factories import filed_plan

pytestmark = pytest.mark.django_db(transaction=True)


def photo_png() -> bytes:
    """A small real photo-like PNG, made with Pillow."""
    image = Image.new("RGB", (64, 48), "#d9e2ec")
    for x in range(16, 48):
        for y in range(12, 36):
            image.putpixel((x, y), (200, 40, 40))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def qr_on_screen(page) -> str:
    """The inspector's phone screen as another phone's camera sees it: a screenshot of the QR, decoded.
    The QR is in the page itself (an inline SVG or a data: PNG), never a second request that could fail."""
    box = page.locator(".code-screen .qr")
    box.wait_for()
    inline_svg = box.locator("svg").count() == 1
    assert inline_svg or (box.locator("img").get_attribute("src") or "").startswith("data:image/png;base64,")
    return decode_qr(Image.open(io.BytesIO(box.screenshot())))


def next_refresh(page) -> None:
    """Wait for the code page to reload itself (its meta refresh), without any script of the test's."""
    with page.expect_event("load", timeout=15_000):
        pass


def test_one_inspection_from_task_to_evaluation(settings, tmp_path, live_server, browser):
    settings.CODE_BASE_URL = live_server.url
    settings.CODE_REFRESH_SECONDS = 2
    settings.MEDIA_ROOT = tmp_path
    w = build_world()
    base = live_server.url
    today = timezone.localdate()

    with (
        person(browser, "desktop") as office,
        person(browser, "desktop") as head,
        person(browser, "phone") as contact,
        person(browser, "phone") as inspector,
    ):
        # 1. The inspector, at the office, creates the task and submits it.
        staff_login(office, base, w.inspector_user.username)
        office.goto(f"{base}/tasks/new/")
        assert office.locator("h1").inner_text() == "新建检查任务"
        office.fill("#id_enterprise_uscc", w.enterprise.uscc)
        office.select_option("#id_kind", Task.Kind.ROUTINE)
        plan = filed_plan(w.inspector_user.body, items=[w.item, w.item2])
        office.fill("#id_plan_number", plan.number)
        for item in (w.item, w.item2):
            office.check(f"input[name=items][value='{item.pk}']")
        for someone in w.inspectors:
            office.check(f"input[name=inspectors][value='{someone.pk}']")
        office.fill("#id_legal_basis", "《城镇燃气管理条例》第十五条")
        office.fill("#id_window_start", today.isoformat())
        office.fill("#id_window_end", (today + datetime.timedelta(days=10)).isoformat())
        office.click("button:has-text('保存草稿')")
        office.wait_for_url(re.compile(r"/tasks/\d+/$"))
        task = Task.objects.get()
        assert f"检查任务{task.number}已保存为草稿" in office.content()
        assert office.locator(".badge").first.inner_text() == "草稿"
        office.click("button:has-text('提交审批')")
        office.wait_for_selector("text=已提交审批")
        assert office.locator(".badge").first.inner_text() == "待审批"
        assert office.locator("button:has-text('批准')").count() == 0  # an inspector does not approve

        # 2. The head finds it in the task list and approves it: the code is issued and the enterprise told.
        staff_login(head, base, w.head.username)
        head.goto(f"{base}/tasks/")
        head.click(f"a:has-text('{task.number}')")
        head.wait_for_url(f"{base}/tasks/{task.pk}/")
        assert "金山燃气有限公司" in head.content()
        head.click("button:has-text('批准')")
        head.wait_for_selector(".msg.success")
        assert "已批准" in head.locator(".messages").inner_text()
        assert head.locator(".badge").first.inner_text() == "已告知企业"
        actions = head.locator(".timeline-event strong").all_inner_texts()
        assert actions == ["创建检查任务", "提交审批", "批准检查", "签发检查码", "告知企业"]

        # 3. The enterprise's contact logs in on a phone: the notice is in its inbox, the task in its portal.
        contact_login(contact, base, "13900000001")
        contact.goto(f"{base}/notifications/")
        notice = contact.locator("td[data-label=标题] a").first
        assert "检查告知" in notice.inner_text() and "金山区建设和管理委员会" in notice.inner_text()
        assert "1 条未读" in contact.content()
        assert no_horizontal_scroll(contact)
        contact.goto(f"{base}/portal/")
        assert contact.locator("h1").inner_text() == "金山燃气有限公司"
        upcoming = contact.locator(".card", has_text="金山区建设和管理委员会").first.inner_text()
        assert "日常检查" in upcoming and "已告知企业" in upcoming
        assert no_horizontal_scroll(contact)

        # 4. On the day, the inspector's phone: 今日任务 → 出示检查码, a QR that refreshes itself.
        staff_login(inspector, base, w.inspector_user.username)
        inspector.click(".drawer > summary")  # the phone's menu
        inspector.click(".drawer-panel a:has-text('今日任务')")
        inspector.wait_for_url(f"{base}/tasks/today/")
        card = inspector.locator(".task-card", has_text="金山燃气有限公司")
        assert "已告知企业" in card.inner_text()
        card.locator("a:has-text('出示检查码')").click()
        inspector.wait_for_url(f"{base}/tasks/{task.pk}/code/")
        assert inspector.locator("meta[http-equiv=refresh]").get_attribute("content") == "2"
        assert no_horizontal_scroll(inspector)
        first = qr_on_screen(inspector)
        claims = signing.read_token(signing.token_from_url(first))  # genuine: the signature verifies
        task.refresh_from_db()
        assert claims.code_id == task.code.public_id
        assert claims.window_status() == "current"
        assert first == signing.qr_content(signing.token_from_url(first))
        next_refresh(inspector)  # CODE_REFRESH_SECONDS later: a new token, not_before a whole second on
        second = qr_on_screen(inspector)
        assert second != first
        second_claims = signing.read_token(signing.token_from_url(second))
        assert second_claims.code_id == task.code.public_id
        assert second_claims.not_before > claims.not_before

        # 5. The enterprise's contact scans the code on the screen: genuine, and the visit starts.
        contact.goto(second)
        assert "检查码真实有效" in verdict(contact)
        assert "已记录企业到场核验" in contact.content()
        assert "张三" in contact.content() and "李四" in contact.content()
        assert contact.locator("script").count() == 0
        assert no_horizontal_scroll(contact)
        assert Task.objects.get(pk=task.pk).status == Task.Status.IN_PROGRESS

        # The phone is still showing the code; the last one it showed is what the contact scans at the end.
        next_refresh(inspector)
        last = qr_on_screen(inspector)
        assert last not in (first, second)

        # 6. The inspector records the result on the phone, with a photo as evidence.
        inspector.goto(f"{base}/tasks/{task.pk}/")
        assert inspector.locator(".badge").first.inner_text() == "检查中"
        inspector.click("a:has-text('录入检查结果')")
        inspector.wait_for_url(f"{base}/tasks/{task.pk}/record/")
        radios = inspector.locator("input[type=radio][value=compliant]")
        assert radios.count() == 3  # two checklist entries of the first item, one of the second
        for index in range(radios.count()):
            radios.nth(index).check()
        inspector.select_option("#id_outcome", InspectionRecord.Outcome.NO_PROBLEM)
        inspector.fill("#id_summary", "现场检查燃气经营许可证及储罐区，未发现问题")
        inspector.fill("#id_improvement_advice", "建议定期开展燃气泄漏应急演练")
        inspector.select_option("#id_evidence_kind", Evidence.Kind.PHOTO)
        png = photo_png()
        inspector.set_input_files(
            "#evidence_files", files=[{"name": "现场照片.png", "mimeType": "image/png", "buffer": png}]
        )
        assert no_horizontal_scroll(inspector)
        inspector.click("button:has-text('保存检查结果')")
        inspector.wait_for_url(f"{base}/tasks/{task.pk}/")
        assert "检查结果已录入" in inspector.locator(".messages").inner_text()
        assert inspector.locator(".badge").first.inner_text() == "已录入结果"
        assert "现场照片.png" in inspector.content()
        # The evidence link gives the photo back under its name, through the task's scope, not /media/.
        href = inspector.locator("a", has_text="现场照片.png").get_attribute("href")
        assert href.startswith("/tasks/evidence/")
        download = inspector.request.get(base + href)
        assert download.status == 200 and download.body() == png
        assert (
            download.headers["content-disposition"]
            == "inline; filename*=utf-8''%E7%8E%B0%E5%9C%BA%E7%85%A7%E7%89%87.png"
        )
        # The visit is over, but the code is still shown for "scan again" (seed 000: the person in charge on
        # site scans it to see the result and evaluate), for SCAN_AGAIN_DAYS.
        assert inspector.locator("a:has-text('出示检查码')").count() == 1

        # 7. The contact scans again: the visit is done, the link leads to the result and the evaluation.
        contact.goto(last)
        assert "本次检查已完成" in verdict(contact)
        contact.click("a:has-text('查看检查结果并评议')")
        contact.wait_for_url(f"{base}/portal/tasks/{task.pk}/")
        result = contact.locator("#result").inner_text()
        assert "未发现问题" in result
        assert "现场检查燃气经营许可证及储罐区，未发现问题" in result
        assert "建议定期开展燃气泄漏应急演练" in result
        assert "是否取得燃气经营许可证：符合" in result
        assert no_horizontal_scroll(contact)
        form = contact.locator("form#evaluation")
        legends = form.locator("legend").all_inner_texts()
        dimensions = ["总体评价", "出示执法证件", "告知权利", "文明执法", "检查效率", "廉洁自律"]
        assert legends == dimensions  # one rating per dimension; the comment is a plain field
        assert form.locator("label:has-text('意见建议（可选）')").count() == 1
        scores = {"overall": 5, "certificate_shown": 5, "rights_told": 4, "conduct": 5, "efficiency": 4}
        scores["integrity"] = 5
        for name, score in scores.items():
            form.locator(f"input[name={name}][value='{score}']").check()
        form.locator("textarea[name=comment]").fill("检查人员出示证件，告知权利，效率较高")
        form.locator("button[type=submit]").click()
        contact.wait_for_selector("text=感谢您的评议")
        assert "您的评议：非常满意" in contact.content()
        assert contact.locator("form#evaluation").count() == 0  # one evaluation per visit
        contact.reload()
        assert contact.locator("form#evaluation").count() == 0
        contact.goto(f"{base}/portal/")
        history = contact.locator("#history tbody tr", has_text="金山区建设和管理委员会").inner_text()
        assert "未发现问题" in history and "非常满意" in history

    # The data behind what everyone saw.
    task.refresh_from_db()
    assert task.status == Task.Status.RESULT_RECORDED
    assert task.created_by == w.inspector_user
    assert list(task.items.order_by("pk")) == [w.item, w.item2]
    assert set(task.inspectors.all()) == set(w.inspectors)
    assert task.started_at is not None and task.notified_at is not None
    record = task.record
    assert record.recorded_by == w.inspector_user
    assert list(record.findings.values_list("result", flat=True)) == [Finding.Result.COMPLIANT] * 3
    evidence = record.evidence.get()
    assert (evidence.kind, evidence.original_name, evidence.size) == (
        Evidence.Kind.PHOTO,
        "现场照片.png",
        len(png),
    )
    with evidence.file.open("rb") as stored:
        assert stored.read() == png
    assert str(tmp_path) in evidence.file.path
    evaluation = Evaluation.objects.get()
    assert evaluation.task == task and evaluation.given_by == w.contact
    assert {name: getattr(evaluation, name) for name in scores} == scores
    assert evaluation.comment == "检查人员出示证件，告知权利，效率较高"
    scans = list(Scan.objects.order_by("pk").values_list("outcome", "enterprise"))
    assert scans == [(Scan.Outcome.GENUINE, w.enterprise.pk), (Scan.Outcome.COMPLETED, w.enterprise.pk)]
