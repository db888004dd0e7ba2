"""Pages of data supervision (F-30): the supervisor's dashboard of findings by body, rule and month, the list of
findings with its filters and Excel export, a finding with its evidence, timeline and three-step panel, and the
runs of the data rules (run them now, see what each rule found)."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from jianchama.core import audit, bounds, exports, todos
from jianchama.core.bounds import BoundedForm
from jianchama.core.errors import DomainError
from jianchama.core.pages import paginate
from jianchama.core.roles import Role
from jianchama.core.spreadsheets import Sheet
from jianchama.inspections.models import EvaluationRelease
from jianchama.registry.models import EnforcementBody

from .. import rules, services
from ..models import Finding, RuleRun, Severity

# The record pages evidence links to, by model label (records without a page of their own show their label).
EVIDENCE_URLS = {
    "inspections.Task": "inspections:task_detail",
    "plans.Plan": "plans:plan_detail",
    "registry.Inspector": "registry:inspector_detail",
    "registry.EnforcementBody": "registry:body_detail",
    "registry.Enterprise": "registry:enterprise_detail",
    "complaints.Complaint": "complaints:detail",
    "complaints.ReconsiderationLead": "complaints:lead_detail",
    "supervision.Finding": "supervision:finding_detail",
    "supervision.SamplingReview": "supervision:sampling_review_detail",
}
DASHBOARD_ROLES = (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT)


def _may_view_dashboard(user) -> bool:
    return user.is_platform_admin or user.role in DASHBOARD_ROLES


def _require_dashboard(user) -> None:
    if not _may_view_dashboard(user):
        raise HttpForbidden("只有司法局执法监督人员、区政府和平台管理员可以查看数据监督")


def evidence_links(finding: Finding) -> list[dict]:
    """The finding's evidence with a link to each record's page where it has one."""
    links = []
    for item in finding.evidence or []:
        url = ""
        name = EVIDENCE_URLS.get(item.get("model", ""))
        if name and item.get("pk") is not None:
            try:
                url = reverse(name, args=[item["pk"]])
            except NoReverseMatch:
                url = ""
        links.append({**item, "url": url})
    return links


def _month(value: str) -> datetime.date | None:
    try:
        month = datetime.datetime.strptime(value, "%Y-%m").date()
    except (TypeError, ValueError):
        return None
    return month if bounds.in_date_range(month) else None


class FindingFilterForm(BoundedForm):
    body = forms.ModelChoiceField(label="执法单位", queryset=EnforcementBody.objects.none(), required=False)
    rule = forms.ChoiceField(label="规则", required=False)
    source = forms.ChoiceField(label="来源", required=False)
    status = forms.ChoiceField(label="状态", required=False)
    severity = forms.ChoiceField(label="严重程度", required=False)
    month = forms.CharField(
        label="月份",
        required=False,
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "2026-03"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        body_ids = Finding.objects.visible_to(user).values("body_id")
        self.fields["body"].queryset = EnforcementBody.objects.filter(pk__in=body_ids).order_by("name")
        self.fields["body"].empty_label = "全部执法单位"
        self.fields["rule"].choices = [("", "全部规则"), *rules.rule_choices()]
        self.fields["source"].choices = [("", "全部来源"), *Finding.Source.choices]
        self.fields["status"].choices = [("", "全部状态"), *Finding.Status.choices]
        self.fields["severity"].choices = [("", "全部严重程度"), *Severity.choices]

    def clean_month(self):
        value = self.cleaned_data["month"].strip()
        if value and _month(value) is None:
            raise forms.ValidationError("月份格式应为 2026-03")
        return value

    def apply(self, findings):
        if not self.is_valid():
            return findings
        data = self.cleaned_data
        if data["body"]:
            findings = findings.filter(body=data["body"])
        for name in ("rule", "source", "status", "severity"):
            if data[name]:
                findings = findings.filter(**{name: data[name]})
        if data["month"]:
            findings = findings.filter(period=_month(data["month"]))
        return findings


def _list_url(**params) -> str:
    return reverse("supervision:finding_list") + "?" + urlencode({k: v for k, v in params.items() if v})


@login_required
@require_GET
def dashboard(request):
    user = request.user
    _require_dashboard(user)
    filters = FindingFilterForm(request.GET or None, user=user)
    findings = filters.apply(Finding.objects.visible_to(user))
    base = {k: v for k, v in request.GET.items() if k in filters.fields and v}
    counts = {
        "total": Count("pk"),
        "open": Count("pk", filter=Q(status=Finding.Status.OPEN)),
        "high": Count("pk", filter=Q(severity=Severity.HIGH)),
        "closed": Count("pk", filter=Q(status__in=[Finding.Status.RECTIFIED, Finding.Status.DISMISSED])),
    }
    summary = findings.aggregate(**counts)
    by_body = list(
        findings.values("body_id", "body__name").annotate(**counts).order_by("-total", "body__name")
    )
    for row in by_body:
        row["url"] = _list_url(**{**base, "body": row["body_id"]})
    titles = dict(rules.rule_choices())
    by_rule = list(findings.values("source", "rule").annotate(**counts).order_by("-total", "rule"))
    for row in by_rule:
        row["title"] = titles.get(row["rule"]) or Finding.Source(row["source"]).label
        row["url"] = _list_url(
            **{**base, "rule": row["rule"], "source": "" if row["rule"] else row["source"]}
        )
    by_month = list(findings.values("period").annotate(**counts).order_by("-period")[:24])
    for row in by_month:
        row["url"] = _list_url(**{**base, "month": row["period"].strftime("%Y-%m")})
    last_run = RuleRun.objects.select_related("triggered_by").order_by("-started_at").first()
    _scoped(last_run, user)
    if last_run is not None:
        last_run.triggered_label = _who_ran(last_run, user)
    return render(
        request,
        "supervision/dashboard.html",
        {
            "filters": filters,
            "summary": summary,
            "by_body": by_body,
            "by_rule": by_rule,
            "by_month": by_month,
            "list_url": _list_url(**base),
            "last_run": last_run,
            "may_run": rules.may_run_rules(user),
            "rule_count": len(rules.RULES),
        },
    )


@exports.builder
def finding_export(user, params) -> exports.Export:
    """The finding list as the user filtered it (core/exports.py: sent at once, or written by the worker)."""
    findings = FindingFilterForm(params or None, user=user).apply(Finding.objects.visible_to(user))
    return exports.Export(name="监督问题", rows=findings, sheets=lambda: [_finding_sheet(user, findings)])


def _finding_sheet(user, findings) -> Sheet:
    """The findings as rows, read as values (a model instance per row cost more than writing the row: bench/
    README.md, exports), each confidential one redacted for `user` as services.redact_for does on pages."""
    titles = dict(rules.rule_choices())
    sources = dict(Finding.Source.choices)
    severities = dict(Finding._meta.get_field("severity").choices)
    statuses = dict(Finding._meta.get_field("status").choices)
    detail_by_path: dict[str, bool] = {}

    def detail(confidential: bool, path: str) -> bool:
        if not confidential:
            return True
        if path not in detail_by_path:
            detail_by_path[path] = services.sees_detail(user, confidential=True, region_path=path)
        return detail_by_path[path]

    fields = (
        "pk",
        "period",
        "body__name",
        "source",
        "rule",
        "title",
        "description",
        "body_description",
        "confidential",
        "severity",
        "status",
        "found_at",
        "evidence",
        "body__region__path",
    )
    rows = (
        [
            pk,
            period.strftime("%Y-%m"),
            body_name,
            sources.get(source, source),
            titles.get(rule, rule),
            title,
            description if detail(confidential, path) else body_description,
            severities.get(severity, severity),
            statuses.get(status, status),
            timezone.localtime(found_at).strftime("%Y-%m-%d %H:%M"),
            "；".join(e.get("label", "") for e in evidence or []) if detail(confidential, path) else "",
        ]
        for (
            pk,
            period,
            body_name,
            source,
            rule,
            title,
            description,
            body_description,
            confidential,
            severity,
            status,
            found_at,
            evidence,
            path,
        ) in findings.values_list(*fields).iterator(chunk_size=5000)
    )
    header = [
        "编号",
        "所属月份",
        "执法单位",
        "来源",
        "规则",
        "问题",
        "问题描述",
        "严重程度",
        "状态",
        "发现时间",
        "证据",
    ]
    widths = (8, 10, 28, 12, 22, 24, 60, 10, 16, 18, 50)
    return Sheet("监督问题", header, rows, widths)


@login_required
@require_GET
def finding_list(request):
    user = request.user
    if not (_may_view_dashboard(user) or user.role == Role.BODY_ADMIN):
        _require_dashboard(user)
    visible = Finding.objects.visible_to(user)
    filters = FindingFilterForm(request.GET or None, user=user)
    findings = filters.apply(visible).select_related("body__region")
    # A home page's to-do (core/todos.py) lands here on exactly the findings it counted.
    findings, todo_label = todos.narrow(user, request.GET.get("todo", ""), findings)
    if request.GET.get("export") == "xlsx":
        back = request.GET.copy()
        back.pop("export", None)
        return exports.respond(
            request, finding_export, back=f"{reverse('supervision:finding_list')}?{back.urlencode()}"
        )
    page = paginate(request, findings)
    titles = dict(rules.rule_choices())
    for finding in page:
        services.redact_for(user, finding)
        finding.rule_title = titles.get(finding.rule, "")
    export = request.GET.copy()
    export["export"] = "xlsx"
    export.pop("page", None)
    return render(
        request,
        "supervision/finding_list.html",
        {
            "filters": filters,
            "page": page,
            "todo_label": todo_label,
            "export_query": export.urlencode(),
            "may_dashboard": _may_view_dashboard(user),
        },
    )


def _visible_finding(request, pk: int) -> Finding:
    return get_object_or_404(
        Finding.objects.visible_to(request.user).select_related("body__region", "task", "run", "created_by"),
        pk=pk,
    )


@login_required
@require_GET
def finding_detail(request, pk: int):
    from ..steps import finding_panel

    finding = services.redact_for(request.user, _visible_finding(request, pk))
    definition = rules.RULES.get(finding.rule)
    context = {
        "finding": finding,
        # What the body may read instead of a confidential finding's evidence: its released figures.
        "release": EvaluationRelease.objects.filter(body=finding.body).order_by("-count").first()
        if finding.redacted and finding.rule == "poor_evaluation"
        else None,
        "rule": definition,
        "evidence": evidence_links(finding),
        "events": audit.history(finding),
        "may_dismiss": finding.status == Finding.Status.OPEN
        and services.is_supervisor_of(request.user, finding.body),
    }
    context.update(finding_panel(request.user, finding))
    return render(request, "supervision/finding_detail.html", context)


@login_required
@require_POST
def finding_dismiss(request, pk: int):
    finding = _visible_finding(request, pk)
    try:
        services.dismiss_finding(request.user, finding=finding, note=request.POST.get("note", ""))
    except DomainError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "监督问题已核销")
    return redirect("supervision:finding_detail", pk=finding.pk)


@login_required
@require_POST
def run_rules_now(request):
    chosen = [code for code in request.POST.getlist("rule") if code]
    try:
        run = rules.queue_run(request.user, rules=chosen or None)
    except DomainError as error:
        messages.error(request, str(error))
        return redirect("supervision:run_list")
    if getattr(run, "already_running", False):
        messages.info(
            request,
            f"数据监督规则正在运行（{timezone.localtime(run.started_at):%H:%M}开始），本页显示其进度，"
            "完成后可再运行",
        )
    else:
        messages.success(
            request, f"数据监督规则已开始运行（{len(run.rules)}条规则），本页显示进度，完成后自动刷新"
        )
    return redirect(f"{reverse('supervision:run_list')}#run-{run.pk}")


def _scoped(run: RuleRun | None, user, regions=rules.WHOLE_CITY) -> dict:
    """The run's per-rule figures as `user` may see them; sets run.new_findings to his scope's count too
    (in memory only), so a district's supervisor never reads another district's figures."""
    if run is None:
        return {}
    scoped = rules.scope_figures(run, user, regions)
    if scoped is None:
        return run.stats or {}
    stats, run.new_findings = scoped
    if any(figures.get("unknown") for figures in stats.values()):
        run.new_findings = Finding.objects.visible_to(user).filter(run=run).count()
    return stats


def _who_ran(run: RuleRun, user) -> str:
    """Who started a run, as this user may know it: a run covers every district, but the person who started it
    is named only to the people of his own region (and the platform administrator)."""
    who = run.triggered_by
    if who is None:
        return "系统定时"
    if user.is_platform_admin or who.pk == user.pk or (who.region_id and who.region_id == user.region_id):
        return who.full_name or who.username
    return "其他辖区的监督人员"


RUNS_PER_PAGE = 10


@login_required
@require_GET
def run_list(request):
    _require_dashboard(request.user)
    runs = paginate(request, RuleRun.objects.select_related("triggered_by"), RUNS_PER_PAGE)
    regions = rules.scope_regions(request.user)  # once for the page, not per run
    for run in runs:
        run.triggered_label = _who_ran(run, request.user)
        stats = _scoped(run, request.user, regions)
        run.rows = [
            {"code": code, "title": rules.RULES[code].title if code in rules.RULES else code, **figures}
            for code, figures in stats.items()
        ]
    running = any(run.status == RuleRun.Status.RUNNING for run in runs)
    return render(
        request,
        "supervision/run_list.html",
        {
            "page": runs,
            "rules": list(rules.RULES.values()),
            "may_run": rules.may_run_rules(request.user),
            "running": running,
        },
    )
