"""Pages of quarterly sampling (F-31): the public rounds with their JSON and verifier (no login, rate-limited),
the supervisor's commit, reveal and withdrawal, score sheets, and the reviews of the sampled bodies.

Every change is a POST to a service in `sampling.py`."""

from __future__ import annotations

import json
import re
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_ratelimit.core import get_usage

from jianchama.core import conduct
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.pages import forbidden, page_view, paginate, submit_form
from jianchama.core.replica import replica_reads
from jianchama.core.views import rate_limited
from jianchama.registry.forms import DATE, Form

from .. import sampling
from ..models import Finding, Method, SampledBody, SamplingReview, SamplingRound, ScoreSheet

VERIFIER = Path(settings.BASE_DIR) / "scripts" / "verify_sampling.py"


def _public_rate() -> str:
    return getattr(settings, "SAMPLING_PUBLIC_RATE_LIMIT", "60/m")


def _limited(request) -> bool:
    usage = get_usage(request, group="sampling_public", key="ip", rate=_public_rate(), increment=True)
    return bool(usage and usage["should_limit"])


# --- Forms ----------------------------------------------------------------------------------------------


class CommitForm(Form):
    year = forms.IntegerField(label="年度", min_value=2000, max_value=2100)
    quarter = forms.TypedChoiceField(
        label="季度", coerce=int, choices=[(q, f"第{q}季度") for q in range(1, 5)]
    )
    ratio = forms.CharField(
        label="抽查比例", max_length=12, help_text="不低于10%，可填0.1、0.15或15%", required=False
    )


class WithdrawForm(Form):
    reason = forms.CharField(label="撤销原因（将公开）", widget=forms.Textarea(attrs={"rows": 2}))


ITEM_LINE = re.compile(r"^(?P<name>.*?)[\s|｜,，:：]+(?P<max>[^\s|｜,，:：]+)$")


def parse_items(text: str) -> list[dict[str, str]]:
    """One item a line, `名称 | 分值` (a space, comma or colon also separates); the service judges the values."""
    items = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        match = ITEM_LINE.match(line)
        items.append({"name": match["name"], "max": match["max"]} if match else {"name": line, "max": ""})
    return items


def items_text(items: list[dict]) -> str:
    return "\n".join(f"{item['name']} | {item['max']}" for item in items)


class SheetForm(Form):
    name = forms.CharField(label="评分表名称", max_length=100)
    method = forms.ChoiceField(label="抽查方式", choices=Method.choices)
    items = forms.CharField(
        label="评分项目",
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="每行一项：项目名称 | 分值，例如「检查计划按时备案并公告 | 20」",
    )
    pass_score = forms.IntegerField(
        label="合格线（得分率%）",
        min_value=0,
        max_value=100,
        required=False,
        help_text="不填则按系统默认合格线",
    )
    is_active = forms.BooleanField(label="启用", required=False, initial=True)


class ReviewForm(Form):
    """One score field per item of the sheet, with a problem box and a note."""

    reviewed_on = forms.DateField(label="评查日期", widget=DATE)
    notes = forms.CharField(label="评查意见", widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, sheet: ScoreSheet, **kwargs):
        super().__init__(*args, **kwargs)
        self.sheet = sheet
        self.rows = []
        for n, item in enumerate(sheet.items):
            self.fields[f"score_{n}"] = forms.IntegerField(
                label=f"{item['name']}（满分{item['max']}）", min_value=0, max_value=item["max"]
            )
            self.fields[f"problem_{n}"] = forms.BooleanField(label="存在问题", required=False)
            self.fields[f"note_{n}"] = forms.CharField(label="问题说明", max_length=500, required=False)
            self.rows.append((self[f"score_{n}"], self[f"problem_{n}"], self[f"note_{n}"]))

    def scores(self) -> dict[str, int]:
        return {item["name"]: self.cleaned_data[f"score_{n}"] for n, item in enumerate(self.sheet.items)}

    def problem_items(self) -> list[str]:
        return [item["name"] for n, item in enumerate(self.sheet.items) if self.cleaned_data[f"problem_{n}"]]

    def item_notes(self) -> dict[str, str]:
        return {item["name"]: self.cleaned_data[f"note_{n}"] for n, item in enumerate(self.sheet.items)}


# --- Public pages -----------------------------------------------------------------------------------------


@replica_reads
def round_list(request):
    """Every round, public; a supervisor also commits the quarter's round here."""
    if _limited(request):
        return rate_limited(request)
    user = request.user
    may_commit = sampling.can_commit(user)
    year, quarter = sampling.quarter_of(timezone.localdate())
    form = CommitForm(
        request.POST or None, initial={"year": year, "quarter": quarter, "ratio": sampling.default_ratio()}
    )
    if request.method == "POST":
        if not may_commit:
            return forbidden(request, "只有司法局执法监督人员可以发起季度抽查")
        if form.is_valid():
            sampling_round = submit_form(
                form,
                lambda: sampling.commit_round(
                    user,
                    year=form.cleaned_data["year"],
                    quarter=form.cleaned_data["quarter"],
                    ratio=form.cleaned_data["ratio"] or None,
                ),
            )
            if sampling_round is not None:
                messages.success(
                    request,
                    f"已公布{sampling_round}的执法单位库快照散列和随机种子承诺值，"
                    f"应抽取{sampling_round.body_count}家；请在公开后进行抽取",
                )
                return redirect("supervision:sampling_detail", sampling_round.pk)
    rounds = SamplingRound.objects.visible_to(user).select_related("region")
    page = paginate(request, rounds)
    return render(
        request,
        "supervision/sampling/round_list.html",
        {
            "page": page,
            "form": form if may_commit else None,
            "percent": sampling.percent,
            "progress": sampling.progress_for(user),
            "commit_days": sampling.commit_working_days(),
            "reveal_days": sampling.reveal_working_days(),
        },
    )


@replica_reads
def round_detail(request, pk):
    if _limited(request):
        return rate_limited(request)
    user = request.user
    sampling_round = get_object_or_404(SamplingRound.objects.visible_to(user).select_related("region"), pk=pk)
    may_manage = sampling.can_manage_round(user, sampling_round)
    sampled = list(
        SampledBody.objects.visible_to(user)
        .filter(round=sampling_round)
        .select_related("body", "body__region")
        .order_by("position")
    )
    reviews: dict[int, list[SamplingReview]] = {}
    for review in SamplingReview.objects.visible_to(user).filter(sampled__round=sampling_round):
        reviews.setdefault(review.sampled_id, []).append(review)
    rows = [
        {
            "sampled": s,
            "reviews": reviews.get(s.pk, []),
            "may_review": may_manage and sampling.can_review(user, s),
        }
        for s in sampled
    ]
    return render(
        request,
        "supervision/sampling/round_detail.html",
        {
            "round": sampling_round,
            "rows": rows,
            "pool_size": len(sampling_round.pool),
            "percent": sampling.percent(sampling_round.ratio),
            "committed_at": sampling.timestamp(sampling_round.committed_at),
            "may_manage": may_manage,
            "show_reviews": may_manage or any(row["reviews"] for row in rows),
            "withdraw_form": WithdrawForm(),
            "methods": Method.choices,
        },
    )


@replica_reads
def round_json(request, pk):
    if _limited(request):
        return rate_limited(request)
    sampling_round = get_object_or_404(
        SamplingRound.objects.visible_to(request.user).select_related("region"), pk=pk
    )
    try:
        record = sampling.published_record(sampling_round)
    except DomainError as refusal:
        # The drawn bodies or the reviews no longer match the result: never publish an inconsistent record.
        return HttpResponse(refusal.message, status=409, content_type="text/plain; charset=utf-8")
    body = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="sampling-{sampling_round.pk}.json"'
    response["Cache-Control"] = "public, max-age=60"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def verifier(request):
    """The standalone verifier, so that the page's instructions work without a copy of the repository."""
    if not VERIFIER.is_file():
        raise Http404
    response = HttpResponse(VERIFIER.read_bytes(), content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="verify_sampling.py"'
    return response


# --- The supervisor's actions ---------------------------------------------------------------------------------


@page_view
@require_POST
def reveal(request, pk):
    sampling_round = get_object_or_404(SamplingRound.objects.visible_to(request.user), pk=pk)
    try:
        sampling_round = sampling.reveal_round(request.user, sampling_round=sampling_round)
    except PermissionDenied:
        raise
    except DomainError as error:
        for problem in error.problems or [error.message]:
            messages.error(request, problem)
    else:
        messages.success(request, f"已公开随机种子，抽中{len(sampling_round.result)}家执法单位，结果已公开")
    return redirect("supervision:sampling_detail", sampling_round.pk)


@page_view
@require_POST
def withdraw(request, pk):
    sampling_round = get_object_or_404(SamplingRound.objects.visible_to(request.user), pk=pk)
    form = WithdrawForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        sampling.withdraw_round(request.user, sampling_round=sampling_round, reason=reason)
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{sampling_round}已撤销，其随机种子已公开")
    return redirect("supervision:sampling_detail", sampling_round.pk)


# --- Score sheets ---------------------------------------------------------------------------------------------


@page_view
def sheet_list(request):
    sheets = ScoreSheet.objects.visible_to(request.user).select_related("region")
    if not sheets.exists() and not sampling.can_commit(request.user):
        raise PermissionDenied("抽查评分表供司法局执法监督人员和执法单位查看")
    return render(
        request,
        "supervision/sampling/sheet_list.html",
        {
            "sheets": [(s, sampling.can_edit_sheet(request.user, s)) for s in sheets],
            "may_create": sampling.can_commit(request.user),
            "default_pass": sampling.default_pass_score(),
        },
    )


@page_view
def sheet_create(request):
    if not sampling.can_commit(request.user):
        raise PermissionDenied("只有司法局执法监督人员可以制定抽查评分表")
    initial = {}
    if request.GET.get("preset") == "conduct":
        # 明察暗访 against the 五个严禁 and 八个不得 (seed 003 二（一）4), from their one source (core/conduct.py).
        initial = {
            "name": "明察暗访“五个严禁”“八个不得”评分表",
            "method": Method.ONSITE_OBSERVATION,
            "items": items_text(conduct.observation_score_items()),
        }
    form = SheetForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        sheet = submit_form(
            form,
            lambda: sampling.create_score_sheet(
                request.user,
                name=form.cleaned_data["name"],
                method=form.cleaned_data["method"],
                items=parse_items(form.cleaned_data["items"]),
                pass_score=form.cleaned_data["pass_score"],
            ),
        )
        if sheet is not None:
            messages.success(request, f"评分表「{sheet.name}」已保存")
            return redirect("supervision:score_sheet_list")
    return render(request, "supervision/sampling/sheet_form.html", {"form": form, "title": "新建抽查评分表"})


@page_view
def sheet_edit(request, pk):
    sheet = get_object_or_404(ScoreSheet.objects.visible_to(request.user), pk=pk)
    if not sampling.can_edit_sheet(request.user, sheet):
        raise PermissionDenied(f"只有{sheet.region.name}司法局的执法监督人员可以修改该评分表")
    initial = {
        "name": sheet.name,
        "method": sheet.method,
        "items": items_text(sheet.items),
        "pass_score": sheet.pass_score,
        "is_active": sheet.is_active,
    }
    form = SheetForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        saved = submit_form(
            form,
            lambda: sampling.update_score_sheet(
                request.user,
                sheet=sheet,
                name=form.cleaned_data["name"],
                method=form.cleaned_data["method"],
                items=parse_items(form.cleaned_data["items"]),
                pass_score=form.cleaned_data["pass_score"],
                is_active=form.cleaned_data["is_active"],
            ),
        )
        if saved is not None:
            messages.success(request, f"评分表「{saved.name}」已保存")
            return redirect("supervision:score_sheet_list")
    return render(
        request,
        "supervision/sampling/sheet_form.html",
        {"form": form, "title": f"修改评分表：{sheet.name}", "sheet": sheet},
    )


# --- Reviews --------------------------------------------------------------------------------------------------


@page_view
def review_create(request, pk):
    """Score a sampled body: first choose a score sheet (which fixes the method), then the scores."""
    sampled = get_object_or_404(
        SampledBody.objects.visible_to(request.user).select_related("round", "round__region", "body__region"),
        pk=pk,
    )
    if not sampling.can_review(request.user, sampled):
        raise PermissionDenied(f"只有{sampled.body.name}所在区域的司法局执法监督人员可以登记抽查评查")
    done = set(sampled.reviews.values_list("method", flat=True))
    sheets = [
        s
        for s in ScoreSheet.objects.visible_to(request.user).filter(is_active=True).select_related("region")
        if sampled.body.region.path.startswith(s.region.path) and s.method not in done
    ]
    sheet = next((s for s in sheets if str(s.pk) == request.GET.get("sheet", "")), None)
    form = None
    if sheet is not None:
        form = ReviewForm(request.POST or None, sheet=sheet, initial={"reviewed_on": timezone.localdate()})
        if request.method == "POST" and form.is_valid():
            review = submit_form(
                form,
                lambda: sampling.record_review(
                    request.user,
                    sampled=sampled,
                    method=sheet.method,
                    sheet=sheet,
                    scores=form.scores(),
                    problem_items=form.problem_items(),
                    item_notes=form.item_notes(),
                    notes=form.cleaned_data["notes"],
                    reviewed_on=form.cleaned_data["reviewed_on"],
                ),
            )
            if review is not None:
                text = f"已登记{review.get_method_display()}：得分{review.total}/{review.full_marks}"
                if review.finding_id:
                    text += "，已形成监督问题"
                messages.success(request, text)
                return redirect("supervision:sampling_review_detail", review.pk)
    return render(
        request,
        "supervision/sampling/review_form.html",
        {"sampled": sampled, "sheets": sheets, "sheet": sheet, "form": form, "done": done},
    )


@page_view
def review_list(request):
    reviews = SamplingReview.objects.visible_to(request.user).select_related(
        "sampled__round__region", "sampled__body", "finding"
    )
    if not reviews.exists() and not sampling.can_commit(request.user) and request.user.body_id is None:
        raise PermissionDenied("抽查评查结果供司法局执法监督人员和被抽查的执法单位查看")
    page = paginate(request, reviews.order_by("-reviewed_on", "-pk"))
    return render(request, "supervision/sampling/review_list.html", {"page": page})


@page_view
def review_detail(request, pk):
    review = get_object_or_404(
        SamplingReview.objects.visible_to(request.user).select_related(
            "sampled__round__region", "sampled__body", "sheet", "reviewer", "finding"
        ),
        pk=pk,
    )
    # The finding is linked only for those who may open it (a body sees its findings once warned).
    finding_visible = bool(
        review.finding_id and Finding.objects.visible_to(request.user).filter(pk=review.finding_id).exists()
    )
    return render(
        request,
        "supervision/sampling/review_detail.html",
        {"review": review, "finding_visible": finding_visible},
    )
