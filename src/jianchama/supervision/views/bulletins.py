"""Pages of typical cases and bulletins (F-37) and of notified criticism (F-33): the staff list, drafting from
findings, a decision or its 通报批评 measure, a bulletin's page with its workflow (submit, approve or return,
publish, withdraw), and the public pages (no login, rate-limited per client address) of the published public ones.

Reading goes through `visible_to` (out of scope is 404; the public pages through `published_public`); every
change is a POST to `bulletins.py`.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_ratelimit.core import get_usage

from jianchama.core import audit
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.pages import page_view, paginate
from jianchama.core.roles import Role
from jianchama.core.views import rate_limited
from jianchama.registry.legal_acts import LegalAct, may_perform

from .. import bulletins
from ..models import AccountabilityMeasure, Bulletin, Decision, Finding

PUBLIC_RATE_LIMIT = "60/m"  # setting BULLETIN_PUBLIC_RATE_LIMIT overrides it
FINDING_CHOICES = 200
STAFF_ROLES = (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT, Role.BODY_ADMIN, Role.INSPECTOR)


def _ids(values) -> list[int]:
    return [int(v) for v in values if str(v).isdigit() and len(str(v)) < 12]


def _bulletin(request, pk) -> Bulletin:
    return get_object_or_404(
        Bulletin.objects.visible_to(request.user).select_related(
            "region", "decision", "measure", "created_by", "approved_by", "published_by"
        ),
        pk=pk,
    )


def public_limited(request) -> bool:
    rate = getattr(settings, "BULLETIN_PUBLIC_RATE_LIMIT", PUBLIC_RATE_LIMIT)
    usage = get_usage(request, group="bulletins-public", key="ip", rate=rate, increment=True)
    return bool(usage and usage["should_limit"])


@page_view
def bulletin_list(request):
    user = request.user
    if not (user.is_platform_admin or user.role in STAFF_ROLES):
        raise PermissionDenied("只有执法单位、司法局执法监督人员和区政府可以查看本区的典型案例与通报")
    items = Bulletin.objects.visible_to(user).select_related("region")
    status = request.GET.get("status", "")
    if status in Bulletin.Status.values:
        items = items.filter(status=status)
    return render(
        request,
        "supervision/bulletins/list.html",
        {
            "page": paginate(request, items),
            "statuses": Bulletin.Status.choices,
            "status": status,
            "may_draft": user.role == Role.SUPERVISOR,
        },
    )


@page_view
def bulletin_create(request):
    """Draft from chosen findings, or from a decision (?decision=) or its notified criticism (?measure=)."""
    user = request.user
    if user.role != Role.SUPERVISOR:
        raise PermissionDenied("只有司法局执法监督人员可以起草典型案例、通报")
    source = request.POST if request.method == "POST" else request.GET
    measure = (
        AccountabilityMeasure.objects.filter(
            decision__in=Decision.objects.visible_to(user), pk__in=_ids([source.get("measure", "")])
        )
        .select_related("decision")
        .first()
    )
    decision = (
        measure.decision
        if measure
        else Decision.objects.visible_to(user).filter(pk__in=_ids([source.get("decision", "")])).first()
    )
    candidates = (
        Finding.objects.visible_to(user)
        .exclude(status__in=[Finding.Status.DISMISSED, Finding.Status.OPEN])
        .select_related("body")
        .order_by("-found_at", "-pk")[:FINDING_CHOICES]
    )
    chosen = set(_ids(source.getlist("finding")))
    default_kind = Bulletin.Kind.NOTIFIED_CRITICISM if measure else Bulletin.Kind.TYPICAL_CASE
    values = {
        "kind": source.get("kind") or default_kind,
        "audience": source.get("audience") or Bulletin.Audience.DISTRICT_BODIES,
        "title": source.get("title", ""),
        "text": source.get("text", ""),
        "names_enterprises": source.get("names_enterprises") == "1",
    }
    if request.method == "POST":
        try:
            bulletin = bulletins.draft_bulletin(
                user,
                kind=values["kind"],
                audience=values["audience"],
                title=values["title"],
                text=values["text"],
                findings=list(Finding.objects.visible_to(user).filter(pk__in=chosen)),
                decision=decision,
                measure=measure,
                names_enterprises=values["names_enterprises"],
            )
        except PermissionDenied:
            raise
        except DomainError as error:
            for problem in error.problems or [error.message]:
                messages.error(request, problem)
        else:
            messages.success(request, "已起草，请核对后提交审核")
            return redirect("supervision:bulletin_detail", bulletin.pk)
    return render(
        request,
        "supervision/bulletins/form.html",
        {
            "candidates": candidates,
            "chosen": chosen,
            "decision": decision,
            "measure": measure,
            "values": values,
            "kinds": Bulletin.Kind.choices,
            "audiences": Bulletin.Audience.choices,
        },
    )


@page_view
def bulletin_detail(request, pk):
    item = _bulletin(request, pk)
    user = request.user
    staff = user.is_platform_admin or user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT)
    bodies = bulletins.source_bodies(item) if user.role == Role.SUPERVISOR else []
    bureau = bool(bodies) and all(may_perform(user, LegalAct.PUBLISH_BULLETIN, b) for b in bodies)
    drafter = item.created_by_id == user.pk
    S = Bulletin.Status
    return render(
        request,
        "supervision/bulletins/detail.html",
        {
            "item": item,
            "findings": item.findings.visible_to(user).select_related("body") if staff else [],
            "named": bulletins.named_enterprises(item) if staff else [],
            "timeline": audit.history(item) if staff else [],
            "audiences": Bulletin.Audience.choices,
            "may": {
                "edit": drafter and item.status == S.DRAFT,
                "submit": drafter and item.status == S.DRAFT,
                "review": bureau and not drafter and item.status == S.SUBMITTED,
                "publish": bureau and item.status == S.APPROVED,
                "withdraw": bureau and item.status == S.PUBLISHED,
            },
        },
    )


@require_POST
@page_view
def bulletin_action(request, pk, action):
    item = _bulletin(request, pk)
    data, user = request.POST, request.user
    calls = {
        "edit": (
            lambda: bulletins.edit_bulletin(
                user,
                bulletin=item,
                title=data.get("title", ""),
                text=data.get("text", ""),
                audience=data.get("audience", ""),
                names_enterprises=data.get("names_enterprises") == "1",
            ),
            "已保存",
        ),
        "submit": (lambda: bulletins.submit_bulletin(user, bulletin=item), "已提交审核"),
        "approve": (
            lambda: bulletins.review_bulletin(user, bulletin=item, approve=True, note=data.get("note", "")),
            "已审核通过，可以发布",
        ),
        "return": (
            lambda: bulletins.review_bulletin(user, bulletin=item, approve=False, note=data.get("note", "")),
            "已退回起草人修改",
        ),
        "publish": (lambda: bulletins.publish_bulletin(user, bulletin=item), "已发布"),
        "withdraw": (
            lambda: bulletins.withdraw_bulletin(user, bulletin=item, note=data.get("note", "")),
            "已撤回",
        ),
    }
    if action not in calls:
        raise Http404
    call, done = calls[action]
    try:
        call()
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("supervision:bulletin_detail", item.pk)


# --- Public ------------------------------------------------------------------------------------------------


def public_list(request):
    """The published public typical cases and bulletins: three queries however many (count, page, nothing
    per row)."""
    if public_limited(request):
        return rate_limited(request)
    items = Bulletin.objects.published_public().select_related("region").order_by("-published_at", "-pk")
    kind = request.GET.get("kind", "")
    if kind in Bulletin.Kind.values:
        items = items.filter(kind=kind)
    return render(
        request,
        "supervision/bulletins/public_list.html",
        {"page": paginate(request, items, per_page=20), "kinds": Bulletin.Kind.choices, "kind": kind},
    )


def public_detail(request, pk):
    if public_limited(request):
        return rate_limited(request)
    item = get_object_or_404(Bulletin.objects.published_public().select_related("region"), pk=pk)
    return render(request, "supervision/bulletins/public_detail.html", {"item": item})
