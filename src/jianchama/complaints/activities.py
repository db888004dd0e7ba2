"""Observers' visits and meetings (走访、座谈会; seed 003 二（一）2; F-47).

Seed 003 asks the bureau, with the federation of industry and commerce and the trade associations, to hear
enterprises "通过定期召开座谈会、聘请法治观察员等方式", to learn "企业在接受行政检查过程中遇到的困难和问题" and
collect "企业对行政检查工作的意见和建议". A rule-of-law observer, or a supervisor of the bureau, records each visit
to enterprises and each meeting with them here: when, where, who organised it, how many enterprises were heard,
what they raised and what they suggested. Which enterprise said what is not recorded (it is kept as anonymous as
an evaluation is, F-26); a problem to follow up becomes a lead in the complaint ledger (`register_complaint(...,
activity=...)`), which names the body and, if need be, the enterprise, and goes the complaint's way to a finding.

Bodies see neither the records nor their figures; the supervisors of the region see them all, an observer his
own. Every refusal is in Chinese and saves nothing; every record is audited.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from jianchama.core import audit
from jianchama.core.errors import PermissionDenied, raise_if
from jianchama.core.roles import Role

from .models import Complaint, ObserverActivity

Kind = ObserverActivity.Kind

MAX_ENTERPRISES = 10_000
MAX_TEXT = 5_000
FIELDS = (
    "kind",
    "region_id",
    "held_on",
    "place",
    "organiser",
    "enterprise_count",
    "participants",
    "problems",
    "suggestions",
)


def may_record(user) -> bool:
    """Observers and the bureau's supervisors of a region record visits and meetings, in their own region."""
    return (
        user.is_authenticated
        and user.is_active
        and user.role in (Role.OBSERVER, Role.SUPERVISOR)
        and user.region_id is not None
    )


def may_view(user) -> bool:
    return user.is_authenticated and (user.is_platform_admin or may_record(user))


def record_activity(
    actor,
    *,
    kind: str,
    held_on: datetime.date | None,
    place: str,
    enterprise_count: int | None,
    problems: str,
    organiser: str = "",
    participants: str = "",
    suggestions: str = "",
) -> ObserverActivity:
    """Record a visit to enterprises or a meeting with them, in the actor's region."""
    if not may_record(actor):
        raise PermissionDenied("只有法治观察员和司法局执法监督人员可以记录走访、座谈情况")
    place, organiser = (place or "").strip(), (organiser or "").strip()
    participants = (participants or "").strip()
    problems, suggestions = (problems or "").strip(), (suggestions or "").strip()
    today = timezone.localdate()
    issues: list[str] = []
    if kind not in Kind.values:
        issues.append("请选择走访企业或座谈会")
    if held_on is None:
        issues.append("请填写日期")
    elif held_on > today:
        issues.append("日期不能晚于今天：请在走访或座谈之后记录")
    if not place:
        issues.append("请填写地点")
    elif len(place) > 200:
        issues.append("地点不能超过200个字")
    if len(organiser) > 100:
        issues.append("组织单位不能超过100个字")
    if len(participants) > 500:
        issues.append("参加人员不能超过500个字")
    if enterprise_count is None or not 1 <= enterprise_count <= MAX_ENTERPRISES:
        issues.append(f"参与企业数请填写1至{MAX_ENTERPRISES}之间的整数")
    if not problems:
        issues.append("请填写企业反映的困难和问题（没有的，写“未反映问题”）")
    if len(problems) > MAX_TEXT or len(suggestions) > MAX_TEXT:
        issues.append(f"困难和问题、意见和建议各不超过{MAX_TEXT}字")
    raise_if(issues, "走访座谈记录未保存")
    with transaction.atomic():
        activity = ObserverActivity.objects.create(
            kind=kind,
            region_id=actor.region_id,
            held_on=held_on,
            place=place,
            organiser=organiser,
            enterprise_count=enterprise_count,
            participants=participants,
            problems=problems,
            suggestions=suggestions,
            recorded_by=actor,
        )
        audit.record(
            actor=actor,
            action="activity.recorded",
            obj=activity,
            after=audit.snapshot(activity, FIELDS),
        )
    return activity


@dataclass(frozen=True)
class Totals:
    visits: int
    meetings: int
    enterprises: int
    leads: int


def totals(activities: QuerySet[ObserverActivity]) -> Totals:
    """The figures of a list of activities, in two queries whatever its length."""
    row = activities.aggregate(
        visits=Count("id", filter=Q(kind=Kind.VISIT)),
        meetings=Count("id", filter=Q(kind=Kind.MEETING)),
        enterprises=Sum("enterprise_count"),
    )
    leads = Complaint.objects.filter(activity__in=activities.values("pk")).count()
    return Totals(row["visits"], row["meetings"], row["enterprises"] or 0, leads)
