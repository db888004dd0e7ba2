"""Typical cases and bulletins (典型案例、通报, F-37), and the publication of a notified criticism (通报批评, F-33).

Seed 003 三（三）: the bureau publicises typical cases and bulletins; 二（二）2: a body given a decision letter may
be criticised by a bulletin within a certain range. Here a supervisor drafts one from findings or a decision
(or from a decision's 通报批评 measure), another supervisor of the district approves it (the seeds name no
approver; the four-eyes rule keeps a drafter from publishing alone), and a supervisor publishes it to the audience
chosen: the district's bodies, or the public at /supervision/bulletins/public/.

Privacy: a public bulletin names no enterprise. The enterprises behind its findings and decision are looked up,
and a public bulletin whose title or text names one is refused, unless its drafter confirmed that the name may be
published (`names_enterprises`, e.g. a case already made public by a court).

Each function takes the acting user first, checks role and state against `BULLETIN_TRANSITIONS`, changes the data
in one transaction and appends to the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from jianchama.core import audit
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied, raise_if
from jianchama.core.models import User
from jianchama.core.roles import Role
from jianchama.notifications.services import notify_user
from jianchama.registry import legal_acts
from jianchama.registry.legal_acts import LegalAct
from jianchama.registry.models import EnforcementBody, Enterprise

from .models import BULLETIN_TRANSITIONS, AccountabilityMeasure, Bulletin, Decision, Finding

BULLETIN_FIELDS = [
    "region",
    "kind",
    "audience",
    "title",
    "text",
    "names_enterprises",
    "status",
    "review_note",
]
BS = Bulletin.Status


def _text(value) -> str:
    # NUL is never text (PostgreSQL refuses it in a text column): dropped, as Django's form fields refuse it
    return "" if value is None else str(value).replace("\x00", "").strip()


def source_bodies(bulletin: Bulletin) -> list[EnforcementBody]:
    bodies = {f.body_id: f.body for f in bulletin.findings.select_related("body__region")}
    if bulletin.decision_id:
        decision = Decision.objects.select_related("body__region").get(pk=bulletin.decision_id)
        bodies.setdefault(decision.body_id, decision.body)
    return list(bodies.values())


def enterprise_names(*, findings: Sequence[Finding] = (), decision: Decision | None = None) -> list[str]:
    """The names of the enterprises behind the sources: the findings' tasks and the decision's finding's task."""
    task_ids = {f.task_id for f in findings if f.task_id}
    if decision is not None:
        finding = decision.recommendation.finding
        if finding.task_id:
            task_ids.add(finding.task_id)
    if not task_ids:
        return []
    names = Enterprise.objects.filter(tasks__pk__in=task_ids).values_list("name", flat=True).distinct()
    return sorted(set(names))


def named_enterprises(bulletin: Bulletin) -> list[str]:
    """The enterprises of the bulletin's sources that its title or text names."""
    names = enterprise_names(findings=list(bulletin.findings.all()), decision=bulletin.decision)
    words = f"{bulletin.title}\n{bulletin.text}"
    return [name for name in names if name and name in words]


def _privacy_problems(bulletin: Bulletin) -> list[str]:
    if bulletin.audience != Bulletin.Audience.PUBLIC or bulletin.names_enterprises:
        return []
    named = named_enterprises(bulletin)
    if not named:
        return []
    return [
        f"社会公开的通报不得出现企业名称（{'、'.join(named)}）：请改为「某企业」等表述；"
        "如确需公开企业名称，须由起草人确认可以公开"
    ]


def _require_bureau(actor, bodies: Sequence[EnforcementBody], what: str) -> None:
    for body in bodies:
        legal_acts.require(actor, LegalAct.PUBLISH_BULLETIN, body, what)


def _record(actor, bulletin: Bulletin, action: str, before: dict | None = None) -> None:
    audit.record(
        actor=actor,
        action=action,
        obj=bulletin,
        before=before,
        after=audit.snapshot(bulletin, BULLETIN_FIELDS),
    )


def _transition(actor, bulletin: Bulletin, to: str, **changes) -> Bulletin:
    if to not in BULLETIN_TRANSITIONS[bulletin.status]:
        raise InvalidTransition(
            f"「{bulletin.title}」当前状态为「{bulletin.get_status_display()}」，不能变为「{BS(to).label}」"
        )
    before = audit.snapshot(bulletin, BULLETIN_FIELDS)
    bulletin.status = to
    for name, value in changes.items():
        setattr(bulletin, name, value)
    bulletin.save()
    _record(actor, bulletin, "supervision.bulletin_status", before)
    return bulletin


def _locked(bulletin: Bulletin) -> Bulletin:
    # of=("self",): PostgreSQL locks no row of a nullable outer join (the decision)
    return (
        Bulletin.objects.select_for_update(of=("self",))
        .select_related("region", "decision")
        .get(pk=bulletin.pk)
    )


@transaction.atomic
def draft_bulletin(
    actor,
    *,
    kind: str,
    audience: str,
    title: str,
    text: str,
    findings: Sequence[Finding] = (),
    decision: Decision | None = None,
    measure: AccountabilityMeasure | None = None,
    names_enterprises: bool = False,
) -> Bulletin:
    """Draft a typical case or bulletin from findings and/or a decision; a notified criticism from its
    measure (the decision's 通报批评, published once). The drafter is a supervisor of the bodies' district."""
    problems = []
    if kind not in Bulletin.Kind.values:
        problems.append("请选择类别（典型案例、通报或通报批评）")
    if audience not in Bulletin.Audience.values:
        problems.append("请选择发布范围（本区各执法单位或社会公开）")
    title, text = _text(title), _text(text)
    if not title:
        problems.append("请填写标题")
    if not text:
        problems.append("请填写正文")
    if kind == Bulletin.Kind.NOTIFIED_CRITICISM:
        if measure is None or measure.kind != AccountabilityMeasure.Kind.NOTIFIED_CRITICISM:
            problems.append("通报批评须依据监督决定书决定的「通报批评」措施")
        else:
            decision = measure.decision
            if Bulletin.objects.filter(measure=measure).exists():
                problems.append("该通报批评措施已有通报，不能重复起草")
    elif measure is not None:
        problems.append("只有通报批评依据责任追究措施")
    findings = list(Finding.objects.select_related("body__region").filter(pk__in=[f.pk for f in findings]))
    if not findings and decision is None:
        problems.append("请选择依据的监督问题或监督决定书：典型案例、通报从监督发现的问题中提炼")
    raise_if(problems, "未起草")
    bodies = {f.body_id: f.body for f in findings}
    if decision is not None:
        decision = Decision.objects.select_related("body__region", "recommendation__finding").get(
            pk=decision.pk
        )
        bodies.setdefault(decision.body_id, decision.body)
    districts = {legal_acts.home_region(b).pk: legal_acts.home_region(b) for b in bodies.values()}
    if len(districts) > 1:
        raise DomainError("所依据的问题不在同一区：典型案例、通报由各区司法局分别发布")
    _require_bureau(actor, list(bodies.values()), "起草典型案例、通报")
    bulletin = Bulletin.objects.create(
        region=next(iter(districts.values())),
        kind=kind,
        audience=audience,
        title=title[:200],
        text=text,
        decision=decision,
        measure=measure,
        names_enterprises=bool(names_enterprises),
        created_by=actor,
    )
    bulletin.findings.set(findings)
    _record(actor, bulletin, "supervision.bulletin_drafted")
    return bulletin


@transaction.atomic
def edit_bulletin(
    actor, *, bulletin: Bulletin, title: str, text: str, audience: str, names_enterprises: bool
) -> Bulletin:
    """The drafter changes a draft (also one returned by the approver)."""
    bulletin = _locked(bulletin)
    if actor.pk != bulletin.created_by_id:
        raise PermissionDenied("只有起草人可以修改")
    if bulletin.status != BS.DRAFT:
        raise InvalidTransition(
            f"「{bulletin.title}」当前状态为「{bulletin.get_status_display()}」，不能修改"
        )
    problems = []
    title, text = _text(title), _text(text)
    if not title:
        problems.append("请填写标题")
    if not text:
        problems.append("请填写正文")
    if audience not in Bulletin.Audience.values:
        problems.append("请选择发布范围")
    raise_if(problems, "未保存")
    before = audit.snapshot(bulletin, BULLETIN_FIELDS)
    bulletin.title, bulletin.text, bulletin.audience = title[:200], text, audience
    bulletin.names_enterprises = bool(names_enterprises)
    bulletin.save()
    _record(actor, bulletin, "supervision.bulletin_edited", before)
    return bulletin


@transaction.atomic
def submit_bulletin(actor, *, bulletin: Bulletin) -> Bulletin:
    """The drafter submits the draft for approval; a public one naming an enterprise is refused here already."""
    bulletin = _locked(bulletin)
    if actor.pk != bulletin.created_by_id:
        raise PermissionDenied("只有起草人可以提交审核")
    raise_if(_privacy_problems(bulletin), "未提交审核")
    return _transition(actor, bulletin, BS.SUBMITTED)


@transaction.atomic
def review_bulletin(actor, *, bulletin: Bulletin, approve: bool, note: str = "") -> Bulletin:
    """Another supervisor of the district approves the submitted bulletin, or returns it to the drafter."""
    bulletin = _locked(bulletin)
    _require_bureau(actor, source_bodies(bulletin), "审核典型案例、通报")
    if actor.pk == bulletin.created_by_id:
        raise PermissionDenied("起草人不能审核自己起草的典型案例、通报，请由本局其他执法监督人员审核")
    note = _text(note)
    if not approve and not note:
        raise DomainError("退回修改须写明审核意见", problems=["请填写审核意见"])
    if bulletin.status != BS.SUBMITTED:
        raise InvalidTransition(
            f"「{bulletin.title}」当前状态为「{bulletin.get_status_display()}」，不能审核"
        )
    if approve:
        return _transition(
            actor, bulletin, BS.APPROVED, approved_by=actor, approved_at=timezone.now(), review_note=note
        )
    return _transition(actor, bulletin, BS.DRAFT, review_note=note)


@transaction.atomic
def publish_bulletin(actor, *, bulletin: Bulletin) -> Bulletin:
    """Publish an approved bulletin to its audience: the district's bodies are told in their inbox; a public
    one appears on the public page (never naming an enterprise unless the drafter confirmed it)."""
    bulletin = _locked(bulletin)
    _require_bureau(actor, source_bodies(bulletin), "发布典型案例、通报")
    if bulletin.status != BS.APPROVED:
        raise InvalidTransition(
            f"「{bulletin.title}」当前状态为「{bulletin.get_status_display()}」：只有审核通过的才能发布"
        )
    raise_if(_privacy_problems(bulletin), "未发布")
    bulletin = _transition(actor, bulletin, BS.PUBLISHED, published_at=timezone.now(), published_by=actor)
    admins = (
        User.objects.people()
        .filter(role=Role.BODY_ADMIN, is_active=True, body__region__path__startswith=bulletin.region.path)
        .order_by("pk")
    )
    for user in admins:
        notify_user(
            user=user,
            event="supervision.bulletin",
            subject=f"{bulletin.get_kind_display()}：{bulletin.title}",
            body=f"{bulletin.region.name}司法局发布了{bulletin.get_kind_display()}《{bulletin.title}》，请登录平台阅读。",
            related=bulletin,
        )
    return bulletin


@transaction.atomic
def withdraw_bulletin(actor, *, bulletin: Bulletin, note: str) -> Bulletin:
    """Take a published bulletin down (it leaves the public page and the open data); the reason is kept."""
    bulletin = _locked(bulletin)
    _require_bureau(actor, source_bodies(bulletin), "撤回典型案例、通报")
    note = _text(note)
    if not note:
        raise DomainError("请写明撤回原因", problems=["请写明撤回原因"])
    return _transition(actor, bulletin, BS.WITHDRAWN, review_note=note)


__all__ = [
    "draft_bulletin",
    "edit_bulletin",
    "enterprise_names",
    "named_enterprises",
    "publish_bulletin",
    "review_bulletin",
    "submit_bulletin",
    "withdraw_bulletin",
]
