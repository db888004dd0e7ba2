"""The standard inspection documents (F-45): the notice, the on-site record signed on site by the inspectors
and the enterprise's person (or the refusal, witnessed), the rectification notice. Each PDF's text is extracted
and compared with the task and its record; the signature images are in the PDF; the SHA-256 in the audit log
is the stored file's; the enterprise receives the signed documents."""

from __future__ import annotations

import base64
import hashlib
import io
import re

import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader

from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.models import AuditEvent
from jianchama.inspections import documents, services
from jianchama.inspections.models import DocumentSignature, Finding, InspectionRecord, OnsiteDocument, Task
from jianchama.notifications.models import Notification

pytestmark = pytest.mark.django_db


def signature(seed: int = 0, blank: bool = False) -> str:
    image = Image.new("RGBA", (600, 200), (255, 255, 255, 0))
    if not blank:
        ImageDraw.Draw(image).line(
            [(20, 150), (200 + seed * 10, 40), (400, 160), (580, 60)], fill="black", width=6
        )
    out = io.BytesIO()
    image.save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def flat(data: bytes) -> str:
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages))


def image_count(data: bytes) -> int:
    """Distinct images of the document (WeasyPrint shares one resource dictionary between pages; an image's
    transparency mask is part of it, not another image)."""
    names = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        for name, ref in page["/Resources"].get("/XObject", {}).items():
            if ref.get_object().get("/Subtype") == "/Image":
                names.add(name)
    return len(names)


def rectified(s) -> Task:
    task = s.in_progress()
    item = task.items.first()
    services.record_result(
        s.inspector_user,
        task=task,
        outcome=InspectionRecord.Outcome.RECTIFY,
        summary="现场检查发现燃气瓶存放不规范",
        findings=[
            services.FindingInput(item=i, entry=e, result=Finding.Result.NOT_COMPLIANT, note="气瓶露天存放")
            if (i, e) == (item, item.checklist[0])
            else services.FindingInput(item=i, entry=e, result=Finding.Result.COMPLIANT)
            for i in task.items.all()
            for e in i.checklist
        ],
        rectify_working_days=5,
        onsite_person_name="钱七",
        onsite_person_phone="13900000007",
    )
    return Task.objects.get(pk=task.pk)


def inspectors_signing(task: Task) -> dict[int, str]:
    return {inspector.pk: signature(n) for n, inspector in enumerate(task.inspectors.order_by("id"))}


def test_the_signed_record_says_what_happened_and_carries_every_signature(s):
    task = rectified(s)
    made = documents.sign_onsite_record(
        s.inspector_user,
        task=task,
        inspector_signatures=inspectors_signing(task),
        party_name="钱七",
        party_signature=signature(9),
        party_statement="对检查结果无异议，将按期整改。",
    )
    assert [d.kind for d in made] == [OnsiteDocument.Kind.RECORD, OnsiteDocument.Kind.RECTIFICATION]
    record_doc = made[0]
    data = record_doc.file.read()
    text = flat(data)
    assert "现场检查笔录" in text
    assert record_doc.number == f"{task.number}-BL" and record_doc.number in text
    for expected in [
        "金山燃气有限公司",
        task.enterprise.uscc,
        "金山区建设和管理委员会",
        "张三",
        "李四",
        "燃气经营许可情况检查",
        "气瓶露天存放",
        "责令限期整改",
        "对检查结果无异议，将按期整改。",
        "当事人：钱七",
        "执法人员：张三",
        "执法人员：李四",
        "行政复议",
    ]:
        assert expected in text, expected
    # Two inspectors' signatures and the party's: three images.
    assert image_count(data) == 3
    assert DocumentSignature.objects.filter(document=record_doc).count() == 3
    # The hash in the audit log is the stored file's.
    event = AuditEvent.objects.get(action="document.issued", object_id=str(record_doc.pk))
    assert event.after["sha256"] == hashlib.sha256(data).hexdigest() == record_doc.sha256


def test_the_rectification_notice_names_the_problem_and_the_deadline(s):
    task = rectified(s)
    made = documents.sign_onsite_record(
        s.inspector_user,
        task=task,
        inspector_signatures=inspectors_signing(task),
        party_name="钱七",
        party_signature=signature(9),
    )
    notice = made[1]
    text = flat(notice.file.read())
    record = InspectionRecord.objects.get(task=task)
    day = record.rectify_by
    assert "责令改正通知书" in text
    assert "气瓶露天存放" in text
    assert f"{day.year}年{day.month}月{day.day}日前" in text
    assert "当事人签收：钱七" in text


def test_a_refusal_to_sign_is_recorded_with_the_witness(s):
    task = rectified(s)
    made = documents.sign_onsite_record(
        s.inspector_user,
        task=task,
        inspector_signatures=inspectors_signing(task),
        refused=True,
        witness_name="孙八",
        witness_signature=signature(5),
    )
    record_doc = made[0]
    assert record_doc.party_refused and record_doc.witness_name == "孙八"
    text = flat(record_doc.file.read())
    assert "当事人拒绝签字。见证人：孙八" in text
    assert set(record_doc.signatures.values_list("signer", flat=True)) == {"inspector", "witness"}


def test_the_enterprise_receives_the_signed_documents(s, client):
    task = rectified(s)
    made = documents.sign_onsite_record(
        s.inspector_user,
        task=task,
        inspector_signatures=inspectors_signing(task),
        party_name="钱七",
        party_signature=signature(9),
    )
    note = Notification.objects.get(enterprise=task.enterprise, event="task.documents_signed")
    assert made[0].number in note.body
    client.force_login(s.contact)
    page = client.get(f"/portal/tasks/{task.pk}/")
    assert "现场检查笔录" in page.content.decode()
    download = client.get(f"/tasks/{task.pk}/documents/{made[0].pk}/")
    assert download.status_code == 200
    assert (
        hashlib.sha256(
            b"".join(download.streaming_content) if download.streaming else download.content
        ).hexdigest()
        == made[0].sha256
    )
    # Another enterprise's contact sees nothing of it.
    client.force_login(s.other_contact)
    assert client.get(f"/tasks/{task.pk}/documents/{made[0].pk}/").status_code == 404


@pytest.mark.parametrize(
    "change, message",
    [
        ({"party_signature": ""}, "请当事人钱七在签名框内签名"),
        ({"party_signature": signature(blank=True)}, "尚未签名（签名框是空白的）"),
        ({"party_signature": "data:image/png;base64,!!!"}, "签名格式不正确"),
        ({"party_signature": "data:image/jpeg;base64,AAAA"}, "签名格式不正确"),
        ({"party_name": ""}, "请填写当事人"),
        ({"refused": True}, "请填写见证人姓名"),
    ],
)
def test_nothing_is_signed_when_something_is_missing(s, change, message):
    task = rectified(s)
    args = {
        "inspector_signatures": inspectors_signing(task),
        "party_name": "钱七",
        "party_signature": signature(9),
        **change,
    }
    with pytest.raises(DomainError, match=re.escape(message)):
        documents.sign_onsite_record(s.inspector_user, task=task, **args)
    assert not OnsiteDocument.objects.exists() and not DocumentSignature.objects.exists()


def test_every_inspector_must_sign(s):
    task = rectified(s)
    only_one = dict(list(inspectors_signing(task).items())[:1])
    with pytest.raises(DomainError, match="请执法人员李四在签名框内签名"):
        documents.sign_onsite_record(
            s.inspector_user,
            task=task,
            inspector_signatures=only_one,
            party_name="钱七",
            party_signature=signature(),
        )


def test_only_the_tasks_inspector_signs_and_only_once(s):
    task = rectified(s)
    args = {
        "inspector_signatures": inspectors_signing(task),
        "party_name": "钱七",
        "party_signature": signature(),
    }
    with pytest.raises(PermissionDenied):
        documents.sign_onsite_record(s.head, task=task, **args)
    with pytest.raises(PermissionDenied):
        documents.sign_onsite_record(s.other_inspector_user, task=task, **args)
    documents.sign_onsite_record(s.inspector_user, task=task, **args)
    with pytest.raises(InvalidTransition, match="已签署，不能重复签署"):
        documents.sign_onsite_record(s.inspector2_user, task=task, **args)


def test_the_record_is_signed_only_after_the_result(s):
    task = s.in_progress()
    with pytest.raises(InvalidTransition, match="录入检查结果后"):
        documents.sign_onsite_record(
            s.inspector_user,
            task=task,
            inspector_signatures={},
            party_name="钱七",
            party_signature=signature(),
        )


def test_the_notice_says_what_the_approved_task_said(s):
    task = s.notified()
    notice = documents.issue_notice(s.inspector_user, task=task)
    assert notice.kind == OnsiteDocument.Kind.NOTICE
    text = flat(notice.file.read())
    for expected in [
        "行政检查通知书",
        "金山燃气有限公司",
        task.number,
        "燃气经营许可情况检查",
        "张三",
        "陈述权",
    ]:
        assert expected in text, expected
    # Made once: the same document on the next request.
    assert documents.issue_notice(s.contact, task=task).pk == notice.pk


def test_no_notice_before_the_enterprise_is_told(s):
    task = s.submitted()
    with pytest.raises(InvalidTransition, match="尚未批准并告知企业"):
        documents.issue_notice(s.inspector_user, task=task)
