"""Pages of the three steps (F-32) and accountability (F-33): the list of recommendations and decisions with
their deadlines, their detail pages and official PDFs, the actions of the finding page's panel, the body's
acknowledgement and rectification report, the district government's decision form.

Reading goes through `visible_to` (out of scope is 404); every change is a POST to a service in `steps.py`,
whose refusals come back as a message (a permission refusal is a 403 page that says why).
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from jianchama.core import audit, bounds, exports, files, todos
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.pages import PAGE_SIZE, CappedPaginator, page_view, paginate
from jianchama.core.roles import Role
from jianchama.core.spreadsheets import Sheet
from jianchama.core.workdays import WorkingCalendar
from jianchama.registry import legal_acts
from jianchama.registry.legal_acts import LegalAct
from jianchama.registry.legal_acts import may_perform as may
from jianchama.registry.models import Inspector

from .. import steps
from ..models import AccountabilityMeasure, Decision, Finding, Recommendation, SupervisionWarning


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


def _finding_url(finding_pk: int) -> str:
    """The finding page (built by the findings part), or the steps list if it has no such page."""
    try:
        return reverse("supervision:finding_detail", args=[finding_pk])
    except NoReverseMatch:
        return reverse("supervision:steps")


def _run(request, call, done: str) -> bool:
    try:
        call()
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
        return False
    messages.success(request, done)
    return True


def _date(value: str | None) -> datetime.date | None:
    if not value:
        return None
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError as error:
        raise DomainError(f"日期「{value}」格式不正确，请按 年-月-日 填写") from error
    if not bounds.in_date_range(day):
        raise DomainError(f"日期「{value}」：{bounds.DATE_RANGE_MESSAGE}")
    return day


def _recommendation(request, pk) -> Recommendation:
    return get_object_or_404(
        Recommendation.objects.visible_to(request.user).select_related("body__region", "finding", "warning"),
        pk=pk,
    )


def _decision(request, pk) -> Decision:
    return get_object_or_404(
        Decision.objects.visible_to(request.user).select_related(
            "body__region", "recommendation__finding", "issued_by", "requested_by"
        ),
        pk=pk,
    )


# --- The list ------------------------------------------------------------------------------------------


def _steps_querysets(user, params) -> tuple:
    """The list's three querysets as the user filtered them (到期 flags and a home to-do), in the database:
    recommendations, decisions, and (for the bureau) warnings awaiting their recommendation."""
    flagged_only = params.get("flagged") == "1"
    # A home page's to-do (core/todos.py) shows only the records it counted, of its one kind.
    todo = params.get("todo", "")
    recs, todo_label = todos.narrow(user, todo, Recommendation.objects.visible_to(user), strict=True)
    decisions, _ = todos.narrow(user, todo, Decision.objects.visible_to(user), strict=True)
    warnings = SupervisionWarning.objects.none()
    if user.role != Role.BODY_ADMIN:
        warnings = SupervisionWarning.objects.visible_to(user).filter(
            outcome=SupervisionWarning.Outcome.NOT_RECTIFIED, finding__recommendation__isnull=True
        )
        warnings, _ = todos.narrow(user, todo, warnings, strict=True)
    if flagged_only:
        recs = steps.flagged_recommendations(recs)
        decisions = steps.flagged_decisions(decisions)
        warnings = steps.flagged_pending_warnings(warnings)
    recs = recs.select_related("body__region__parent", "warning", "finding")
    decisions = decisions.select_related("body__region__parent", "recommendation")
    warnings = warnings.select_related("body__region__parent", "finding")
    return recs, decisions, warnings, todo_label


def _with_deadlines(rows, calendar: WorkingCalendar):
    """Each row (recommendation, decision or pending warning) with its deadlines and flag, for the rows shown."""
    for row in rows:
        if isinstance(row, Recommendation):
            row.deadlines = steps.recommendation_deadlines(row, calendar=calendar)
        elif isinstance(row, Decision):
            row.deadlines = steps.decision_deadlines(row, calendar=calendar)
        else:
            # Filtered on having no recommendation yet: none to look up per warning.
            row.deadlines = steps.warning_deadlines(row, calendar=calendar, recommendation=None)
        row.flagged = steps.flagged(row.deadlines)
        yield row


@page_view
def steps_list(request):
    """Recommendations and decisions in the user's scope, each with its deadlines, days left and flags; each
    list paged in the database (its own page parameter), so the page costs what it shows."""
    user = request.user
    recs, decisions, warnings, todo_label = _steps_querysets(user, request.GET)
    if request.GET.get("export") == "xlsx":
        back = request.GET.copy()
        back.pop("export", None)
        return exports.respond(
            request, steps_export, back=f"{reverse('supervision:steps')}?{back.urlencode()}"
        )
    calendar = WorkingCalendar()  # one calendar for every deadline on the page
    page = paginate(request, recs)
    decision_page = CappedPaginator(decisions, PAGE_SIZE).get_page(request.GET.get("dpage"))
    warning_page = CappedPaginator(warnings, PAGE_SIZE).get_page(request.GET.get("wpage"))
    for rows in (page, decision_page, warning_page):
        rows.object_list = list(_with_deadlines(rows.object_list, calendar))
    export = request.GET.copy()
    export["export"] = "xlsx"
    for key in ("page", "dpage", "wpage"):
        export.pop(key, None)
    return render(
        request,
        "supervision/steps/list.html",
        {
            "page": page,
            "decision_page": decision_page,
            "warning_page": warning_page,
            "rec_counts": steps.recommendation_counts(user),
            "flagged_only": request.GET.get("flagged") == "1",
            "todo_label": todo_label,
            "export_query": export.urlencode(),
            "is_body_admin": user.role == Role.BODY_ADMIN,
        },
    )


@exports.builder
def steps_export(user, params) -> exports.Export:
    """The list as it is filtered, one sheet per step (core/exports.py: sent at once, or by the worker)."""
    recs, decisions, warnings, _ = _steps_querysets(user, params)
    return exports.Export(
        name="监督建议书与决定书",
        rows=recs,
        sheets=lambda: _steps_sheets(recs, decisions, warnings, user.role != Role.BODY_ADMIN),
    )


def _deadline_cells(deadlines, *keys: str) -> list:
    """For each deadline named: its date and its state (剩余N个工作日, 已逾期N个工作日, 按期办理…)."""
    by_key = {d.key: d for d in deadlines}
    cells = []
    for key in keys:
        d = by_key.get(key)
        cells += [d.due, d.text] if d else ["", ""]
    return cells


def _steps_sheets(recs, decisions, warnings, with_pending: bool) -> list[Sheet]:
    """The list as it is filtered, one sheet per step, for the bureau's ledger of its supervision letters."""
    calendar = WorkingCalendar()
    recs = _with_deadlines(recs.iterator(chunk_size=1000), calendar)
    decisions = _with_deadlines(decisions.iterator(chunk_size=1000), calendar)
    sheets = [
        Sheet(
            "监督建议书",
            [
                "文号",
                "执法单位",
                "问题",
                "状态",
                "制发日期",
                "整改期限",
                "整改情况",
                "复查期限",
                "复查情况",
                "制发方式",
                "直接制发理由",
            ],
            (
                [
                    r.number,
                    r.body.name,
                    r.finding.title,
                    r.get_status_display(),
                    r.issued_on,
                    *_deadline_cells(r.deadlines, "rectify", "review"),
                    "直接制发" if r.direct else "预警后制发",
                    r.direct_reason,
                ]
                for r in recs
            ),
            (22, 28, 30, 20, 12, 12, 18, 12, 18, 12, 30),
        ),
        Sheet(
            "监督决定书",
            ["文号", "执法单位", "建议书文号", "状态", "制发日期", "整改期限", "整改情况"],
            (
                [
                    d.number,
                    d.body.name,
                    d.recommendation.number,
                    d.get_status_display(),
                    d.issued_on,
                    *_deadline_cells(d.deadlines, "decision"),
                ]
                for d in decisions
            ),
            (22, 28, 22, 20, 12, 12, 18),
        ),
    ]
    if with_pending:
        pending_issue = _with_deadlines(warnings.iterator(chunk_size=1000), calendar)
        sheets.append(
            Sheet(
                "待制发建议书",
                ["执法单位", "问题", "预警日期", "认定未整改日期", "制发期限", "制发情况"],
                (
                    [
                        w.body.name,
                        w.finding.title,
                        w.warned_on,
                        w.outcome_on,
                        *_deadline_cells(w.deadlines, "issue"),
                    ]
                    for w in pending_issue
                ),
                (28, 30, 12, 14, 12, 18),
            )
        )
    return sheets


# --- Step one, from the finding page's panel ----------------------------------------------------------


@require_POST
@page_view
def finding_warn(request, pk):
    finding = get_object_or_404(Finding.objects.visible_to(request.user), pk=pk)
    data = request.POST
    _run(
        request,
        lambda: steps.warn_body(
            request.user,
            finding=finding,
            channel=data.get("channel", ""),
            content=data.get("content", ""),
            warned_on=_date(data.get("warned_on")),
        ),
        "已登记预警提醒，并通知了执法单位",
    )
    return redirect(_safe_next(request, _finding_url(finding.pk)))


@require_POST
@page_view
def warning_action(request, pk, action):
    warning = get_object_or_404(SupervisionWarning.objects.visible_to(request.user), pk=pk)
    data = request.POST
    if action == "response":
        call = lambda: steps.record_warning_response(  # noqa: E731
            request.user,
            warning=warning,
            response=data.get("response", ""),
            response_on=_date(data.get("response_on")),
        )
        done = "已登记执法单位的反馈"
    elif action == "outcome":
        rectified = data.get("rectified")
        if rectified not in ("yes", "no"):
            messages.error(request, "请选择核实结果：已整改或未整改")
            return redirect(_safe_next(request, _finding_url(warning.finding_id)))
        call = lambda: steps.record_warning_outcome(  # noqa: E731
            request.user,
            warning=warning,
            rectified=rectified == "yes",
            note=data.get("note", ""),
            on=_date(data.get("on")),
        )
        done = "已登记整改情况" + ("" if rectified == "yes" else "，请在5个工作日内制发监督建议书")
    else:
        raise Http404
    _run(request, call, done)
    return redirect(_safe_next(request, _finding_url(warning.finding_id)))


# --- Step two ------------------------------------------------------------------------------------------


@require_POST
@page_view
def finding_recommend(request, pk):
    finding = get_object_or_404(Finding.objects.visible_to(request.user), pk=pk)
    data = request.POST
    try:
        rec = steps.issue_recommendation(
            request.user,
            finding=finding,
            facts=data.get("facts", ""),
            legal_basis=data.get("legal_basis", ""),
            demanded=data.get("demanded", ""),
        )
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
        return redirect(_safe_next(request, _finding_url(finding.pk)))
    messages.success(
        request, f"已制发行政执法监督建议书{rec.number}，整改期限{steps.chinese_date(rec.rectify_by)}"
    )
    return redirect("supervision:recommendation_detail", rec.pk)


@require_POST
@page_view
def finding_recommend_direct(request, pk):
    """A recommendation without a prior warning, for a body with prominent problems, with the reason."""
    finding = get_object_or_404(Finding.objects.visible_to(request.user), pk=pk)
    data = request.POST
    try:
        rec = steps.issue_direct_recommendation(
            request.user,
            finding=finding,
            reason=data.get("reason", ""),
            facts=data.get("facts", ""),
            legal_basis=data.get("legal_basis", ""),
            demanded=data.get("demanded", ""),
        )
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
        return redirect(_safe_next(request, _finding_url(finding.pk)))
    messages.success(
        request,
        f"已直接制发行政执法监督建议书{rec.number}，整改期限{steps.chinese_date(rec.rectify_by)}",
    )
    return redirect("supervision:recommendation_detail", rec.pk)


@page_view
def recommendation_detail(request, pk):
    rec = _recommendation(request, pk)
    user = request.user
    admin = steps.is_body_admin_of(user, rec.body)
    S = Recommendation.Status
    decision = Decision.objects.filter(recommendation=rec).first()
    context = {
        "rec": rec,
        "deadlines": steps.recommendation_deadlines(rec),
        "decision": decision,
        "timeline": audit.history(rec),
        "may": {
            "acknowledge": admin and rec.acknowledged_at is None,
            "report": admin and rec.status == S.ISSUED,
            "review": may(user, LegalAct.REVIEW_RECTIFICATION, rec.body)
            and rec.status in (S.ISSUED, S.REPORTED),
            "request_decision": may(user, LegalAct.REQUEST_DECISION, rec.body)
            and rec.status == S.NOT_RECTIFIED,
            "decide": may(user, LegalAct.DECIDE, rec.body) and rec.status == S.ESCALATED,
        },
        "report_types": "、".join(ext.lstrip(".").upper() for ext in steps.REPORT_TYPES),
    }
    return render(request, "supervision/steps/recommendation_detail.html", context)


# The letters are stored under random names (core/files.py) and downloaded under their number.


@page_view
def recommendation_pdf(request, pk):
    rec = _recommendation(request, pk)
    return files.send(request, rec.document, f"{rec.number}.pdf")


@page_view
def recommendation_report_file(request, pk):
    rec = _recommendation(request, pk)
    return files.send(request, rec.report_file, files.original_name(rec.report_file, rec.report_file_name))


@require_POST
@page_view
def recommendation_action(request, pk, action):
    rec = _recommendation(request, pk)
    user, data = request.user, request.POST
    if action == "acknowledge":
        call, done = lambda: steps.acknowledge_recommendation(user, recommendation=rec), "已签收"
    elif action == "report":
        call = lambda: steps.submit_rectification_report(  # noqa: E731
            user, recommendation=rec, text=data.get("text", ""), file=request.FILES.get("file")
        )
        done = "整改报告已报送，区司法局将进行跟踪复查"
    elif action == "review":
        rectified = data.get("rectified")
        if rectified not in ("yes", "no"):
            messages.error(request, "请选择复查结果：已整改或未整改")
            return redirect("supervision:recommendation_detail", rec.pk)
        call = lambda: steps.review_recommendation(  # noqa: E731
            user, recommendation=rec, rectified=rectified == "yes", note=data.get("note", "")
        )
        done = "已登记复查结果"
    elif action == "request_decision":
        call = lambda: steps.request_decision(user, recommendation=rec, note=data.get("note", ""))  # noqa: E731
        done = "已报请区政府制发行政执法监督决定书"
    else:
        raise Http404
    _run(request, call, done)
    return redirect("supervision:recommendation_detail", rec.pk)


# --- Step three -----------------------------------------------------------------------------------------


def _measures_from(data, rec: Recommendation) -> list[steps.MeasureInput]:
    measures = []
    for kind in AccountabilityMeasure.Kind.values:
        if not data.get(f"measure_{kind}"):
            continue
        inspectors = []
        if kind in AccountabilityMeasure.CERTIFICATE_KINDS:
            ids = [v for v in data.getlist(f"inspectors_{kind}") if v.isdigit()]
            inspectors = list(Inspector.objects.filter(body=rec.body, pk__in=ids))
        measures.append(
            steps.MeasureInput(kind=kind, inspectors=inspectors, note=data.get(f"note_{kind}", ""))
        )
    return measures


@page_view
def decision_create(request, pk):
    """The district government's form: the decision's text, its deadline and its measures."""
    rec = _recommendation(request, pk)
    legal_acts.require(request.user, LegalAct.DECIDE, rec.body)
    data = request.POST if request.method == "POST" else None
    errors: list[str] = []
    if data is not None:
        try:
            decision = steps.issue_decision(
                request.user,
                recommendation=rec,
                facts=data.get("facts", ""),
                legal_basis=data.get("legal_basis", ""),
                demanded=data.get("demanded", ""),
                deadline_working_days=data.get("deadline_working_days", ""),
                measures=_measures_from(data, rec),
            )
        except PermissionDenied:
            raise
        except DomainError as error:
            errors = error.problems or [error.message]
        else:
            messages.success(request, f"已制发行政执法监督决定书{decision.number}")
            return redirect("supervision:decision_detail", decision.pk)
    initial = {
        "facts": rec.facts,
        "legal_basis": rec.legal_basis,
        "demanded": rec.demanded,
        "deadline_working_days": steps.DECISION_DEFAULT_WORKING_DAYS,
    }
    values = {key: (data.get(key, "") if data is not None else value) for key, value in initial.items()}
    chosen = {
        kind: {
            "checked": bool(data and data.get(f"measure_{kind}")),
            "note": data.get(f"note_{kind}", "") if data else "",
            "inspectors": set(data.getlist(f"inspectors_{kind}")) if data else set(),
        }
        for kind in AccountabilityMeasure.Kind.values
    }
    kinds = [
        {
            "value": value,
            "label": label,
            "certificate": value in AccountabilityMeasure.CERTIFICATE_KINDS,
            **chosen[value],
        }
        for value, label in AccountabilityMeasure.Kind.choices
    ]
    return render(
        request,
        "supervision/steps/decision_form.html",
        {
            "rec": rec,
            "values": values,
            "kinds": kinds,
            "inspectors": Inspector.objects.filter(body=rec.body).prefetch_related("certificates"),
            "errors": errors,
            "government": steps.government_name(rec.body),
        },
    )


@page_view
def decision_detail(request, pk):
    decision = _decision(request, pk)
    user = request.user
    measures = list(decision.measures.select_related("bulletin").prefetch_related("certificates__inspector"))
    for measure in measures:
        measure.text = steps.measure_text(measure)
    return render(
        request,
        "supervision/steps/decision_detail.html",
        {
            "decision": decision,
            "rec": decision.recommendation,
            "deadlines": steps.decision_deadlines(decision),
            "measures": measures,
            "timeline": audit.history(decision),
            "may": {
                "confirm": may(user, LegalAct.CONFIRM_DECISION, decision.body)
                and decision.status == Decision.Status.ISSUED,
                "measure": may(user, LegalAct.ACCOUNTABILITY, decision.body),
                "publish": may(user, LegalAct.PUBLISH_BULLETIN, decision.body),
            },
            "kinds": AccountabilityMeasure.Kind.choices,
            "inspectors": Inspector.objects.filter(body=decision.body),
        },
    )


@page_view
def decision_pdf(request, pk):
    decision = _decision(request, pk)
    return files.send(request, decision.document, f"{decision.number}.pdf")


@require_POST
@page_view
def decision_action(request, pk, action):
    decision = _decision(request, pk)
    user, data = request.user, request.POST
    if action == "confirm":
        call = lambda: steps.confirm_decision_rectified(user, decision=decision, note=data.get("note", ""))  # noqa: E731
        done = "已确认整改完成，监督问题办结"
    elif action == "measure":
        ids = [v for v in data.getlist("inspectors") if v.isdigit()]
        call = lambda: steps.apply_measure(  # noqa: E731
            user,
            decision=decision,
            kind=data.get("kind", ""),
            inspectors=list(Inspector.objects.filter(body=decision.body, pk__in=ids)),
            note=data.get("note", ""),
        )
        done = "已登记责任追究措施"
    else:
        raise Http404
    _run(request, call, done)
    return redirect("supervision:decision_detail", decision.pk)
