"""Registry services: the only writes to bodies, inspectors, certificates, enterprises, contacts and items.

Each function takes the acting user first, checks that user may act, validates everything at once (every
problem named, in Chinese, with what to do), saves in one transaction and appends an audit event with the
before and after snapshots. Views, the import and the commands call these; nothing else writes.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from jianchama.core import audit
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied, raise_if
from jianchama.core.formats import chinese_date
from jianchama.core.models import LoginCode, User
from jianchama.core.roles import Role
from jianchama.core.services import check_approval_code, request_approval_code
from jianchama.core.sms import send_sms

from . import uscc as uscc_rules
from .models import (
    Certificate,
    EnforcementBody,
    Enterprise,
    EnterpriseContact,
    Field,
    InspectionItem,
    Inspector,
    Region,
    enterprise_region_of,
)

# Chinese labels of this app's audit actions; registered in RegistryConfig.ready.
AUDIT_ACTIONS = {
    "registry.import_queued": "上传批量导入文件（由任务队列导入）",
    "body.create": "登记执法单位",
    "body.update": "修改执法单位信息",
    "inspector.create": "登记执法人员",
    "inspector.update": "修改执法人员信息",
    "certificate.create": "登记执法证件",
    "certificate.update": "修改执法证件信息",
    "certificate.suspend": "暂停使用执法证件",
    "certificate.revoke": "收回执法证件",
    "certificate.reinstate": "恢复执法证件",
    "certificate.expire": "执法证件有效期届满",
    "enterprise.create": "登记企业",
    "enterprise.update": "修改企业信息",
    "contact.add": "添加企业联系人",
    "contact.remove": "移除企业联系人",
    "user.create_contact": "开通企业联系人登录账号",
    "user.link_contact": "关联企业联系人登录账号",
    "user.deactivate_contact": "停用企业联系人登录账号",
    "item.create": "新增检查事项",
    "item.update": "修改检查事项",
}

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")

# The audit snapshot of a login account: never the password hash.
USER_SNAPSHOT_FIELDS = ["username", "full_name", "role", "phone", "enterprise", "is_active"]


def _text(value: Any) -> str:
    return (value or "").strip()


def _apply(
    instance: models.Model, changes: dict[str, Any], fields: Iterable[str], m2m: Iterable[str]
) -> dict:
    """Set the plain fields of `changes` on `instance`; return every many-to-many's new value (the current
    one where not changed). An unknown name is a programming error, not a user's."""
    fields, m2m = set(fields), set(m2m)
    unknown = set(changes) - fields - m2m
    if unknown:
        raise TypeError(f"cannot change {sorted(unknown)} of {instance._meta.label}")
    for name, value in changes.items():
        if name in fields:
            setattr(instance, name, value)
    return {
        name: list(changes[name]) if name in changes else list(getattr(instance, name).all()) for name in m2m
    }


def _locked(instance: models.Model) -> models.Model:
    """A fresh, locked copy: the snapshot is of what is stored, not of what a form has changed in memory."""
    return type(instance)._default_manager.select_for_update().get(pk=instance.pk)


# --- Who may do what (views use these to show or hide buttons) --------------------------------------


def can_manage_bodies(user) -> bool:
    return user.is_authenticated and user.is_platform_admin


def can_manage_inspectors_of(user, body: EnforcementBody) -> bool:
    return EnforcementBody.objects.manageable_by(user).filter(pk=body.pk).exists()


def can_create_enterprises(user) -> bool:
    return user.is_authenticated and (user.is_platform_admin or user.role == Role.BODY_ADMIN)


def can_manage_enterprise(user, enterprise: Enterprise) -> bool:
    return Enterprise.objects.manageable_by(user).filter(pk=enterprise.pk).exists()


def can_manage_items(user) -> bool:
    return user.is_authenticated and user.is_platform_admin


def may_set_certificate_status(user, certificate: Certificate) -> bool:
    """Who may suspend, revoke or reinstate a certificate. Today the platform admin, recording a decision
    taken elsewhere; accountability (F-33) will let the supervisor's decision do it, by calling
    `set_certificate_status` from its own service once the decision is made; extend this check there."""
    return user.is_authenticated and user.is_platform_admin


def can_check_qualification(user) -> bool:
    return user.is_authenticated and (user.is_platform_admin or user.role == Role.BODY_ADMIN)


# --- Enforcement bodies (F-01) ------------------------------------------------------------------------

BODY_FIELDS = (
    "code",
    "name",
    "body_type",
    "level",
    "region",
    "city_counterpart",
    "entrusting_organ",
    "entrustment_start",
    "entrustment_end",
    "head_name",
    "phone",
    "is_active",
)
BODY_M2M = ("fields", "entrusted_items")
REGION_LEVEL_OF_BODY = {
    EnforcementBody.Level.CITY: Region.Level.CITY,
    EnforcementBody.Level.DISTRICT: Region.Level.DISTRICT,
    EnforcementBody.Level.TOWN: Region.Level.TOWN,
}


def _require_platform_admin(actor, what: str) -> None:
    if not (actor.is_authenticated and actor.is_platform_admin):
        raise PermissionDenied(f"只有平台管理员可以{what}")


@transaction.atomic
def create_body(
    actor: User,
    *,
    code: str,
    name: str,
    body_type: str,
    level: str,
    region: Region,
    fields: Iterable[Field],
    city_counterpart: EnforcementBody | None = None,
    entrusting_organ: EnforcementBody | None = None,
    entrusted_items: Iterable[InspectionItem] = (),
    entrustment_start: datetime.date | None = None,
    entrustment_end: datetime.date | None = None,
    head_name: str = "",
    phone: str = "",
    is_active: bool = True,
) -> EnforcementBody:
    _require_platform_admin(actor, "新增执法单位")
    body = EnforcementBody()
    _apply(
        body,
        {
            "code": _text(code),
            "name": _text(name),
            "body_type": body_type,
            "level": level,
            "region": region,
            "city_counterpart": city_counterpart,
            "entrusting_organ": entrusting_organ,
            "entrustment_start": entrustment_start,
            "entrustment_end": entrustment_end,
            "head_name": _text(head_name),
            "phone": _text(phone),
            "is_active": is_active,
        },
        BODY_FIELDS,
        (),
    )
    m2m = {"fields": list(fields), "entrusted_items": list(entrusted_items)}
    _validate_body(body, **m2m)
    body.save()
    body.fields.set(m2m["fields"])
    body.entrusted_items.set(m2m["entrusted_items"])
    audit.record(actor=actor, action="body.create", obj=body, after=audit.snapshot(body))
    return body


@transaction.atomic
def update_body(actor: User, *, body: EnforcementBody, **changes: Any) -> EnforcementBody:
    """Change any of BODY_FIELDS and BODY_M2M; what is not named stays as it is."""
    _require_platform_admin(actor, "修改执法单位")
    body = _locked(body)
    before = audit.snapshot(body)
    for name in ("code", "name", "head_name", "phone"):
        if name in changes:
            changes[name] = _text(changes[name])
    m2m = _apply(body, changes, BODY_FIELDS, BODY_M2M)
    _validate_body(body, **m2m)
    body.save()
    body.fields.set(m2m["fields"])
    body.entrusted_items.set(m2m["entrusted_items"])
    audit.record(actor=actor, action="body.update", obj=body, before=before, after=audit.snapshot(body))
    return body


def _validate_body(
    body: EnforcementBody, *, fields: list[Field], entrusted_items: list[InspectionItem]
) -> None:
    problems: list[str] = []
    others = EnforcementBody.objects.exclude(pk=body.pk) if body.pk else EnforcementBody.objects.all()
    if not body.code:
        problems.append("单位编码不能为空，请填写")
    elif (twin := others.filter(code=body.code).first()) is not None:
        problems.append(f"单位编码“{body.code}”已被“{twin}”使用，请换一个编码")
    if not body.name:
        problems.append("名称不能为空，请填写")
    elif others.filter(name=body.name).exists():
        problems.append(f"名称“{body.name}”已有执法单位使用，请核对是否重复登记")
    if body.body_type not in EnforcementBody.Type.values:
        problems.append("主体类型无效，请选择行政机关、法律法规授权组织或受委托组织")
    if body.level not in EnforcementBody.Level.values:
        problems.append("层级无效，请选择市级、区级或街镇")
    if body.region_id is None:
        problems.append("所在区域不能为空，请选择")
    elif body.level in REGION_LEVEL_OF_BODY and body.region.level != REGION_LEVEL_OF_BODY[body.level]:
        problems.append(
            f"层级为“{EnforcementBody.Level(body.level).label}”的执法单位，所在区域应为"
            f"{Region.Level(REGION_LEVEL_OF_BODY[body.level]).label}级区域，“{body.region}”不是；请重新选择"
        )
    if not fields:
        problems.append("执法领域不能为空，请至少选择一个")
    counterpart = body.city_counterpart
    if counterpart is not None:
        if body.pk and counterpart.pk == body.pk:
            problems.append("市级对口单位不能是本单位自己")
        elif body.level == EnforcementBody.Level.CITY:
            problems.append("市级执法单位没有市级对口单位，请清空“市级对口单位”")
        elif counterpart.level != EnforcementBody.Level.CITY:
            problems.append(f"市级对口单位“{counterpart}”不是市级执法单位，请选择市级执法单位")
        elif fields and not set(counterpart.fields.all()) & set(fields):
            problems.append(
                f"市级对口单位“{counterpart}”与本单位没有共同的执法领域，请选择同一领域的市级单位"
            )
    if body.body_type == EnforcementBody.Type.ENTRUSTED:
        problems += _entrustment_problems(body, entrusted_items)
    elif body.entrusting_organ_id or entrusted_items or body.entrustment_start or body.entrustment_end:
        problems.append(
            "只有受委托组织登记委托机关、委托事项和委托期限；请将主体类型改为受委托组织，或清空这些内容"
        )
    raise_if(problems, "执法单位信息有误")


def _entrustment_problems(body: EnforcementBody, entrusted_items: list[InspectionItem]) -> list[str]:
    problems = []
    organ = body.entrusting_organ
    if organ is None:
        problems.append("受委托组织必须登记委托机关，请选择")
    elif body.pk and organ.pk == body.pk:
        problems.append("委托机关不能是本单位自己")
    elif organ.body_type != EnforcementBody.Type.ORGAN:
        problems.append(f"委托机关“{organ}”不是行政机关；只有行政机关可以委托，请重新选择")
    if not entrusted_items:
        problems.append("受委托组织必须登记委托事项（委托权限），请至少选择一项")
    elif organ is not None and organ.body_type == EnforcementBody.Type.ORGAN:
        allowed = set(organ.items.values_list("pk", flat=True))
        beyond = [item.name for item in entrusted_items if item.pk not in allowed]
        if beyond:
            problems.append(
                f"委托事项“{'、'.join(beyond)}”不在委托机关“{organ}”的检查事项内，机关只能在自身权限内委托；请取消选择"
            )
    start, end = body.entrustment_start, body.entrustment_end
    if not start or not end:
        problems.append("受委托组织必须登记委托期限的起止日期，请填写")
    elif start > end:
        problems.append(f"委托期限起（{chinese_date(start)}）晚于委托期限止（{chinese_date(end)}），请更正")
    return problems


# --- Inspectors and certificates (F-02) ---------------------------------------------------------------

INSPECTOR_FIELDS = ("name", "body", "employee_number", "phone", "photo", "is_active", "user")


def _require_inspector_manager(actor, body: EnforcementBody) -> None:
    if not can_manage_inspectors_of(actor, body):
        raise PermissionDenied(f"只有“{body}”的执法单位管理员或平台管理员可以维护该单位的执法人员和执法证件")


@transaction.atomic
def create_inspector(
    actor: User,
    *,
    body: EnforcementBody,
    name: str,
    employee_number: str = "",
    phone: str = "",
    photo: Any = None,
    is_active: bool = True,
    user: User | None = None,
) -> Inspector:
    """`user` links the inspector's login account (an inspector-role account of the same body)."""
    _require_inspector_manager(actor, body)
    inspector = Inspector(
        body=body,
        name=_text(name),
        employee_number=_text(employee_number),
        phone=_text(phone),
        is_active=is_active,
        user=user,
    )
    if photo:
        inspector.photo, inspector.photo_name = photo, _upload_name(photo)
    _validate_inspector(inspector)
    inspector.save()
    audit.record(actor=actor, action="inspector.create", obj=inspector, after=audit.snapshot(inspector))
    return inspector


@transaction.atomic
def update_inspector(actor: User, *, inspector: Inspector, **changes: Any) -> Inspector:
    """Change any of INSPECTOR_FIELDS. Moving to another body needs the right to manage both."""
    _require_inspector_manager(actor, inspector.body)
    inspector = _locked(inspector)
    before = audit.snapshot(inspector)
    for name in ("name", "employee_number", "phone"):
        if name in changes:
            changes[name] = _text(changes[name])
    if "photo" in changes and not changes["photo"]:
        del changes["photo"]  # no new photo uploaded: keep the current one
    _apply(inspector, changes, INSPECTOR_FIELDS, ())
    if changes.get("photo"):
        inspector.photo_name = _upload_name(changes["photo"])
    _require_inspector_manager(actor, inspector.body)
    _validate_inspector(inspector)
    inspector.save()
    audit.record(
        actor=actor, action="inspector.update", obj=inspector, before=before, after=audit.snapshot(inspector)
    )
    return inspector


def _upload_name(upload) -> str:
    """The uploaded file's own name, kept beside the random name it is stored under (core/files.py)."""
    return os.path.basename(getattr(upload, "name", "") or "")[:200]


def _validate_inspector(inspector: Inspector) -> None:
    problems = []
    if not inspector.name:
        problems.append("姓名不能为空，请填写")
    if inspector.phone and not MOBILE_RE.match(inspector.phone):
        problems.append(f"手机号“{inspector.phone}”不是11位中国大陆手机号码，请更正或留空")
    if inspector.employee_number:
        twin = (
            Inspector.objects.filter(body_id=inspector.body_id, employee_number=inspector.employee_number)
            .exclude(pk=inspector.pk)
            .first()
        )
        if twin is not None:
            problems.append(f"工号“{inspector.employee_number}”已被本单位执法人员{twin.name}使用，请核对")
    account = inspector.user
    if account is not None:
        if account.role != Role.INSPECTOR or account.body_id != inspector.body_id:
            problems.append(
                f"登录账号“{account.username}”不是“{inspector.body}”的执法人员账号，请选择本单位执法人员的账号"
            )
        elif (holder := Inspector.objects.filter(user=account).exclude(pk=inspector.pk).first()) is not None:
            problems.append(
                f"登录账号“{account.username}”已关联执法人员{holder.name}，一个账号只能关联一名执法人员"
            )
    raise_if(problems, "执法人员信息有误")


CERTIFICATE_FIELDS = ("number", "valid_from", "valid_until")
CERTIFICATE_M2M = ("fields",)


@transaction.atomic
def add_certificate(
    actor: User,
    *,
    inspector: Inspector,
    number: str,
    fields: Iterable[Field],
    valid_from: datetime.date,
    valid_until: datetime.date,
) -> Certificate:
    _require_inspector_manager(actor, inspector.body)
    certificate = Certificate(
        inspector=inspector,
        number=_text(number),
        valid_from=valid_from,
        valid_until=valid_until,
        status=Certificate.Status.VALID,
    )
    fields = list(fields)
    _validate_certificate(certificate, fields)
    certificate.save()
    certificate.fields.set(fields)
    audit.record(actor=actor, action="certificate.create", obj=certificate, after=audit.snapshot(certificate))
    return certificate


@transaction.atomic
def update_certificate(actor: User, *, certificate: Certificate, **changes: Any) -> Certificate:
    """Correct a certificate's number, fields or validity. Its status changes only through
    `set_certificate_status` and `expire_certificates`."""
    _require_inspector_manager(actor, certificate.inspector.body)
    certificate = _locked(certificate)
    before = audit.snapshot(certificate)
    if "number" in changes:
        changes["number"] = _text(changes["number"])
    m2m = _apply(certificate, changes, CERTIFICATE_FIELDS, CERTIFICATE_M2M)
    _validate_certificate(certificate, m2m["fields"])
    if certificate.status == Certificate.Status.EXPIRED and certificate.valid_until >= timezone.localdate():
        # The validity was corrected past today: it was marked expired only because of the old date.
        certificate.status = Certificate.Status.VALID
        certificate.status_reason = ""
    certificate.save()
    certificate.fields.set(m2m["fields"])
    audit.record(
        actor=actor,
        action="certificate.update",
        obj=certificate,
        before=before,
        after=audit.snapshot(certificate),
    )
    return certificate


def _validate_certificate(certificate: Certificate, fields: list[Field]) -> None:
    problems = []
    if not certificate.number:
        problems.append("证件编号不能为空，请填写")
    else:
        twin = Certificate.objects.filter(number=certificate.number).exclude(pk=certificate.pk)
        twin = twin.select_related("inspector").first()
        if twin is not None:
            problems.append(
                f"证件编号“{certificate.number}”已登记在执法人员{twin.inspector.name}名下，请核对"
            )
    if not certificate.valid_from or not certificate.valid_until:
        problems.append("有效期起止日期不能为空，请填写")
    elif certificate.valid_from > certificate.valid_until:
        problems.append(
            f"有效期起（{chinese_date(certificate.valid_from)}）晚于有效期止（{chinese_date(certificate.valid_until)}），请更正"
        )
    body = certificate.inspector.body
    if not fields:
        problems.append("执法领域不能为空，请至少选择一个")
    else:
        body_fields = set(body.fields.all())
        outside = [field.name for field in fields if field not in body_fields]
        if outside:
            problems.append(
                f"执法领域“{'、'.join(outside)}”不属于所属单位“{body}”的执法领域，请从该单位的执法领域中选择"
            )
    raise_if(problems, "执法证件信息有误")


# Which status may follow which. Expiry is not set by hand: it follows from the date (expire_certificates).
CERTIFICATE_TRANSITIONS = {
    Certificate.Status.VALID: {Certificate.Status.SUSPENDED, Certificate.Status.REVOKED},
    Certificate.Status.SUSPENDED: {Certificate.Status.VALID, Certificate.Status.REVOKED},
    Certificate.Status.EXPIRED: {Certificate.Status.REVOKED},
    Certificate.Status.REVOKED: set(),
}
STATUS_ACTIONS = {
    Certificate.Status.SUSPENDED: "certificate.suspend",
    Certificate.Status.REVOKED: "certificate.revoke",
    Certificate.Status.VALID: "certificate.reinstate",
}


def _may_apply_decision(user, certificate: Certificate, decision) -> bool:
    """A supervision decision's accountability measure (F-33) suspends or revokes a certificate of the
    decided body's inspector; its issuer, the district government's user of the body's region, applies it."""
    inspector_body = certificate.inspector.body
    return (
        user.is_authenticated
        and decision.body_id == inspector_body.pk
        and (
            user.is_platform_admin
            or (
                user.role == Role.DISTRICT_GOVERNMENT
                and user.region_id is not None
                and inspector_body.region.path.startswith(user.region.path)
            )
        )
    )


@transaction.atomic
def set_certificate_status(
    actor: User, *, certificate: Certificate, status: str, reason: str, by_decision=None
) -> Certificate:
    """Suspend, revoke or reinstate a certificate. The qualification gate enforces it from then on, and the
    unstarted tasks relying on the inspector are flagged at once (`inspections.services.flag_tasks_of`).

    `by_decision` (a `supervision.Decision`): the measure of a supervision decision, applied by its issuer;
    only suspension or revocation, recorded with the decision's number."""
    if by_decision is not None:
        if not _may_apply_decision(actor, certificate, by_decision):
            raise PermissionDenied(
                f"只有制发监督决定书{by_decision.number}的区政府用户可以依该决定暂停或收回执法证件"
            )
        if status == Certificate.Status.VALID:
            raise DomainError("监督决定书只能暂停使用或收回执法证件，恢复有效须由平台管理员办理")
    elif not may_set_certificate_status(actor, certificate):
        raise PermissionDenied("只有平台管理员可以暂停、收回或恢复执法证件（依据问责决定办理）")
    certificate = _locked(certificate)
    current = Certificate.Status(certificate.status)
    if status not in Certificate.Status.values:
        raise DomainError(f"证件状态“{status}”无效，请选择暂停使用、收回或恢复有效")
    requested = Certificate.Status(status)
    if requested not in CERTIFICATE_TRANSITIONS[current]:
        raise InvalidTransition(
            f"执法证{certificate.number}当前为“{current.label}”，不能改为“{requested.label}”"
            + ("（已收回的证件不能恢复，请登记新证）" if current == Certificate.Status.REVOKED else "")
        )
    reason = _text(reason)
    if requested != Certificate.Status.VALID and not reason:
        raise DomainError(f"请填写{requested.label}的理由（例如问责决定书文号）")
    before = audit.snapshot(certificate)
    certificate.status = requested
    certificate.status_reason = reason[:200]
    certificate.save(update_fields=["status", "status_reason"])
    after = audit.snapshot(certificate)
    if by_decision is not None:
        after["decision"] = by_decision.number
    audit.record(actor=actor, action=STATUS_ACTIONS[requested], obj=certificate, before=before, after=after)
    if requested in (Certificate.Status.SUSPENDED, Certificate.Status.REVOKED):
        # Imported here: inspections builds on the registry, not the other way round.
        from jianchama.inspections.services import flag_tasks_of

        flag_tasks_of(actor, certificate=certificate)
    return certificate


@transaction.atomic
def expire_certificates(*, now: datetime.datetime | None = None) -> int:
    """Mark every valid certificate whose validity ended before today as expired; one audit event each.
    Running it again changes nothing. Returns how many were marked."""
    today = timezone.localdate(now) if now else timezone.localdate()
    due = Certificate.objects.select_for_update().filter(
        status=Certificate.Status.VALID, valid_until__lt=today
    )
    count = 0
    for certificate in due.order_by("pk"):
        before = audit.snapshot(certificate)
        certificate.status = Certificate.Status.EXPIRED
        certificate.status_reason = f"有效期已于{chinese_date(certificate.valid_until)}届满"
        certificate.save(update_fields=["status", "status_reason"])
        audit.record(
            actor=None,
            action="certificate.expire",
            obj=certificate,
            before=before,
            after=audit.snapshot(certificate),
        )
        count += 1
    return count


# --- Enterprises and their contacts (F-03) ------------------------------------------------------------

ENTERPRISE_FIELDS = (
    "uscc",
    "name",
    "address",
    "region",
    "industry",
    "risk_grade",
    "credit_grade",
    "legal_representative",
    "latitude",
    "longitude",
)


def _require_enterprise_region(actor, region: Region | None) -> None:
    """A body admin registers enterprises only where its body works."""
    if not can_create_enterprises(actor):
        raise PermissionDenied("只有平台管理员或执法单位管理员可以登记和修改企业信息")
    if actor.is_platform_admin or region is None:
        return
    if actor.body_id is None:
        raise PermissionDenied("您的账号未关联执法单位，不能登记企业；请联系平台管理员")
    scope = enterprise_region_of(actor.body)
    if scope is not None and not scope.contains(region):
        raise PermissionDenied(f"“{actor.body}”只能登记和修改{scope}范围内的企业，“{region}”不在其中")


@transaction.atomic
def create_enterprise(
    actor: User,
    *,
    uscc: str,
    name: str,
    region: Region,
    address: str = "",
    industry: str = "",
    risk_grade: str = Enterprise.RiskGrade.B,
    credit_grade: str = "",
    legal_representative: str = "",
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
) -> Enterprise:
    _require_enterprise_region(actor, region)
    enterprise = Enterprise(
        uscc=uscc_rules.normalise(uscc or ""),
        name=_text(name),
        region=region,
        address=_text(address),
        industry=_text(industry),
        risk_grade=risk_grade,
        credit_grade=_text(credit_grade),
        legal_representative=_text(legal_representative),
        latitude=latitude,
        longitude=longitude,
    )
    _validate_enterprise(enterprise)
    enterprise.save()
    audit.record(actor=actor, action="enterprise.create", obj=enterprise, after=audit.snapshot(enterprise))
    return enterprise


@transaction.atomic
def update_enterprise(actor: User, *, enterprise: Enterprise, **changes: Any) -> Enterprise:
    if not can_manage_enterprise(actor, enterprise):
        raise PermissionDenied(
            f"您不能修改企业“{enterprise}”的信息：只有平台管理员或其所在区域执法单位的管理员可以修改"
        )
    enterprise = _locked(enterprise)
    before = audit.snapshot(enterprise)
    for name in ENTERPRISE_FIELDS:
        if name in changes and isinstance(changes[name], str):
            changes[name] = uscc_rules.normalise(changes[name]) if name == "uscc" else _text(changes[name])
    _apply(enterprise, changes, ENTERPRISE_FIELDS, ())
    _require_enterprise_region(actor, enterprise.region if enterprise.region_id else None)
    _validate_enterprise(enterprise)
    enterprise.save()
    audit.record(
        actor=actor,
        action="enterprise.update",
        obj=enterprise,
        before=before,
        after=audit.snapshot(enterprise),
    )
    return enterprise


def _validate_enterprise(enterprise: Enterprise) -> None:
    problems = []
    if (problem := uscc_rules.problem(enterprise.uscc)) is not None:
        problems.append(f"统一社会信用代码有误：{problem}，请核对营业执照后重新填写")
    else:
        twin = Enterprise.objects.filter(uscc=enterprise.uscc).exclude(pk=enterprise.pk).first()
        if twin is not None:
            problems.append(f"统一社会信用代码{enterprise.uscc}已登记为企业“{twin}”，请勿重复登记")
    if not enterprise.name:
        problems.append("企业名称不能为空，请填写")
    if enterprise.region_id is None:
        problems.append("所在区域不能为空，请选择")
    if enterprise.risk_grade not in Enterprise.RiskGrade.values:
        problems.append("风险等级无效，请选择 A、B、C 或 D")
    if (enterprise.latitude is None) != (enterprise.longitude is None):
        problems.append("纬度和经度须一并填写，或都不填")
    elif enterprise.latitude is not None and not (
        -90 <= enterprise.latitude <= 90 and -180 <= enterprise.longitude <= 180
    ):
        problems.append("位置超出范围：纬度应在-90至90之间，经度应在-180至180之间")
    raise_if(problems, "企业信息有误")


# Who manages an enterprise's logins. A contact's phone logs in as the enterprise (its results, evaluations,
# complaints), so only two may name or remove one: the platform administrator, who is the platform's
# registration authority (there is no separate registration role), and the enterprise itself, on the portal,
# where adding someone needs the legal representative's approval by a code sent to the phone on record.
# Enforcement bodies never do: an inspecting body able to log in as the enterprise it inspects could read
# the complaints against itself and rate its own inspections.
CONTACTS_REFUSAL = (
    "只有平台管理员或企业本人可以维护企业“{enterprise}”的联系人：联系人凭手机号登录企业端，"
    "执法单位人员不能添加、修改或移除；请企业联系人在企业端（我的联系人）办理，或联系平台管理员"
)


def may_register_contacts(user) -> bool:
    """Who names and removes contacts from the registry pages, without the representative's code."""
    return bool(user.is_authenticated and user.is_platform_admin)


def is_own_contact(user, enterprise: Enterprise) -> bool:
    """A logged-in contact of this enterprise: manages its contacts on the portal."""
    return bool(
        user.is_authenticated
        and user.is_active
        and user.role == Role.ENTERPRISE_CONTACT
        and user.enterprise_id == enterprise.pk
    )


def can_manage_contacts(user, enterprise: Enterprise) -> bool:
    return may_register_contacts(user) or is_own_contact(user, enterprise)


def _require_contact_manager(actor, enterprise: Enterprise) -> None:
    if not can_manage_contacts(actor, enterprise):
        raise PermissionDenied(CONTACTS_REFUSAL.format(enterprise=enterprise))


def legal_representative_contact(enterprise: Enterprise) -> EnterpriseContact | None:
    """The legal representative on record, whose phone approves new contacts and is told of every change."""
    return (
        EnterpriseContact.objects.filter(
            enterprise=enterprise, kind=EnterpriseContact.Kind.LEGAL_REPRESENTATIVE
        )
        .order_by("pk")
        .first()
    )


def masked_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) == 11 else phone


def _contact_problems(enterprise: Enterprise, *, kind: str, name: str, phone: str) -> list[str]:
    problems = []
    if kind not in EnterpriseContact.Kind.values:
        problems.append("联系人类型无效，请选择法定代表人或现场负责人")
    if not name:
        problems.append("姓名不能为空，请填写")
    if not MOBILE_RE.match(phone):
        problems.append(f"手机号“{phone}”不是11位中国大陆手机号码，请更正（联系人凭此手机号接收验证码登录）")
    elif (twin := EnterpriseContact.objects.filter(enterprise=enterprise, phone=phone).first()) is not None:
        problems.append(f"手机号{phone}已是本企业的联系人{twin.name}，无需重复添加")
    if kind == EnterpriseContact.Kind.LEGAL_REPRESENTATIVE and (
        current := legal_representative_contact(enterprise)
    ):
        problems.append(
            f"企业已登记法定代表人{current.name}（手机号{masked_phone(current.phone)}），"
            "如需更换，请先移除原法定代表人再添加"
        )
    return problems


def _approval_subject(enterprise: Enterprise, *, name: str, phone: str) -> str:
    # What the representative's code approves: this person, with this phone, for this enterprise.
    return f"{enterprise.pk}:{phone}:{name}"


def _representative_for_approval(enterprise: Enterprise) -> EnterpriseContact:
    representative = legal_representative_contact(enterprise)
    if representative is None or not MOBILE_RE.match(representative.phone):
        raise DomainError(
            f"企业“{enterprise}”没有登记法定代表人的手机号，无法通过短信验证添加联系人；"
            "请法定代表人持营业执照联系平台管理员办理"
        )
    return representative


def request_contact_approval(actor: User, *, name: str, phone: str) -> EnterpriseContact:
    """The enterprise's first step to add an on-site contact: check the details, then send the legal
    representative a code that approves exactly this person and phone. Returns the representative."""
    enterprise = actor.enterprise if actor.is_authenticated and actor.enterprise_id else None
    if enterprise is None or not is_own_contact(actor, enterprise):
        raise PermissionDenied("只有企业联系人可以在企业端申请添加联系人")
    name, phone = _text(name), _text(phone)
    kind = EnterpriseContact.Kind.ON_SITE
    raise_if(_contact_problems(enterprise, kind=kind, name=name, phone=phone), "联系人信息有误")
    representative = _representative_for_approval(enterprise)
    request_approval_code(
        phone=representative.phone,
        purpose=LoginCode.Purpose.CONTACT_ADD,
        subject=_approval_subject(enterprise, name=name, phone=phone),
        text=(
            f"【检查码】{actor.full_name or actor.phone}申请将{name}（手机号{phone}）添加为“{enterprise}”的"
            "联系人，添加后可凭该手机号登录企业端查看本企业的检查、评议和投诉。如同意，请将验证码 {code} "
            "告知申请人，{minutes} 分钟内有效；如不同意，请勿告知他人。"
        ),
    )
    return representative


def add_contact(
    actor: User,
    *,
    enterprise: Enterprise,
    kind: str,
    name: str,
    phone: str,
    representative_code: str | None = None,
) -> EnterpriseContact:
    """Name a contact and give them a login: an enterprise-contact account keyed by the phone, with no
    password (they log in with a code sent to the phone).

    The platform administrator adds any kind. The enterprise itself adds on-site contacts only, with the
    code `request_contact_approval` sent to its legal representative. The legal representative and the
    other contacts are told by SMS once the change is saved.
    """
    _require_contact_manager(actor, enterprise)
    name, phone = _text(name), _text(phone)
    approved_by = None
    if not may_register_contacts(actor):
        if kind != EnterpriseContact.Kind.ON_SITE:
            raise DomainError("企业端只能添加现场负责人；法定代表人变更请持营业执照联系平台管理员办理")
        raise_if(_contact_problems(enterprise, kind=kind, name=name, phone=phone), "联系人信息有误")
        approved_by = _representative_for_approval(enterprise)
        if not _text(representative_code):
            raise DomainError("请填写法定代表人手机收到的验证码")
        # Outside the write's transaction: a wrong code's attempt must be saved, or guessing is unlimited.
        check_approval_code(
            phone=approved_by.phone,
            purpose=LoginCode.Purpose.CONTACT_ADD,
            subject=_approval_subject(enterprise, name=name, phone=phone),
            code=representative_code,
        )
    return _save_contact(
        actor, enterprise=enterprise, kind=kind, name=name, phone=phone, approved_by=approved_by
    )


@transaction.atomic
def _save_contact(
    actor: User,
    *,
    enterprise: Enterprise,
    kind: str,
    name: str,
    phone: str,
    approved_by: EnterpriseContact | None,
) -> EnterpriseContact:
    enterprise = _locked(enterprise)  # one change at a time per enterprise: the checks below stay true
    raise_if(_contact_problems(enterprise, kind=kind, name=name, phone=phone), "联系人信息有误")
    told = _contact_phones(enterprise)
    account = _contact_account(actor, enterprise=enterprise, name=name, phone=phone)
    contact = EnterpriseContact.objects.create(enterprise=enterprise, kind=kind, name=name, phone=phone)
    after = audit.snapshot(contact)
    if approved_by is not None:
        after["approved_by_legal_representative"] = f"{approved_by.name}（{masked_phone(approved_by.phone)}）"
    audit.record(actor=actor, action="contact.add", obj=contact, after=after)
    _tell_contacts(
        told - {phone},
        f"【检查码】{_by(actor)}已将{name}（手机号{masked_phone(phone)}，{contact.get_kind_display()}）"
        f"添加为“{enterprise}”的联系人，其可凭该手机号登录企业端。如有异议，请联系平台管理员。",
    )
    contact.account = account
    return contact


def _by(actor: User) -> str:
    if actor.is_platform_admin:
        return "平台管理员"
    return f"本企业联系人{actor.full_name or masked_phone(actor.phone)}"


def _contact_phones(enterprise: Enterprise) -> set[str]:
    """Every phone on record for the enterprise: the legal representative's and the other contacts'."""
    return set(EnterpriseContact.objects.filter(enterprise=enterprise).values_list("phone", flat=True))


def _tell_contacts(phones: Iterable[str], text: str) -> None:
    for phone in sorted(phones):
        if MOBILE_RE.match(phone):
            transaction.on_commit(lambda phone=phone: send_sms(phone, text))


def _contact_account(actor: User, *, enterprise: Enterprise, name: str, phone: str) -> User:
    account = User.objects.select_for_update().filter(phone=phone, role=Role.ENTERPRISE_CONTACT).first()
    if account is not None:
        if account.enterprise_id != enterprise.pk:
            still = EnterpriseContact.objects.filter(enterprise_id=account.enterprise_id, phone=phone).first()
            if still is not None:
                raise DomainError(
                    f"手机号{phone}已是企业“{still.enterprise}”的联系人，一个手机号只能登录一家企业；"
                    f"请换用其他手机号，或先从企业“{still.enterprise}”移除该联系人"
                )
        before = audit.snapshot(account, USER_SNAPSHOT_FIELDS)
        account.enterprise = enterprise
        account.is_active = True
        account.full_name = account.full_name or name
        account.save(update_fields=["enterprise", "is_active", "full_name"])
        audit.record(
            actor=actor,
            action="user.link_contact",
            obj=account,
            before=before,
            after=audit.snapshot(account, USER_SNAPSHOT_FIELDS),
        )
        return account
    if User.objects.filter(username=phone).exists():
        raise DomainError(f"用户名{phone}已被其他账号占用，不能为该联系人开通登录；请联系平台管理员处理")
    account = User(
        username=phone, full_name=name, role=Role.ENTERPRISE_CONTACT, phone=phone, enterprise=enterprise
    )
    account.set_unusable_password()
    account.save()
    audit.record(
        actor=actor,
        action="user.create_contact",
        obj=account,
        after=audit.snapshot(account, USER_SNAPSHOT_FIELDS),
    )
    return account


@transaction.atomic
def remove_contact(actor: User, *, contact: EnterpriseContact) -> None:
    """Remove a contact; their login is switched off (kept, so the audit trail still names them).

    The platform administrator removes any contact; the enterprise removes its on-site contacts (the legal
    representative's record is what approves new contacts, so changing it goes through the platform
    administrator). Everyone on record, the removed person included, is told by SMS."""
    enterprise = contact.enterprise
    _require_contact_manager(actor, enterprise)
    contact = _locked(contact)
    if not may_register_contacts(actor) and contact.kind == EnterpriseContact.Kind.LEGAL_REPRESENTATIVE:
        raise DomainError(
            f"{contact.name}是登记的法定代表人，其手机号用于核验添加联系人，企业端不能移除；"
            "法定代表人变更请持营业执照联系平台管理员办理"
        )
    told = _contact_phones(enterprise)
    before = audit.snapshot(contact)
    audit.record(actor=actor, action="contact.remove", obj=contact, before=before)
    contact.delete()
    _tell_contacts(
        told,
        f"【检查码】{_by(actor)}已将{contact.name}（手机号{masked_phone(before['phone'])}，"
        f"{contact.get_kind_display()}）从“{enterprise}”的联系人中移除，其登录已停用。"
        "如有异议，请联系平台管理员。",
    )
    accounts = User.objects.select_for_update().filter(
        phone=before["phone"], role=Role.ENTERPRISE_CONTACT, enterprise=enterprise, is_active=True
    )
    for account in accounts:
        account_before = audit.snapshot(account, USER_SNAPSHOT_FIELDS)
        account.is_active = False
        account.save(update_fields=["is_active"])
        audit.record(
            actor=actor,
            action="user.deactivate_contact",
            obj=account,
            before=account_before,
            after=audit.snapshot(account, USER_SNAPSHOT_FIELDS),
        )


# --- Inspection items (F-04) --------------------------------------------------------------------------

ITEM_FIELDS = ("code", "name", "field", "legal_basis", "checklist", "is_published")
ITEM_M2M = ("bodies",)


def _clean_checklist(checklist: Iterable[str] | str) -> list[str]:
    if isinstance(checklist, str):
        checklist = checklist.splitlines()
    return [line.strip() for line in checklist if line and line.strip()]


@transaction.atomic
def create_item(
    actor: User,
    *,
    code: str,
    name: str,
    field: Field,
    legal_basis: str,
    checklist: Iterable[str] = (),
    bodies: Iterable[EnforcementBody] = (),
    is_published: bool = True,
) -> InspectionItem:
    _require_platform_admin(actor, "新增检查事项")
    item = InspectionItem(
        code=_text(code),
        name=_text(name),
        field=field,
        legal_basis=_text(legal_basis),
        checklist=_clean_checklist(checklist),
        is_published=is_published,
    )
    bodies = list(bodies)
    _validate_item(item, bodies)
    item.save()
    item.bodies.set(bodies)
    audit.record(actor=actor, action="item.create", obj=item, after=audit.snapshot(item))
    return item


@transaction.atomic
def update_item(actor: User, *, item: InspectionItem, **changes: Any) -> InspectionItem:
    _require_platform_admin(actor, "修改检查事项")
    item = _locked(item)
    before = audit.snapshot(item)
    for name in ("code", "name", "legal_basis"):
        if name in changes:
            changes[name] = _text(changes[name])
    if "checklist" in changes:
        changes["checklist"] = _clean_checklist(changes["checklist"])
    m2m = _apply(item, changes, ITEM_FIELDS, ITEM_M2M)
    _validate_item(item, m2m["bodies"])
    item.save()
    item.bodies.set(m2m["bodies"])
    audit.record(actor=actor, action="item.update", obj=item, before=before, after=audit.snapshot(item))
    return item


def _validate_item(item: InspectionItem, bodies: list[EnforcementBody]) -> None:
    problems = []
    if not item.code:
        problems.append("事项编码不能为空，请填写")
    elif (twin := InspectionItem.objects.filter(code=item.code).exclude(pk=item.pk).first()) is not None:
        problems.append(f"事项编码“{item.code}”已被事项“{twin.name}”使用，请换一个编码")
    if not item.name:
        problems.append("检查事项名称不能为空，请填写")
    if item.field_id is None:
        problems.append("执法领域不能为空，请选择")
    if not item.legal_basis:
        problems.append("检查依据不能为空，请填写法律、法规、规章的名称和条款")
    if item.field_id is not None:
        outside = [str(body) for body in bodies if not body.fields.filter(pk=item.field_id).exists()]
        if outside:
            problems.append(
                f"执法单位“{'、'.join(outside)}”的执法领域不含“{item.field}”，不能实施该事项的检查；"
                "请先为该单位增加执法领域，或取消选择"
            )
    raise_if(problems, "检查事项信息有误")
