"""Findings: registering one by hand or from another source (sampling, a complaint, a reconsideration lead,
an observer), and dismissing one that verification did not confirm. The data rules (`rules.py`), sampling
(`sampling.py`) and the three steps (`steps.py`) have their own modules; all of them write through
functions that take the acting user first, check permission and state, change the data in one transaction
and append to the audit log.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from jianchama.core import audit
from jianchama.core.errors import InvalidTransition, PermissionDenied, raise_if
from jianchama.core.roles import Role
from jianchama.registry.models import EnforcementBody

from .models import Finding, Severity

FINDING_FIELDS = ["source", "rule", "key", "body", "title", "severity", "status", "period", "task"]


def is_supervisor_of(user, body: EnforcementBody) -> bool:
    """A justice bureau supervisor whose region contains the body (or a platform administrator)."""
    return supervises_region(user, body.region.path)


def supervises_region(user, region_path: str) -> bool:
    """is_supervisor_of for a body known only by its region's path (a row of an export read as values)."""
    if not user.is_authenticated:
        return False
    if user.is_platform_admin:
        return True
    return (
        user.role == Role.SUPERVISOR
        and user.region_id is not None
        and region_path.startswith(user.region.path)
    )


def sees_finding_detail(user, finding: Finding) -> bool:
    """Whether `user` reads everything the finding records. A confidential one (it would single out an
    enterprise that evaluated the body, F-26) only the bureau's supervisors of the body's region and
    platform administrators do; the body, the district government and anyone else read its
    body_description. Needs finding.body.region."""
    return sees_detail(user, confidential=finding.confidential, region_path=finding.body.region.path)


def sees_detail(user, *, confidential: bool, region_path: str) -> bool:
    """sees_finding_detail for a finding read as values (its confidential flag and its body's region path)."""
    return not confidential or supervises_region(user, region_path)


def redact_for(user, finding: Finding) -> Finding:
    """The finding as `user` may read it, for pages and exports: a confidential finding's description becomes
    its body_description, its evidence and task go. The instance is changed in memory: never save it."""
    finding.redacted = not sees_finding_detail(user, finding)
    if finding.redacted:
        finding.description = finding.body_description
        finding.evidence = []
        finding.task = None
    return finding


def evidence_entry(obj, label: str | None = None) -> dict[str, Any]:
    """One link of a finding's evidence: the record's model label, key and a readable label."""
    return {"model": obj._meta.label, "pk": obj.pk, "label": label or str(obj)}


def create_finding(
    actor,
    *,
    source: str,
    body: EnforcementBody,
    title: str,
    description: str = "",
    severity: str = Severity.LOW,
    period: datetime.date | None = None,
    evidence: list[dict[str, Any]] | None = None,
    task=None,
) -> Finding:
    """Register a finding found otherwise than by a data rule (sampling, complaint, lead, observer, other).
    Only a supervisor of the body's region may; `actor` may be the text "系统" for a job."""
    if not isinstance(actor, str) and not is_supervisor_of(actor, body):
        raise PermissionDenied("只有该执法单位所在区域的司法局执法监督人员可以登记监督问题")
    problems = []
    if source not in Finding.Source.values or source == Finding.Source.DATA_RULE:
        problems.append("请选择问题来源（数据监督规则的问题由规则自动生成）")
    if not title.strip():
        problems.append("请填写问题")
    if severity not in Severity.values:
        problems.append("严重程度无效")
    raise_if(problems, "监督问题未登记")
    today = timezone.localdate()
    with transaction.atomic():
        finding = Finding.objects.create(
            source=source,
            body=body,
            title=title.strip()[:200],
            description=description.strip(),
            severity=severity,
            period=(period or today).replace(day=1),
            evidence=evidence or [],
            task=task,
            created_by=None if isinstance(actor, str) else actor,
        )
        audit.record(
            actor=actor,
            action="supervision.finding_created",
            obj=finding,
            after=audit.snapshot(finding, FINDING_FIELDS),
        )
    return finding


def dismiss_finding(actor, *, finding: Finding, note: str) -> Finding:
    """Close a finding that verification did not confirm (only while it is still open, before any warning)."""
    with transaction.atomic():
        finding = Finding.objects.select_for_update().select_related("body__region").get(pk=finding.pk)
        if not is_supervisor_of(actor, finding.body):
            raise PermissionDenied("只有该执法单位所在区域的司法局执法监督人员可以核销监督问题")
        if finding.status != Finding.Status.OPEN:
            raise InvalidTransition(
                f"监督问题当前状态为「{finding.get_status_display()}」，只有待核实的问题可以核销"
            )
        raise_if([] if note.strip() else ["请填写核实情况"], "监督问题未核销")
        before = audit.snapshot(finding, FINDING_FIELDS)
        finding.status = Finding.Status.DISMISSED
        finding.close_note = note.strip()
        finding.closed_at = timezone.now()
        finding.save(update_fields=["status", "close_note", "closed_at"])
        audit.record(
            actor=actor,
            action="supervision.finding_dismissed",
            obj=finding,
            before=before,
            after=audit.snapshot(finding, FINDING_FIELDS),
        )
    return finding
