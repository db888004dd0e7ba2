"""The enterprise's side: the public verification page of a scanned code (F-24) and the portal (F-27).

The scan page is public and must load fast on a phone in a messaging app's browser: one small HTML page, no
JavaScript, its CSS inline. It is rate-limited per client address.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core import signing as django_signing
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import get_usage

from jianchama.core import conduct, files
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.roles import Role
from jianchama.core.views import rate_limited
from jianchama.inspections import qr, scan_card, services
from jianchama.inspections.forms import EvaluationForm, ReportForm, StatementForm
from jianchama.inspections.models import Evaluation, Scan, Task
from jianchama.registry import photos
from jianchama.registry.guides import guides_for_task
from jianchama.registry.models import Inspector

REPORT_SALT = "jianchama.portal.report"


def _client_address(request) -> str:
    key = settings.RATELIMIT_IP_META_KEY or "REMOTE_ADDR"
    return request.META.get(key, "").split(",")[0].strip()


def limited(request, group: str, rate: str) -> bool:
    usage = get_usage(request, group=group, key="ip", rate=rate, increment=True)
    return bool(usage and usage["should_limit"])


def _is_contact(user) -> bool:
    return user.is_authenticated and user.role == Role.ENTERPRISE_CONTACT


# Longer than any token (125 characters) with room for a typo; anything longer is not even decoded.
MAX_SCANNED_TOKEN_LENGTH = 200


@never_cache
def scan(request, token: str):
    if limited(request, "scan", settings.SCAN_RATE_LIMIT):
        return rate_limited(request)
    user = request.user if request.user.is_authenticated else None
    if len(token) > MAX_SCANNED_TOKEN_LENGTH:
        token = ""  # not decoded at all: it cannot be a code, and the verdict is "forged" either way
    result = services.scan_code(token, user=user, client_address=_client_address(request))
    context = {
        "outcome": result.outcome,
        "O": Scan.Outcome,
        "task": result.task,
        "is_contact": user is not None and user.role == Role.ENTERPRISE_CONTACT,
        "started": result.started_task,
        "prohibitions": conduct.FIVE_PROHIBITIONS,
        "donts": conduct.EIGHT_DONTS,
        "conduct_source": conduct.SOURCE,
        "rights": services.RIGHTS_TEXT,
        "csp_nonce": getattr(request, "csp_nonce", ""),  # for the page's one <style> (settings.py: CSP)
    }
    if result.outcome not in (Scan.Outcome.GENUINE, Scan.Outcome.COMPLETED, Scan.Outcome.NOT_YET_VALID):
        context["report_key"] = django_signing.dumps(result.scan.pk, salt=REPORT_SALT)  # the 举报 link
    if result.task is not None and result.outcome in (Scan.Outcome.GENUINE, Scan.Outcome.NOT_YET_VALID):
        context.update(scan_card.details(result.task, timezone.localdate()))
    elif result.task is not None:
        context["bodies"] = [tb.body for tb in result.task.task_bodies.select_related("body")]
    # The page uses no context processor (no menu, user or messages): rendering without the request skips
    # them, which saves more than the rest of the template costs.
    return HttpResponse(render_to_string("portal/scan.html", context))


def inspector_photo(request, key: str):
    """An inspector's photo by the signed link of a scan page (registry/photos.py); anything else is a 404."""
    if limited(request, "scan_photo", settings.SCAN_RATE_LIMIT):
        return rate_limited(request)
    inspector = photos.inspector_for_key(key, Inspector.objects.all())
    if inspector is None:
        raise Http404
    return files.send(request, inspector.photo, files.original_name(inspector.photo, inspector.photo_name))


@require_http_methods(["GET", "POST"])
def report(request, key: str):
    """Report a code that failed verification (to the complaints ledger)."""
    try:
        scan_id = django_signing.loads(key, salt=REPORT_SALT, max_age=7 * 24 * 3600)
    except django_signing.BadSignature:
        return render(request, "portal/report.html", {"invalid": True}, status=404)
    scan_record = get_object_or_404(Scan, pk=scan_id)
    form = ReportForm(request.POST or None)
    if request.method == "POST":
        if limited(request, "scan-report", "10/h"):
            return rate_limited(request)
        if form.is_valid():
            try:
                services.report_code(scan=scan_record, **form.cleaned_data)
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                return render(request, "portal/report.html", {"done": True})
    return render(request, "portal/report.html", {"form": form, "scan": scan_record})


# --- The portal --------------------------------------------------------------------------------------


def contact_required(view):
    @login_required(login_url="core:phone_login")
    def wrapper(request, *args, **kwargs):
        if not _is_contact(request.user):
            return render(request, "core/forbidden.html", {"message": "企业端仅供企业联系人使用"}, status=403)
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied as refusal:
            return render(request, "core/forbidden.html", {"message": refusal.message}, status=403)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


@contact_required
def home(request):
    user = request.user
    enterprise = user.enterprise
    tasks = Task.objects.visible_to(user).select_related("lead_body").order_by("-window_start")
    from jianchama.notifications.models import Notification

    unread = Notification.objects.visible_to(user).filter(read_at__isnull=True).count()
    enterprise_url = request.build_absolute_uri(reverse("portal:enterprise_code", args=[enterprise.uscc]))
    return render(
        request,
        "portal/home.html",
        {
            "enterprise": enterprise,
            "upcoming": [t for t in tasks if not t.is_completed and t.status != Task.Status.CANCELLED],
            "history": [t for t in tasks if t.is_completed],
            "evaluations": Evaluation.objects.visible_to(user).select_related("task"),
            "unread": unread,
            "enterprise_qr": qr.qr_svg(enterprise_url),
        },
    )


@contact_required
def task_detail(request, pk):
    user = request.user
    task = get_object_or_404(Task.objects.visible_to(user).select_related("enterprise", "lead_body"), pk=pk)
    evaluation_form = EvaluationForm(request.POST if request.POST.get("form") == "evaluation" else None)
    statement_form = StatementForm(request.POST if request.POST.get("form") == "statement" else None)
    if request.method == "POST":
        form = evaluation_form if request.POST.get("form") == "evaluation" else statement_form
        if form.is_valid():
            try:
                if form is evaluation_form:
                    services.evaluate(
                        user, task=task, scores=form.scores(), comment=form.cleaned_data["comment"]
                    )
                    messages.success(request, "感谢您的评议")
                else:
                    services.file_statement(user, task=task, text=form.cleaned_data["text"])
                    messages.success(request, "陈述申辩已提交，执法单位将予以答复")
                return redirect("portal:task_detail", task.pk)
            except PermissionDenied:
                raise
            except DomainError as error:
                form.add_error(None, error.message)
    record = getattr(task, "record", None)
    return render(
        request,
        "portal/task_detail.html",
        {
            "task": task,
            "bodies": [tb.body for tb in task.task_bodies.select_related("body")],
            "inspectors": task.inspectors.prefetch_related("certificates"),
            "items": task.items.all(),
            "record": record,
            "findings": record.findings.select_related("item") if record else [],
            "evaluation": Evaluation.objects.visible_to(user).filter(task=task).first(),
            "statements": task.statements.all(),
            "can_evaluate": services.can_evaluate(user, task),
            "can_file_statement": services.can_file_statement(user, task),
            "evaluation_form": evaluation_form,
            "statement_form": statement_form,
            "rights": services.RIGHTS_TEXT,
            "guides": guides_for_task(task),
        },
    )


def enterprise_code(request, uscc: str):
    """The enterprise's own code leads a logged-in contact to the portal. Whether the code belongs to a
    registered enterprise is never told: the answer is the same for any code (a login, then a refusal),
    and only the enterprise's own contact is let through."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), login_url=reverse("core:phone_login"))
    user = request.user
    if _is_contact(user) and user.enterprise_id and user.enterprise.uscc == uscc.upper():
        return redirect("portal:home")
    return render(
        request,
        "core/forbidden.html",
        {"message": "这是企业的企业码，仅该企业的联系人登录后可以查看"},
        status=403,
    )
