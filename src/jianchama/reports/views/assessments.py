"""Pages of the assessment of bodies (考核评议, F-37): the list (with the form to compute a district's year), an
assessment's ranking table, a body's breakdown, the Excel export of the ranking table, and the schemes (list
with the form for a new one, a scheme's items, its editor while a draft).

Reading goes through `visible_to` (out of scope is 404): supervisors see their district's (the city's all),
the district government its district's issued assessments, a body's administrator only his own body's row,
breakdown and rank. Every change is a POST to `assessment.py`, whose refusals come back as a message or as
the form's errors (a permission refusal is a 403 page that says why).
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import F
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from jianchama.core import audit
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.pages import page_view, paginate
from jianchama.core.roles import Role
from jianchama.core.spreadsheets import Sheet, xlsx_response
from jianchama.registry.models import Region

from .. import assessment as services
from .. import metrics, scoring
from ..models import Assessment, AssessmentScheme, AssessmentScore

READERS = (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT, Role.BODY_ADMIN)


def _may_open(user) -> bool:
    return user.is_platform_admin or user.role in READERS


def _require_reader(user) -> None:
    if not _may_open(user):
        raise PermissionDenied("执法单位考核评议供司法局执法监督人员、区政府和被考核的执法单位查看")


def _districts(user) -> list[Region]:
    """The districts the user may assess: every one (platform administrators, the city's supervisors), his
    own (a district's or a town's supervisors), or none."""
    if user.is_platform_admin:
        return list(Region.objects.filter(level=Region.Level.DISTRICT).order_by("path"))
    if user.role != Role.SUPERVISOR or not user.region_id:
        return []
    if user.region.level == Region.Level.CITY:
        return list(Region.objects.filter(level=Region.Level.DISTRICT).order_by("path"))
    return [services.district_of(user.region)]


def _int(value, default=None):
    try:
        return int(str(value)[:12])
    except (TypeError, ValueError):
        return default


def _years() -> range:
    this = timezone.localdate().year
    return range(this, this - 6, -1)


# --- Assessments ----------------------------------------------------------------------------------------------


@page_view
def assessment_list(request):
    user = request.user
    _require_reader(user)
    assessments = Assessment.objects.visible_to(user).select_related("region", "scheme")
    page = paginate(request, assessments.order_by("-year", "region__path", "-scheme__version", "pk"))
    own = {}
    if user.role == Role.BODY_ADMIN:
        own = {
            score.assessment_id: score
            for score in AssessmentScore.objects.visible_to(user).filter(assessment__in=[a.pk for a in page])
        }
    rows = [(a, own.get(a.pk)) for a in page]
    districts = _districts(user)
    schemes = (
        AssessmentScheme.objects.visible_to(user)
        .filter(status=AssessmentScheme.Status.ACTIVE)
        .select_related("region")
        if districts
        else []
    )
    return render(
        request,
        "reports/assessments/list.html",
        {
            "page": page,
            "rows": rows,
            "districts": districts,
            "schemes": schemes,
            "years": _years(),
            "is_body": user.role == Role.BODY_ADMIN,
        },
    )


@require_POST
@page_view
def assessment_compute(request):
    user = request.user
    districts = _districts(user)
    if not districts:
        raise PermissionDenied("只有司法局执法监督人员可以计算执法单位考核评议")
    region = next((d for d in districts if str(d.pk) == request.POST.get("region")), None)
    year = _int(request.POST.get("year"))
    scheme = None
    problem = None
    if request.POST.get("scheme"):
        scheme = (
            AssessmentScheme.objects.visible_to(user)
            .filter(pk=_int(request.POST.get("scheme"), 0))
            .select_related("region")
            .first()
        )
        if scheme is None:
            problem = "请选择启用中的考核方案"
    if region is None:
        problem = "请选择区"
    elif year is None:
        problem = "请选择考核年度"
    if problem:
        messages.error(request, f"考核评议未计算：{problem}")
        return redirect("reports:assessments")
    try:
        assessment = services.compute_assessment(user, region=region, year=year, scheme=scheme)
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("reports:assessments")
    messages.success(request, f"已计算{assessment}（{assessment.body_count}个执法单位），请核对后签发")
    return redirect("reports:assessment_detail", assessment.pk)


def _assessment(request, pk) -> Assessment:
    return get_object_or_404(
        Assessment.objects.visible_to(request.user).select_related(
            "region", "scheme", "scheme__region", "issued_by"
        ),
        pk=pk,
    )


def _scores(request, assessment: Assessment):
    return (
        AssessmentScore.objects.visible_to(request.user)
        .filter(assessment=assessment)
        .select_related("body")
        .order_by(F("rank").asc(nulls_last=True), "body__code")
    )


def ranking(request, assessment: Assessment) -> tuple[list[str], list[list], list[AssessmentScore]]:
    """The ranking table the user may see (a body's administrator: his own row), for the page and the export."""
    scores = list(_scores(request, assessment))
    return (
        services.ranking_header(assessment.scheme),
        services.ranking_rows(assessment.scheme, scores),
        scores,
    )


@page_view
def assessment_detail(request, pk):
    _require_reader(request.user)
    assessment = _assessment(request, pk)
    header, rows, scores = ranking(request, assessment)
    return render(
        request,
        "reports/assessments/detail.html",
        {
            "assessment": assessment,
            "header": header,
            "rows": [
                {"score": score, "cells": list(zip(header, row, strict=True))}
                for score, row in zip(scores, rows, strict=True)
            ],
            "is_body": request.user.role == Role.BODY_ADMIN,
            "may_write": assessment.status == Assessment.Status.DRAFT
            and services.may_manage(request.user, assessment.region),
            "timeline": audit.history(assessment) if request.user.role != Role.BODY_ADMIN else [],
        },
    )


@page_view
def assessment_export(request, pk):
    _require_reader(request.user)
    assessment = _assessment(request, pk)
    header, rows, _scores_shown = ranking(request, assessment)
    status = "" if assessment.status == Assessment.Status.ISSUED else "（草稿）"
    return xlsx_response(
        f"{assessment}{status}",
        [Sheet(f"{assessment.year}年考核评议", header, rows, widths=[6, 30, 8] + [14] * (len(header) - 3))],
    )


@page_view
def assessment_score(request, pk, body_pk):
    _require_reader(request.user)
    score = get_object_or_404(
        AssessmentScore.objects.visible_to(request.user).select_related(
            "body", "assessment__region", "assessment__scheme"
        ),
        assessment_id=pk,
        body_id=body_pk,
    )
    items = []
    for row in score.breakdown:
        item = row["item"]
        metric = metrics.METRICS.get(item["code"])
        items.append(
            {
                "name": item["name"],
                "definition": metric.definition if metric else "",
                "unit": metric.unit if metric else "",
                "weight": item["weight"],
                "rule": scoring.rule_text(item),
                "raw": row["raw"],
                "basis": row["basis"],
                "scored": row["scored"],
                "weight_used": row["weight_used"],
                "points": row["points"],
            }
        )
    return render(
        request,
        "reports/assessments/score.html",
        {"score": score, "assessment": score.assessment, "items": items},
    )


@require_POST
@page_view
def assessment_action(request, pk, action):
    assessment = _assessment(request, pk)
    try:
        if action == "recompute":
            assessment = services.recompute_assessment(request.user, assessment=assessment)
            done = "已按最新数据重新计算，请核对后签发"
        elif action == "issue":
            assessment = services.issue_assessment(request.user, assessment=assessment)
            done = f"已签发{assessment}，结果已固定"
        else:
            raise Http404
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("reports:assessment_detail", assessment.pk)


# --- Schemes --------------------------------------------------------------------------------------------------


def _scheme_regions(user) -> list[tuple[str, str]]:
    """(value, label) of the scheme lines the user may write: "" is the city-wide default."""
    if user.is_platform_admin or (
        user.role == Role.SUPERVISOR and user.region_id and user.region.level == Region.Level.CITY
    ):
        return [("", "全市（默认方案）")] + [(str(d.pk), d.name) for d in _districts(user)]
    return [(str(d.pk), d.name) for d in _districts(user)]


def editor_rows(items: list[dict], posted=None) -> list[dict]:
    """One row per metric of the registry for the scheme editor: the item's values (or what was posted), or
    the metric's defaults with no weight (not in the scheme)."""
    by_code = {item["code"]: item for item in items}
    rows = []
    for code, metric in metrics.METRICS.items():
        if posted is not None:
            values = {
                field: posted.get(f"{field}_{code}", "")
                for field in ("name", "weight", "kind", "full_at", "zero_at", "per")
            }
        else:
            item = by_code.get(code)
            rule = item["rule"] if item else metric.default_rule
            values = {
                "name": item["name"] if item else metric.name,
                "weight": item["weight"] if item else "",
                "kind": rule["kind"],
                "full_at": rule.get("full_at", metric.default_rule.get("full_at", "")),
                "zero_at": rule.get("zero_at", metric.default_rule.get("zero_at", "")),
                "per": rule.get("per", metric.default_rule.get("per", "")),
            }
        rows.append(
            {
                "code": code,
                "metric": metric,
                "kinds": [(kind, scoring.RULE_KINDS[kind]) for kind in metric.rule_kinds],
                "values": values,
            }
        )
    return rows


def posted_items(post) -> list[dict]:
    """The items of the editor's form: the metrics given a weight."""
    return [
        {
            "code": code,
            "name": post.get(f"name_{code}", ""),
            "weight": post.get(f"weight_{code}", "").strip(),
            "kind": post.get(f"kind_{code}", ""),
            "full_at": post.get(f"full_at_{code}", "").strip(),
            "zero_at": post.get(f"zero_at_{code}", "").strip(),
            "per": post.get(f"per_{code}", "").strip(),
        }
        for code in metrics.METRICS
        if post.get(f"weight_{code}", "").strip()
    ]


def _scheme_list_context(request, *, errors=(), form=None) -> dict:
    user = request.user
    schemes = AssessmentScheme.objects.visible_to(user).select_related("region")
    regions = _scheme_regions(user)
    districts = _districts(user)
    # A new scheme starts from the one that applies to the user's district (or the city's).
    start = services.applicable_scheme(districts[0]) if len(districts) == 1 else None
    if start is None:
        start = AssessmentScheme.objects.filter(
            region__isnull=True, status=AssessmentScheme.Status.ACTIVE
        ).first()
    return {
        "schemes": schemes.order_by(F("region__path").asc(nulls_first=True), "-version"),
        "regions": regions,
        "editor": editor_rows(start.items if start else [], posted=form),
        "form": form or {"name": start.name if start else "", "year_from": timezone.localdate().year + 1},
        "errors": errors,
        "years": range(timezone.localdate().year + 1, services.FIRST_YEAR - 1, -1),
    }


@page_view
def scheme_list(request):
    _require_reader(request.user)
    return render(request, "reports/assessments/schemes.html", _scheme_list_context(request))


@require_POST
@page_view
def scheme_create(request):
    user = request.user
    regions = dict(_scheme_regions(user))
    if not regions:
        raise PermissionDenied("只有司法局执法监督人员可以制定考核评议方案")
    value = request.POST.get("region", "")
    if value not in regions:
        errors = ["请选择方案适用的区域"]
    else:
        region = Region.objects.get(pk=value) if value else None
        try:
            scheme = services.create_scheme(
                user,
                region=region,
                name=request.POST.get("name", ""),
                year_from=_int(request.POST.get("year_from")),
                items=posted_items(request.POST),
            )
        except PermissionDenied:
            raise
        except DomainError as error:
            errors = error.problems or [error.message]
        else:
            messages.success(request, f"已创建{scheme}（草稿），核对后启用")
            return redirect("reports:scheme_detail", scheme.pk)
    context = _scheme_list_context(request, errors=errors, form=request.POST)
    return render(request, "reports/assessments/schemes.html", context, status=400)


def _scheme(request, pk) -> AssessmentScheme:
    return get_object_or_404(
        AssessmentScheme.objects.visible_to(request.user).select_related("region", "created_by"), pk=pk
    )


def _scheme_page(request, scheme, *, errors=(), form=None, status=200):
    may_write = services.may_manage(request.user, scheme.region)
    items = [
        {
            "name": item["name"],
            "definition": metrics.METRICS[item["code"]].definition if item["code"] in metrics.METRICS else "",
            "weight": item["weight"],
            "rule": scoring.rule_text(item),
        }
        for item in scheme.items
    ]
    return render(
        request,
        "reports/assessments/scheme.html",
        {
            "scheme": scheme,
            "items": items,
            "may_edit": may_write and scheme.status == AssessmentScheme.Status.DRAFT,
            "may_derive": may_write and scheme.status != AssessmentScheme.Status.DRAFT,
            "editor": editor_rows(scheme.items, posted=form),
            "form": form or {"name": scheme.name, "year_from": scheme.year_from},
            "errors": errors,
            "years": range(timezone.localdate().year + 1, services.FIRST_YEAR - 1, -1),
            "timeline": audit.history(scheme) if request.user.role == Role.SUPERVISOR else [],
        },
        status=status,
    )


@page_view
def scheme_detail(request, pk):
    _require_reader(request.user)
    return _scheme_page(request, _scheme(request, pk))


@require_POST
@page_view
def scheme_action(request, pk, action):
    scheme = _scheme(request, pk)
    try:
        if action == "save":
            try:
                scheme = services.update_scheme(
                    request.user,
                    scheme=scheme,
                    name=request.POST.get("name", ""),
                    year_from=_int(request.POST.get("year_from")),
                    items=posted_items(request.POST),
                )
            except PermissionDenied:
                raise
            except DomainError as error:
                if scheme.status != AssessmentScheme.Status.DRAFT:
                    raise
                return _scheme_page(
                    request, scheme, errors=error.problems or [error.message], form=request.POST, status=400
                )
            done = f"已保存{scheme}"
        elif action == "activate":
            scheme = services.activate_scheme(request.user, scheme=scheme)
            done = f"已启用{scheme}，此后按此方案计分；方案不再修改，调整须制定新版本"
        elif action == "derive":
            scheme = services.derive_scheme(request.user, scheme=scheme)
            done = f"已创建{scheme}（草稿），修改后启用"
        else:
            raise Http404
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("reports:scheme_detail", scheme.pk)
