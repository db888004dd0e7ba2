"""The qualification gate (F-05): may these bodies, with these inspectors, inspect these items on this day?

It returns every rule broken, not just the first, each naming who and why, so an approver can fix them all at
once. The task workflow calls it on approval and before a code is issued; nothing here writes.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from jianchama.core.formats import chinese_date

from .models import Certificate, EnforcementBody, InspectionItem, Inspector

MIN_INSPECTORS = 2


class Rule:
    BODY_INACTIVE = "body_inactive"
    BODY_NOT_AUTHORISED = "body_not_authorised"
    ENTRUSTMENT_OUT_OF_SCOPE = "entrustment_out_of_scope"
    ENTRUSTMENT_EXPIRED = "entrustment_expired"
    ITEM_NOT_PUBLISHED = "item_not_published"
    INSPECTOR_NOT_OF_BODY = "inspector_not_of_body"
    INSPECTOR_INACTIVE = "inspector_inactive"
    CERTIFICATE_MISSING = "certificate_missing"
    CERTIFICATE_EXPIRED = "certificate_expired"
    CERTIFICATE_SUSPENDED = "certificate_suspended"
    CERTIFICATE_REVOKED = "certificate_revoked"
    CERTIFICATE_WRONG_FIELD = "certificate_wrong_field"
    TOO_FEW_INSPECTORS = "too_few_inspectors"


@dataclass(frozen=True)
class Problem:
    rule: str
    message: str

    def __str__(self) -> str:
        return self.message


def check_qualification(
    *,
    bodies: Sequence[EnforcementBody] | Mapping[EnforcementBody, Sequence[InspectionItem]],
    inspectors: Sequence[Inspector],
    items: Sequence[InspectionItem] = (),
    on: datetime.date,
) -> list[Problem]:
    """Every rule broken. `bodies` is a list (each body takes every item) or, for a joint inspection, a
    mapping of each body to the items it inspects."""
    if isinstance(bodies, Mapping):
        assignments = {body: list(body_items) for body, body_items in bodies.items()}
    else:
        assignments = {body: list(items) for body in bodies}
    problems: list[Problem] = []
    for body, body_items in assignments.items():
        problems += _body_problems(body, body_items, on)
    problems += _inspector_problems(list(assignments), inspectors, assignments, on)
    return problems


def _body_problems(
    body: EnforcementBody, items: Iterable[InspectionItem], on: datetime.date
) -> list[Problem]:
    problems = []
    if not body.is_active:
        problems.append(Problem(Rule.BODY_INACTIVE, f"执法单位“{body}”已停用，不能实施检查"))
    allowed_ids = set(body.items.values_list("pk", flat=True))
    body_field_ids = set(body.fields.values_list("pk", flat=True))
    entrusted_ids = set(body.entrusted_items.values_list("pk", flat=True))
    is_entrusted = body.body_type == EnforcementBody.Type.ENTRUSTED
    if is_entrusted and not body.entrustment_covers(on):
        if body.entrustment_end and body.entrustment_end < on:
            reason = f"委托期限已于{chinese_date(body.entrustment_end)}届满"
        elif body.entrustment_start and body.entrustment_start > on:
            reason = f"委托期限自{chinese_date(body.entrustment_start)}起算，尚未开始"
        else:
            reason = "未登记委托期限"
        problems.append(
            Problem(
                Rule.ENTRUSTMENT_EXPIRED,
                f"受委托组织“{body}”{reason}，{chinese_date(on)}不能以委托名义实施检查",
            )
        )
    for item in items:
        if not item.is_published:
            problems.append(
                Problem(
                    Rule.ITEM_NOT_PUBLISHED,
                    f"检查事项“{item.name}”未列入公布的检查事项清单，不能检查（无事项不检查）",
                )
            )
        if item.pk not in allowed_ids or item.field_id not in body_field_ids:
            problems.append(
                Problem(
                    Rule.BODY_NOT_AUTHORISED, f"执法单位“{body}”无权检查事项“{item.name}”（{item.field}）"
                )
            )
        elif is_entrusted and item.pk not in entrusted_ids:
            organ = body.entrusting_organ or "委托机关"
            problems.append(
                Problem(
                    Rule.ENTRUSTMENT_OUT_OF_SCOPE,
                    f"受委托组织“{body}”的委托权限不含事项“{item.name}”（委托机关：{organ}）",
                )
            )
    return problems


def _inspector_problems(
    bodies: list[EnforcementBody],
    inspectors: Sequence[Inspector],
    assignments: Mapping[EnforcementBody, Sequence[InspectionItem]],
    on: datetime.date,
) -> list[Problem]:
    problems = []
    distinct = list({inspector.pk: inspector for inspector in inspectors}.values())
    if len(distinct) < MIN_INSPECTORS:
        problems.append(
            Problem(
                Rule.TOO_FEW_INSPECTORS,
                f"现场检查的执法人员不得少于{MIN_INSPECTORS}人，当前只有{len(distinct)}人",
            )
        )
    body_ids = {body.pk for body in bodies}
    for inspector in distinct:
        if inspector.body_id not in body_ids:
            problems.append(
                Problem(
                    Rule.INSPECTOR_NOT_OF_BODY,
                    f"执法人员{inspector.name}不属于参加本次检查的执法单位（其所属单位为“{inspector.body}”）",
                )
            )
            continue
        if not inspector.is_active:
            problems.append(
                Problem(
                    Rule.INSPECTOR_INACTIVE, f"执法人员{inspector.name}已不在岗（离岗），不能安排实施检查"
                )
            )
            continue
        body = next(b for b in bodies if b.pk == inspector.body_id)
        # Only fields the body itself covers: an item outside them is already refused as unauthorised.
        body_fields = set(body.fields.all())
        needed_fields = {item.field for item in assignments[body]} & body_fields or body_fields
        problems += _certificate_problems(inspector, needed_fields, on)
    return problems


def _certificate_problems(inspector: Inspector, needed_fields: set, on: datetime.date) -> list[Problem]:
    certificates = list(inspector.certificates.prefetch_related("fields"))
    if not certificates:
        return [Problem(Rule.CERTIFICATE_MISSING, f"执法人员{inspector.name}没有行政执法证件，不能实施检查")]
    valid = [c for c in certificates if c.status_on(on) == Certificate.Status.VALID and c.valid_from <= on]
    if not valid:
        return [_invalid_certificate_problem(inspector, _most_relevant(certificates), on)]
    covered = {field for certificate in valid for field in certificate.fields.all()}
    missing = sorted((f for f in needed_fields if f not in covered), key=lambda f: f.code)
    if missing:
        numbers = "、".join(c.number for c in valid)
        return [
            Problem(
                Rule.CERTIFICATE_WRONG_FIELD,
                f"执法人员{inspector.name}的执法证（{numbers}）不含执法领域“{'、'.join(f.name for f in missing)}”",
            )
        ]
    return []


def _most_relevant(certificates: list[Certificate]) -> Certificate:
    return max(certificates, key=lambda c: c.valid_until)


def _invalid_certificate_problem(
    inspector: Inspector, certificate: Certificate, on: datetime.date
) -> Problem:
    status = certificate.status_on(on)
    name, number = inspector.name, certificate.number
    if status == Certificate.Status.SUSPENDED:
        reason = f"（{certificate.status_reason}）" if certificate.status_reason else ""
        return Problem(
            Rule.CERTIFICATE_SUSPENDED, f"执法人员{name}的执法证{number}已被暂停使用{reason}，不能实施检查"
        )
    if status == Certificate.Status.REVOKED:
        reason = f"（{certificate.status_reason}）" if certificate.status_reason else ""
        return Problem(
            Rule.CERTIFICATE_REVOKED, f"执法人员{name}的执法证{number}已被收回{reason}，不能实施检查"
        )
    if certificate.valid_from > on:
        return Problem(
            Rule.CERTIFICATE_EXPIRED,
            f"执法人员{name}的执法证{number}自{chinese_date(certificate.valid_from)}起生效，{chinese_date(on)}尚未生效",
        )
    return Problem(
        Rule.CERTIFICATE_EXPIRED,
        f"执法人员{name}的执法证{number}已于{chinese_date(certificate.valid_until)}过期，不能实施检查",
    )
