"""The standard inspection documents of a task, and their signing on site (F-45): the services that make them.

After the Ministry of Justice's basic formats (司法部办公厅《行政检查文书基本格式文本（试行）》, 2025; see
docs/onsite-documents.md for what each document holds and where our layout follows or fills in the format):

- 行政检查通知书 (notice): the body's written notice of the visit, from the task as approved; unsigned.
- 现场检查笔录 (on-site record): time, place, people, items, findings and conclusion, the enterprise's
  statement; signed on the inspector's phone by every inspector of the task and by the enterprise's person
  on site, or, if that person refuses, the refusal recorded with a witness who signs.
- 责令改正通知书 (rectification notice): where the outcome orders rectification, what to correct, by when,
  and the remedies; the enterprise's person signs for receipt (or the refusal is witnessed) at the same time.

Each document is rendered once to PDF (core.pdf), numbered `<task number>-<TZ|BL|ZG>`, stored under a random
name, its SHA-256 written to the audit log, and never changed. The signed ones are delivered to the
enterprise's portal and inbox when the transaction commits.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import io
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.utils import timezone

from jianchama.core import audit, files
from jianchama.core.errors import InvalidTransition, PermissionDenied, raise_if
from jianchama.core.formats import chinese_date, chinese_datetime
from jianchama.core.pdf import render_pdf
from jianchama.core.roles import Role

from . import backfill, workflow
from .models import DocumentSignature, Finding, InspectionRecord, OnsiteDocument, Task

Kind = OnsiteDocument.Kind
Signer = DocumentSignature.Signer

SUFFIX = {Kind.NOTICE: "TZ", Kind.RECORD: "BL", Kind.RECTIFICATION: "ZG"}
# A signature drawn on a phone: a PNG of at most this many bytes and pixels.
SIGNATURE_MAX_BYTES = 200_000
SIGNATURE_MAX_SIDE = 2000
DATA_URL_PREFIX = "data:image/png;base64,"
# A phone's clock may run a little behind the server's, which stamped a result recorded online.
SIGNED_BEFORE_RESULT_SLACK = datetime.timedelta(minutes=2)

# Remedies, as the record and the rectification notice tell them (Administrative Reconsideration Law art. 20:
# sixty days; Administrative Litigation Law art. 46: six months).
REMEDIES = "如不服，可自收到本文书之日起六十日内依法申请行政复议，或者六个月内依法向人民法院提起行政诉讼。"


@dataclass(frozen=True)
class SignatureInput:
    name: str
    png: bytes
    inspector_id: int | None = None


def decode_signature(value: str, who: str) -> tuple[bytes | None, list[str]]:
    """The PNG bytes of a signature sent as a data: URL by the signing page, or why it is not one.

    Refuses anything but a PNG within the size limits, and a blank canvas (a signature must have ink)."""
    from PIL import Image, UnidentifiedImageError

    value = (value or "").strip()
    if not value:
        return None, [f"请{who}在签名框内签名"]
    if not value.startswith(DATA_URL_PREFIX):
        return None, [f"{who}的签名格式不正确，请重新签名"]
    encoded = value[len(DATA_URL_PREFIX) :]
    if len(encoded) > SIGNATURE_MAX_BYTES * 4 // 3 + 4:
        return None, [f"{who}的签名图像过大，请清除后重新签名"]
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None, [f"{who}的签名格式不正确，请重新签名"]
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "PNG":
                return None, [f"{who}的签名格式不正确，请重新签名"]
            width, height = image.size
            if width > SIGNATURE_MAX_SIDE or height > SIGNATURE_MAX_SIDE or width < 20 or height < 20:
                return None, [f"{who}的签名图像尺寸不正确，请重新签名"]
            rgba = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None, [f"{who}的签名格式不正确，请重新签名"]
    # Ink: a pixel that is neither transparent nor near white.
    alpha = rgba.getchannel("A").point(lambda a: 255 if a > 32 else 0)
    dark = rgba.convert("L").point(lambda v: 255 if v < 200 else 0)
    from PIL import ImageChops

    if ImageChops.multiply(alpha, dark).getbbox() is None:
        return None, [f"{who}尚未签名（签名框是空白的），请签名后再提交"]
    return data, []


def _data_url(png: bytes) -> str:
    return DATA_URL_PREFIX + base64.b64encode(png).decode("ascii")


def _inspector_of(user, task: Task):
    if not user.is_authenticated or user.role != Role.INSPECTOR:
        return None
    return task.inspectors.filter(user=user).first()


def may_sign(user, task: Task) -> bool:
    return (
        user.is_authenticated
        and task.status == Task.Status.RESULT_RECORDED
        and _inspector_of(user, task) is not None
        and not task.documents.filter(kind=Kind.RECORD).exists()
    )


def _certificate(inspector) -> str:
    certificates = sorted(inspector.certificates.all(), key=lambda c: c.valid_until, reverse=True)
    return certificates[0].number if certificates else "无"


def task_facts(task: Task) -> dict[str, Any]:
    """What every document of the task says of it: bodies, enterprise, inspectors, items, basis."""
    bodies = [tb.body for tb in task.task_bodies.select_related("body").order_by("id")]
    inspectors = list(task.inspectors.select_related("body").prefetch_related("certificates").order_by("id"))
    enterprise = task.enterprise
    return {
        "task": task,
        "bodies": "、".join(b.name for b in bodies),
        "issuer": bodies[0].name if bodies else "",
        "enterprise": enterprise.name,
        "uscc": enterprise.uscc,
        "address": enterprise.address or "（登记地址未录入）",
        "legal_representative": enterprise.legal_representative or "（未录入）",
        "inspectors": [
            {"name": i.name, "body": i.body.name, "certificate": _certificate(i)} for i in inspectors
        ],
        "items": list(task.items.order_by("code")),
        "legal_basis": task.legal_basis,
        "kind": task.get_kind_display(),
        "mode": task.get_mode_display(),
        "window": f"{chinese_date(task.window_start)}至{chinese_date(task.window_end)}",
    }


def _store(actor, task: Task, kind: str, pdf: bytes, **fields) -> OnsiteDocument:
    digest = hashlib.sha256(pdf).hexdigest()
    number = f"{task.number}-{SUFFIX[kind]}"
    document = OnsiteDocument(task=task, kind=kind, number=number, sha256=digest, created_by=actor, **fields)
    document.file.save(f"{number}.pdf", ContentFile(pdf), save=False)
    files.track(document.file)
    document.save()
    after = {"task": task.number, "kind": kind, "number": number, "sha256": digest, "bytes": len(pdf)}
    if document.signed_at:
        after["signed_at"] = document.signed_at.isoformat()
    audit.record(actor=actor, action="document.issued", obj=document, before=None, after=after)
    return document


# --- The notice -------------------------------------------------------------------------------------------


def notice_context(task: Task) -> dict[str, Any]:
    from .services import RIGHTS_TEXT

    return {
        **task_facts(task),
        "title": Kind.NOTICE.label,
        "number": f"{task.number}-{SUFFIX[Kind.NOTICE]}",
        "rights": RIGHTS_TEXT,
        "issued_on": chinese_date(timezone.localdate(task.notified_at or timezone.now())),
    }


@files.removed_unless_committed
def issue_notice(actor, *, task: Task) -> OnsiteDocument:
    """The task's 行政检查通知书, made on first request once the enterprise has been told of the visit (the
    notice says what the approved task said); the same document on every later request."""
    task = workflow.locked(task)
    existing = task.documents.filter(kind=Kind.NOTICE).first()
    if existing:
        return existing
    if not Task.objects.visible_to(actor).filter(pk=task.pk).exists():
        raise PermissionDenied("您无权查看该任务的检查文书")
    if task.notified_at is None:
        raise InvalidTransition(f"任务{task}尚未批准并告知企业，还没有检查通知书")
    return _store(actor, task, Kind.NOTICE, render_pdf("inspections/pdf/notice.html", notice_context(task)))


# --- The on-site record and the rectification notice, signed on site ---------------------------------------


def record_context(
    task: Task,
    record: InspectionRecord,
    *,
    inspector_signatures: list[SignatureInput],
    party_name: str,
    party_signature: bytes | None,
    party_statement: str,
    refused: bool,
    witness_name: str,
    witness_signature: bytes | None,
    signed_at,
    arrived_at=None,
) -> dict[str, Any]:
    findings = list(record.findings.select_related("item").order_by("item__code", "id"))
    return {
        **task_facts(task),
        "record": record,
        "started": chinese_datetime(task.started_at) if task.started_at else "",
        "ended": chinese_datetime(record.happened_at),
        "findings": findings,
        "non_compliant": [f for f in findings if f.result == Finding.Result.NOT_COMPLIANT],
        "outcome": record.get_outcome_display(),
        "rectify_by": chinese_date(record.rectify_by) if record.rectify_by else "",
        "inspector_signatures": [{"name": s.name, "image": _data_url(s.png)} for s in inspector_signatures],
        "party_name": party_name,
        "party_signature": _data_url(party_signature) if party_signature else "",
        "party_statement": party_statement,
        "refused": refused,
        "witness_name": witness_name,
        "witness_signature": _data_url(witness_signature) if witness_signature else "",
        "signed_at": chinese_datetime(signed_at),
        "signed_on": chinese_date(timezone.localdate(signed_at)),
        # Signed offline and sent later: the document says so, with both times (backfill.is_late).
        "arrived_at": chinese_datetime(arrived_at) if backfill.is_late(signed_at, arrived_at) else "",
        "remedies": REMEDIES,
    }


@files.removed_unless_committed
def sign_onsite_record(
    actor,
    *,
    task: Task,
    inspector_signatures: dict[int, str],
    party_name: str = "",
    party_signature: str = "",
    party_statement: str = "",
    refused: bool = False,
    witness_name: str = "",
    witness_signature: str = "",
    signed_at: datetime.datetime | None = None,
) -> list[OnsiteDocument]:
    """Sign the on-site record (and the rectification notice, where ordered) on the inspector's phone.

    `inspector_signatures`: inspector id → the signature's data: URL, one for every inspector of the task.
    The enterprise's person signs with `party_name`/`party_signature`, or `refused` with `witness_name` and
    `witness_signature`. `signed_at`: when they signed, if earlier than now (the field app signs offline and
    sends it later; the backfill rule applies, and it cannot precede the result); the documents keep it and
    their arrival (`created_at`), and the PDF says both when they differ. Returns the documents made;
    refuses, with every problem at once, and saves nothing if anything is missing."""
    task = workflow.locked(task)
    if _inspector_of(actor, task) is None:
        raise PermissionDenied("只有本任务的执法人员可以制作并签署现场检查笔录")
    if task.documents.filter(kind=Kind.RECORD).exists():
        raise InvalidTransition(f"任务{task}的现场检查笔录已签署，不能重复签署")
    if task.status != Task.Status.RESULT_RECORDED:
        raise InvalidTransition(
            f"任务{task}当前状态为「{task.get_status_display()}」，录入检查结果后、办结前方可签署现场检查笔录"
        )
    record = InspectionRecord.objects.get(task=task)
    now = timezone.now()
    problems: list[str] = backfill.occurred_problems(signed_at, now=now, what="签署现场检查笔录")
    if signed_at is not None and not problems and signed_at < record.happened_at - SIGNED_BEFORE_RESULT_SLACK:
        problems.append(
            f"签署时间（{chinese_datetime(signed_at)}）早于检查结果的形成时间"
            f"（{chinese_datetime(record.happened_at)}），请检查手机时间后重新签署"
        )
    signed_at = signed_at or now
    signatures: list[SignatureInput] = []
    for inspector in task.inspectors.order_by("id"):
        png, wrong = decode_signature(inspector_signatures.get(inspector.pk, ""), f"执法人员{inspector.name}")
        problems += wrong
        if png:
            signatures.append(SignatureInput(inspector.name, png, inspector.pk))
    party_name, witness_name = party_name.strip(), witness_name.strip()
    party_statement = party_statement.strip()
    party_png = witness_png = None
    if len(party_statement) > 2000:
        problems.append("当事人意见不超过2000字")
    if refused:
        if not witness_name:
            problems.append("当事人拒绝签字的，请填写见证人姓名，并由见证人签名")
        elif len(witness_name) > 50:
            problems.append("见证人姓名不超过50个字")
        witness_png, wrong = decode_signature(witness_signature, f"见证人{witness_name}".rstrip())
        problems += wrong
    else:
        if not party_name:
            problems.append("请填写当事人（企业现场负责人）姓名；当事人拒绝签字的，请勾选「当事人拒绝签字」")
        elif len(party_name) > 50:
            problems.append("当事人姓名不超过50个字")
        party_png, wrong = decode_signature(party_signature, f"当事人{party_name}".rstrip())
        problems += wrong
    raise_if(problems, "现场检查笔录未签署")

    context = record_context(
        task,
        record,
        inspector_signatures=signatures,
        party_name=party_name,
        party_signature=party_png,
        party_statement=party_statement,
        refused=refused,
        witness_name=witness_name,
        witness_signature=witness_png,
        signed_at=signed_at,
        arrived_at=now,
    )
    party = {
        "party_name": "" if refused else party_name,
        "party_statement": party_statement,
        "party_refused": refused,
        "witness_name": witness_name if refused else "",
        "signed_at": signed_at,
    }
    made = [
        _store(
            actor,
            task,
            Kind.RECORD,
            render_pdf(
                "inspections/pdf/record.html",
                {**context, "title": Kind.RECORD.label, "number": f"{task.number}-{SUFFIX[Kind.RECORD]}"},
            ),
            **party,
        )
    ]
    if record.outcome == InspectionRecord.Outcome.RECTIFY:
        made.append(
            _store(
                actor,
                task,
                Kind.RECTIFICATION,
                render_pdf(
                    "inspections/pdf/rectification.html",
                    {
                        **context,
                        "title": Kind.RECTIFICATION.label,
                        "number": f"{task.number}-{SUFFIX[Kind.RECTIFICATION]}",
                    },
                ),
                **party,
            )
        )
    for document in made:
        for signature in signatures:
            _sign(
                document, Signer.INSPECTOR, signature.name, signature.png, signed_at, signature.inspector_id
            )
        if party_png:
            _sign(document, Signer.PARTY, party_name, party_png, signed_at)
        if witness_png:
            _sign(document, Signer.WITNESS, witness_name, witness_png, signed_at)
    _deliver(task, made)
    return made


def _sign(
    document: OnsiteDocument,
    signer: str,
    name: str,
    png: bytes,
    signed_at: datetime.datetime,
    inspector_id: int | None = None,
):
    signature = DocumentSignature(
        document=document, signer=signer, name=name, inspector_id=inspector_id, signed_at=signed_at
    )
    signature.image.save(f"{signer}.png", ContentFile(png), save=False)
    files.track(signature.image)
    signature.save()


def _deliver(task: Task, documents: list[OnsiteDocument]) -> None:
    from jianchama.notifications.services import notify_enterprise

    names = "、".join(f"《{d.get_kind_display()}》（{d.number}）" for d in documents)
    notify_enterprise(
        enterprise=task.enterprise,
        event="task.documents_signed",
        subject=f"检查文书送达：任务{task.number}",
        body=f"任务{task.number}的{names}已在现场签署，可在检查码平台企业端的任务详情中查看和下载。",
        payload={
            "task_number": task.number,
            "documents": [{"kind": d.kind, "number": d.number, "sha256": d.sha256} for d in documents],
        },
        related=task,
    )


def documents_of(user, task: Task) -> list[OnsiteDocument]:
    """The task's documents, for whoever may see the task (the enterprise included, once told)."""
    if not Task.objects.visible_to(user).filter(pk=task.pk).exists():
        return []
    return list(task.documents.all())
