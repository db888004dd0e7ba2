"""The ledger's pages through Django's test client, as each user sees them."""

from __future__ import annotations

import datetime
import io
import re

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from jianchama.complaints import services
from jianchama.complaints.models import Complaint, ReconsiderationLead
from jianchama.core import pages
from jianchama.notifications.models import Notification
from jianchama.supervision.models import Finding

pytestmark = pytest.mark.django_db

SRC = Complaint.Source
C = Complaint.Status


def page(client, url, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_intake_takes_a_complaint_from_registration_to_feedback(client, s):
    client.force_login(s.intake)
    assert "登记投诉举报" in page(client, "/complaints/")
    response = client.post(
        "/complaints/new/",
        {
            "source": SRC.HOTLINE_12345,
            "category": Complaint.Category.ARBITRARY_PENALTY,
            "title": "检查后当场罚款未出具票据",
            "content": "执法人员检查后要求当场缴纳罚款",
            "complainant_name": "李女士",
            "complainant_phone": "021-57000000",
            "received_on": timezone.localdate().isoformat(),
            "enterprise": s.enterprise.uscc,
            "complainant_is_enterprise": "on",
            "body": s.body.pk,
            "task": "",
        },
    )
    complaint = Complaint.objects.get()
    assert response.status_code == 302 and response.url == f"/complaints/{complaint.pk}/"
    assert complaint.complainant_enterprise == s.enterprise and complaint.source == SRC.HOTLINE_12345
    detail = page(client, response.url)
    assert complaint.number in detail and "待交办" in detail and "登记投诉举报" in detail  # the timeline
    assert "录入办理结果" not in detail

    client.post(f"/complaints/{complaint.pk}/assign/", {"body": s.body.pk})
    detail = page(client, response.url)
    assert "已交办" in detail and "办理剩余15个工作日" in detail

    client.force_login(s.head)
    assert complaint.number in page(client, "/complaints/")
    empty = client.post(f"/complaints/{complaint.pk}/handle/", {"text": ""}, follow=True).content.decode()
    assert "请填写办理结果" in empty
    client.post(f"/complaints/{complaint.pk}/handle/", {"text": "已退还罚款并批评教育"})
    detail = page(client, response.url)
    assert "已退还罚款并批评教育" in detail and "反馈剩余5个工作日" in detail

    client.force_login(s.intake)
    client.post(f"/complaints/{complaint.pk}/feedback/", {"text": "已核实并退还罚款"})
    complaint.refresh_from_db()
    assert complaint.status == C.CLOSED
    assert Notification.objects.filter(event="complaint.feedback", enterprise=s.enterprise).exists()
    assert "按期办结" in page(client, response.url)


def test_the_intake_form_shows_what_is_wrong(client, s):
    client.force_login(s.intake)
    response = client.post(
        "/complaints/new/",
        {
            "source": SRC.PHONE,
            "category": "other",
            "title": "x",
            "content": "y",
            "received_on": "2026-01-05",
            "enterprise": "91310000XXXXXXXXXX",
            "task": "JC0000",
        },
    )
    text = response.content.decode()
    assert (
        "未找到统一社会信用代码为91310000XXXXXXXXXX的企业" in text and "未找到编号为JC0000的检查任务" in text
    )
    response = client.post(
        "/complaints/new/",
        {
            "source": SRC.PHONE,
            "category": "other",
            "title": "x",
            "content": "y",
            "received_on": "2026-01-05",
            "body": s.body.pk,
            "complainant_phone": "电话",
        },
    )
    assert "联系电话请填写数字" in response.content.decode()
    assert not Complaint.objects.exists()


def test_an_observer_files_on_its_own_form(client, s):
    client.force_login(s.observer)
    form = page(client, "/complaints/observe/")
    assert "观察情况" in form and "投诉人即涉及企业" not in form and 'name="task"' not in form
    client.post(
        "/complaints/observe/",
        {
            "source": SRC.OBSERVER,
            "category": "disguised_inspection",
            "title": "以调研名义检查",
            "content": "某单位以调研为名进入企业检查",
            "body": s.body.pk,
        },
    )
    complaint = Complaint.objects.get()
    assert complaint.source == SRC.OBSERVER and complaint.registered_by == s.observer
    ledger = page(client, "/complaints/")
    assert complaint.number in ledger and "提交观察情况" in ledger


def test_a_body_registers_what_its_platform_received(client, s):
    client.force_login(s.head)
    form = page(client, "/complaints/new/")
    assert 'name="body"' not in form
    client.post(
        "/complaints/new/",
        {
            "source": SRC.BODY_PLATFORM,
            "category": "misconduct",
            "title": "态度粗暴",
            "content": "检查时态度粗暴",
            "received_on": timezone.localdate().isoformat(),
        },
    )
    complaint = Complaint.objects.get()
    assert complaint.status == C.ASSIGNED and complaint.body == s.body
    assert "录入办理结果" in page(client, f"/complaints/{complaint.pk}/")


def test_pages_refuse_who_may_not_see(client, s):
    complaint = s.hotline()
    client.force_login(s.mh_intake)
    assert client.get(f"/complaints/{complaint.pk}/").status_code == 404
    assert client.post(f"/complaints/{complaint.pk}/assign/", {"body": s.other_body.pk}).status_code == 404
    client.force_login(s.contact)
    assert client.get("/complaints/").status_code == 403
    client.force_login(s.inspector_user)
    assert client.get("/complaints/new/").status_code == 403
    client.force_login(s.head)  # not yet assigned to the body
    assert client.get(f"/complaints/{complaint.pk}/").status_code == 404
    client.force_login(s.intake)
    assert client.post(f"/complaints/{complaint.pk}/handle/", {"text": "x"}).status_code == 403
    client.logout()
    assert client.get("/complaints/").status_code == 302


def test_ledger_filters_and_pages(client, s, monkeypatch, settings):
    today = timezone.localdate()
    a = s.hotline(title="甲", category="profit_seeking", enterprise=s.enterprise)
    b = s.assigned(title="乙", source=SRC.LETTER, received_on=today - datetime.timedelta(days=20))
    c = s.hotline(title="丙", body=s.partner, enterprise=s.other_enterprise)
    Complaint.objects.filter(pk=b.pk).update(handle_by=today - datetime.timedelta(days=1))
    client.force_login(s.intake)

    def titles(**params) -> set[str]:
        text = page(client, "/complaints/", **params)
        return {t for t in ("甲", "乙", "丙") if f'<td data-label="标题">{t}</td>' in text}

    assert titles() == {"甲", "乙", "丙"}
    assert titles(source=SRC.LETTER) == {"乙"}
    assert titles(category="profit_seeking") == {"甲"}
    assert titles(status=C.ASSIGNED) == {"乙"}
    assert titles(body=s.partner.pk) == {"丙"}
    assert titles(enterprise="另一") == {"丙"} and titles(enterprise=s.enterprise.uscc) == {"甲"}
    assert titles(start=(today - datetime.timedelta(days=1)).isoformat()) == {"甲", "丙"}
    assert titles(end=(today - datetime.timedelta(days=1)).isoformat()) == {"乙"}
    assert titles(overdue="on") == {"乙"}
    assert "逾期" in page(client, "/complaints/", overdue="on")
    assert "受理日期起不能晚于受理日期止" in page(
        client, "/complaints/", start="2026-02-01", end="2026-01-01"
    )

    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    first, second = page(client, "/complaints/"), page(client, "/complaints/", page=2)
    assert "第 1 / 2 页，共 3 条" in first and c.number in first and a.number in first and b.number in second

    # Beyond LIST_COUNT_CAP rows the list stops counting and says so; the pages up to the cap still work.
    settings.LIST_COUNT_CAP = 2
    capped = page(client, "/complaints/")
    assert "共 2+ 条（只计前 2 条，请用筛选缩小范围）" in capped and "下一页" not in capped


def test_a_ledger_export_past_the_limit_is_refused_with_the_reason(client, s, settings):
    s.hotline(title="一件")
    s.hotline(title="两件")
    client.force_login(s.intake)
    settings.EXPORT_MAX_ROWS = 1
    response = client.get("/complaints/export.xlsx", follow=True)
    assert response["Content-Type"].startswith("text/html")
    assert "符合条件的记录超过1条，一次导出不全" in response.content.decode()
    settings.EXPORT_MAX_ROWS = 2
    whole = client.get("/complaints/export.xlsx")
    assert len(list(load_workbook(io.BytesIO(whole.getvalue())).active.iter_rows())) == 3


def test_excel_export_of_the_filtered_ledger(client, s):
    today = timezone.localdate()
    handled = s.handled(enterprise=s.enterprise, received_on=today - datetime.timedelta(days=2))
    s.hotline(title="另一件", source=SRC.LETTER)
    client.force_login(s.intake)
    response = client.get("/complaints/export.xlsx", {"source": SRC.HOTLINE_12345})
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.openxml")
    sheet = load_workbook(io.BytesIO(response.getvalue())).active
    rows = list(sheet.iter_rows(values_only=True))
    header, data = rows[0], rows[1:]
    assert header[:4] == ("编号", "来源", "类别", "标题") and "办理期限" in header and "反馈内容" in header
    assert len(data) == 1
    row = dict(zip(header, data[0], strict=True))
    assert row["编号"] == handled.number and row["来源"] == "12345市民服务热线"
    assert row["涉及企业"] == s.enterprise.name and row["承办执法单位"] == s.body.name
    assert row["受理日期"] == datetime.datetime.combine(today - datetime.timedelta(days=2), datetime.time())
    assert row["办理期限"].date() == handled.handle_by and row["办理日期"].date() == today
    assert row["状态"] == "已办理" and row["期限情况"] == "反馈剩余5个工作日"
    assert sheet.cell(row=2, column=header.index("受理日期") + 1).number_format == "yyyy-mm-dd"
    client.force_login(s.contact)
    assert client.get("/complaints/export.xlsx").status_code == 403


def test_a_supervisor_turns_a_complaint_into_a_finding_on_its_page(client, s):
    complaint = s.assigned()
    client.force_login(s.intake)
    assert "转为监督问题" not in page(client, f"/complaints/{complaint.pk}/")
    client.force_login(s.supervisor)
    assert "转为监督问题" in page(client, f"/complaints/{complaint.pk}/")
    client.post(f"/complaints/{complaint.pk}/finding/", {"title": "", "severity": "medium"})
    finding = Finding.objects.get()
    assert finding.source == Finding.Source.COMPLAINT
    detail = page(client, f"/complaints/{complaint.pk}/")
    assert finding.title in detail and "待核实" in detail and f"/supervision/findings/{finding.pk}/" in detail
    again = client.post(f"/complaints/{complaint.pk}/finding/", {"severity": "low"}, follow=True)
    assert "已转为监督问题，不能重复转办" in again.content.decode()


def test_reject_on_the_page(client, s):
    complaint = s.hotline()
    client.force_login(s.intake)
    refused = client.post(f"/complaints/{complaint.pk}/reject/", {"text": ""}, follow=True).content.decode()
    assert "请填写不予受理的理由" in refused
    client.post(f"/complaints/{complaint.pk}/reject/", {"text": "不属于行政检查"})
    assert "不属于行政检查" in page(client, f"/complaints/{complaint.pk}/")


# --- Leads ---------------------------------------------------------------------------------------------


def test_lead_pages_register_accept_and_return(client, s):
    client.force_login(s.supervisor)
    response = client.post(
        "/complaints/leads/new/",
        {
            "case_number": "金府复〔2026〕3号",
            "body": s.body.pk,
            "task": "",
            "description": "未出示证件",
            "received_on": timezone.localdate().isoformat(),
        },
    )
    lead = ReconsiderationLead.objects.get()
    assert response.url == f"/complaints/leads/{lead.pk}/"
    assert "金府复〔2026〕3号" in page(client, "/complaints/leads/")
    client.post(f"/complaints/leads/{lead.pk}/accept/", {"title": "", "severity": "low"})
    detail = page(client, response.url)
    assert "已转为监督问题" in detail and "行政复议线索：金府复〔2026〕3号" in detail
    client.post(f"/complaints/leads/{lead.pk}/return/", {"text": "已督促整改完毕"})
    lead.refresh_from_db()
    assert lead.status == ReconsiderationLead.Status.RETURNED and "已督促整改完毕" in page(
        client, response.url
    )


def test_lead_pages_refuse_others(client, s):
    lead = services.register_lead(
        s.supervisor, case_number="X1", body=s.body, description="d", received_on=timezone.localdate()
    )
    client.force_login(s.intake)
    assert client.get("/complaints/leads/new/").status_code == 403
    assert client.get(f"/complaints/leads/{lead.pk}/").status_code == 404
    assert "暂无行政复议线索" in page(client, "/complaints/leads/")
    client.force_login(s.government)
    detail = page(client, f"/complaints/leads/{lead.pk}/")
    assert "转为监督问题</button>" not in detail


# --- The portal ---------------------------------------------------------------------------------------


def test_an_enterprise_complains_on_the_portal_and_follows_it(client, s):
    task = s.recorded()
    client.force_login(s.contact)
    assert "/portal/complaints/" in page(client, "/portal/")
    task_page = page(client, f"/portal/tasks/{task.pk}/")
    assert f"/portal/complaints/new/?task={task.pk}" in task_page
    form = page(client, "/portal/complaints/new/", task=task.pk)
    assert re.search(rf'<option value="{task.pk}" selected', form)
    response = client.post(
        "/portal/complaints/new/",
        {
            "category": "disturbing_business",
            "task": task.pk,
            "title": "检查占用营业时间",
            "content": "检查持续整个上午",
            "complainant_name": "",
            "complainant_phone": "",
        },
    )
    complaint = Complaint.objects.get()
    assert response.url == f"/portal/complaints/{complaint.pk}/"
    assert complaint.source == SRC.PORTAL and complaint.task == task and complaint.body == s.body
    assert complaint.complainant_phone == s.contact.phone
    assert complaint.number in page(client, "/portal/complaints/")
    detail = page(client, response.url)
    assert "检查占用营业时间" in detail and "操作记录" not in detail
    client.force_login(s.other_contact)
    assert client.get(response.url).status_code == 404
    assert complaint.number not in page(client, "/portal/complaints/")


def test_the_portal_form_refuses_bad_input_and_is_rate_limited(client, s, settings):
    settings.PORTAL_COMPLAINT_RATE_LIMIT = "2/h"
    client.force_login(s.contact)
    bad = client.post("/portal/complaints/new/", {"category": "other", "title": "", "content": ""})
    assert bad.status_code == 200 and "这个字段是必填项" in bad.content.decode()
    good = {"category": "other", "title": "t", "content": "c"}
    assert client.post("/portal/complaints/new/", good).status_code == 302
    assert client.post("/portal/complaints/new/", good).status_code == 429
    assert Complaint.objects.count() == 1


def test_staff_may_not_use_the_portal_form(client, s):
    client.force_login(s.intake)
    assert client.get("/portal/complaints/new/").status_code == 403


# --- The scan page's report ----------------------------------------------------------------------------


def _forged_report_link(client, s) -> str:
    from jianchama.inspections import signing

    task = s.notified()
    url = "/C/" + signing.issue_token(task.code.public_id)
    flipped = url[:-5] + ("A" if url[-5] != "A" else "B") + url[-4:]
    scan_page = client.get(flipped).content.decode()
    return re.search(r'href="(/c/report/[^"]+)"', scan_page).group(1)


def test_a_forged_code_report_becomes_a_complaint(client, s):
    report = _forged_report_link(client, s)
    refused = client.post(report, {"contact_phone": "123", "description": "x"})
    assert "联系电话请填写11位手机号码" in refused.content.decode() and not Complaint.objects.exists()
    done = client.post(report, {"contact_phone": "13900000009", "description": "两人自称燃气检查，无证件"})
    assert "举报已收到" in done.content.decode()
    complaint = Complaint.objects.get()
    assert complaint.source == SRC.CODE_REPORT and complaint.category == Complaint.Category.NO_CODE
    assert complaint.code_report.description == "两人自称燃气检查，无证件"
    assert complaint.complainant_phone == "13900000009" and complaint.enterprise is None
    assert complaint.registered_by is None and complaint.status == C.REGISTERED
    assert "两人自称燃气检查" in complaint.content and "验证失败" in complaint.title
    # Nobody knows where it belongs: every intake desk is told it waits.
    told = Notification.objects.filter(event="complaint.received", object_id=str(complaint.pk))
    assert sorted(n.user_id for n in told) == sorted([s.intake.pk, s.mh_intake.pk])
    client.force_login(s.intake)
    assert complaint.number in page(client, "/complaints/")


def test_a_logged_in_enterprises_report_names_the_enterprise(client, s):
    client.force_login(s.contact)
    report = _forged_report_link(client, s)
    client.post(report, {"contact_phone": "", "description": "可疑"})
    complaint = Complaint.objects.get()
    assert complaint.enterprise == s.enterprise == complaint.complainant_enterprise
    assert complaint.number in page(client, "/portal/complaints/")


@pytest.mark.parametrize(
    "title", ['=HYPERLINK("http://evil.example","点我")', "+1+cmd|' /C calc'!A0", "@SUM(1)", "-2+3"]
)
def test_the_ledger_export_writes_text_from_the_public_as_text_never_as_a_formula(client, s, title):
    s.hotline(title=title, complainant_name="=1+1")
    client.force_login(s.intake)
    sheet = load_workbook(io.BytesIO(client.get("/complaints/export.xlsx").getvalue())).active
    header = [cell.value for cell in sheet[1]]
    row = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    assert row["标题"].value == "'" + title and row["标题"].data_type == "s"
    assert row["投诉人"].value == "'=1+1"
    assert not [cell.coordinate for line in sheet.iter_rows() for cell in line if cell.data_type == "f"]
