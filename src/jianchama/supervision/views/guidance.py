"""Pages of guidance opinions (F-37): the list with each opinion's one-month deadline (overdue flagged), marking a
problem as systemic from chosen findings, an opinion's page (issue it, a recipient body acknowledges it), its PDF.

Reading goes through `visible_to` (out of scope is 404); every change is a POST to `guidance.py`, whose refusals
come back as a message (a permission refusal is a 403 page that says why).
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from jianchama.core import audit, files
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.formats import chinese_date
from jianchama.core.pages import page_view, paginate
from jianchama.core.roles import Role
from jianchama.registry.legal_acts import LegalAct, may_perform
from jianchama.registry.models import EnforcementBody, Field

from .. import guidance
from ..models import Finding, GuidanceOpinion

FINDING_CHOICES = 200


def _opinion(request, pk) -> GuidanceOpinion:
    return get_object_or_404(
        GuidanceOpinion.objects.visible_to(request.user).select_related("region", "field", "created_by"),
        pk=pk,
    )


def _ids(values) -> list[int]:
    return [int(v) for v in values if str(v).isdigit() and len(str(v)) < 12]


@page_view
def guidance_list(request):
    user = request.user
    if not (
        user.is_platform_admin or user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT, Role.BODY_ADMIN)
    ):
        raise PermissionDenied("只有司法局执法监督人员、区政府和执法单位管理员可以查看指导性意见")
    opinions = GuidanceOpinion.objects.visible_to(user).select_related("region", "field")
    overdue_only = request.GET.get("overdue") == "1"
    if overdue_only:
        opinions = opinions.filter(
            Q(status=GuidanceOpinion.Status.DRAFT, due_on__lt=timezone.localdate())
            | Q(due_missed_at__isnull=False)
        )
    opinions = opinions.annotate(
        recipient_count=Count("recipients", distinct=True),
        acknowledged_count=Count(
            "recipients", filter=Q(recipients__acknowledged_at__isnull=False), distinct=True
        ),
    ).order_by("-marked_on", "-pk")  # an aggregating query drops Meta.ordering
    page = paginate(request, opinions)
    for opinion in page:
        opinion.deadline = guidance.deadline(opinion)
    return render(
        request,
        "supervision/guidance/list.html",
        {"page": page, "overdue_only": overdue_only, "may_mark": user.role == Role.SUPERVISOR},
    )


@page_view
def guidance_create(request):
    """Mark a problem as systemic: choose the findings (of several bodies, or of one field), say what the
    problem is; the opinion is then due one calendar month later."""
    user = request.user
    if user.role != Role.SUPERVISOR:
        raise PermissionDenied("只有司法局执法监督人员可以认定系统性问题、提出指导性意见")
    candidates = (
        Finding.objects.visible_to(user)
        .exclude(status=Finding.Status.DISMISSED)
        .select_related("body")
        .order_by("-found_at", "-pk")
    )
    query = (request.GET.get("q") or "").replace("\x00", "").strip()[:50]
    if query:
        candidates = candidates.filter(Q(title__icontains=query) | Q(body__name__icontains=query))
    values = {"title": "", "problem": "", "field": ""}
    chosen: list[int] = _ids(request.GET.getlist("finding"))
    if request.method == "POST":
        data = request.POST
        values = {k: data.get(k, "") for k in values}
        chosen = _ids(data.getlist("finding"))
        field = Field.objects.filter(pk__in=_ids([values["field"]])).first() if values["field"] else None
        extra = EnforcementBody.objects.filter(pk__in=_ids(data.getlist("body"))).select_related("region")
        try:
            opinion = guidance.mark_systemic(
                user,
                findings=list(Finding.objects.visible_to(user).filter(pk__in=chosen)),
                title=values["title"],
                problem=values["problem"],
                field=field,
                bodies=list(extra),
            )
        except PermissionDenied:
            raise
        except DomainError as error:
            for problem in error.problems or [error.message]:
                messages.error(request, problem)
        else:
            messages.success(
                request,
                f"已认定为系统性问题，指导性意见应于{chinese_date(opinion.due_on)}前提出（1个月内）",
            )
            return redirect("supervision:guidance_detail", opinion.pk)
    return render(
        request,
        "supervision/guidance/form.html",
        {
            "candidates": list(candidates[:FINDING_CHOICES]),
            "chosen": set(chosen),
            "fields": Field.objects.order_by("code"),
            "values": values,
            "query": query,
        },
    )


@page_view
def guidance_detail(request, pk):
    opinion = _opinion(request, pk)
    user = request.user
    recipients = list(opinion.recipients.select_related("body__region", "acknowledged_by"))
    own = next((r for r in recipients if user.role == Role.BODY_ADMIN and r.body_id == user.body_id), None)
    may_issue = (
        opinion.status == GuidanceOpinion.Status.DRAFT
        and bool(recipients)
        and all(may_perform(user, LegalAct.ISSUE_GUIDANCE, r.body) for r in recipients)
    )
    findings = (
        opinion.findings.visible_to(user).select_related("body") if user.role != Role.BODY_ADMIN else []
    )
    return render(
        request,
        "supervision/guidance/detail.html",
        {
            "opinion": opinion,
            "deadline": guidance.deadline(opinion),
            "recipients": recipients,
            "findings": findings,
            "may_issue": may_issue,
            "may_acknowledge": own is not None
            and own.acknowledged_at is None
            and opinion.status == GuidanceOpinion.Status.ISSUED,
            "timeline": audit.history(opinion),
        },
    )


@require_POST
@page_view
def guidance_action(request, pk, action):
    opinion = _opinion(request, pk)
    try:
        if action == "issue":
            opinion = guidance.issue_guidance(
                request.user, opinion=opinion, guidance=request.POST.get("guidance", "")
            )
            done = f"已印发指导性意见{opinion.number}，并通知了各执法单位签收"
        elif action == "acknowledge":
            guidance.acknowledge_guidance(request.user, opinion=opinion)
            done = "已签收"
        else:
            raise Http404
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("supervision:guidance_detail", opinion.pk)


@page_view
def guidance_pdf(request, pk):
    opinion = _opinion(request, pk)
    if not opinion.document:
        raise Http404
    return files.send(request, opinion.document, f"{opinion.number}.pdf")
