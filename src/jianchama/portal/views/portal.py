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
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import get_usage

from jianchama.complaints.forms import NoCodeReportForm
from jianchama.core import files, ratelimit, todos
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.pages import paginate
from jianchama.core.roles import Role
from jianchama.core.views import rate_limited
from jianchama.inspections import frequency, qr, scan_card, services
from jianchama.inspections.forms import (
    EvaluationForm,
    ReportForm,
    ResultCodeForm,
    ResultPhoneForm,
    StatementForm,
)
from jianchama.inspections.models import Evaluation, Scan, Task
from jianchama.portal import scan_page
from jianchama.registry import photos
from jianchama.registry.guides import guides_for_task
from jianchama.registry.models import Inspector

REPORT_SALT = "jianchama.portal.report"
RESULT_SALT = "jianchama.portal.scan_result"
# The link of a scan page to the result lasts a day (scan again for a new one); a verified phone's access to
# the result lasts half an hour in its session.
RESULT_LINK_MAX_AGE = 24 * 3600
RESULT_VIEWER_SECONDS = 30 * 60
RESULT_VIEWER_SESSION_KEY = "result_viewer"


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


# What `never_cache` writes on a response without caching headers, written directly: patching them cost a
# twentieth of a cached scan.
NEVER_CACHE = "max-age=0, no-cache, no-store, must-revalidate, private"


def scan(request, token: str):
    response = _scan(request, token)
    response.headers["Expires"] = http_date()
    response.headers["Cache-Control"] = NEVER_CACHE
    return response


def _scan(request, token: str):
    """The verdict on a scanned code. The busiest page: a genuine code's scan reads its card from the cache in
    the same round trip that counts the address's limit (scan_card.look_up), and its log row goes to the scan
    log's stream (scan_log.py); a scan whose card is cached reads nothing from the database and writes nothing
    to it."""
    # Nearly every scan is a phone without a session: the session and the user are not even looked at then.
    signed_in = settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_authenticated
    user = request.user if signed_in else None
    if len(token) > MAX_SCANNED_TOKEN_LENGTH:
        token = ""  # not decoded at all: it cannot be a code, and the verdict is "forged" either way
    claims = services.read_scanned_token(token)
    now = timezone.localtime()
    today = now.date()
    lookup = scan_card.look_up(
        claims.code_id if claims else None,
        ratelimit.counter(request, "scan", settings.SCAN_RATE_LIMIT),
        today,
    )
    if lookup.limited:
        return rate_limited(request)
    card = lookup.card
    result = services.scan_code(
        token,
        user=user,
        client_address=_client_address(request),
        now=now,
        claims=claims,
        code=card.code if card else None,
    )
    if result.code is not None and card is None and not result.started_task:
        card = scan_card.build(result.code, today)
        if lookup.stamp is not None:
            scan_card.store(result.code.public_id, lookup.stamp, card)
    scanned_at = now.strftime("%Y-%m-%d %H:%M:%S")
    if result.outcome == Scan.Outcome.GENUINE and not result.started_task:
        return HttpResponse(
            scan_page.genuine_page(
                csp_nonce=str(getattr(request, "csp_nonce", "")),
                card_html=scan_page.card_html(card),
                scanned_at=scanned_at,
            )
        )
    context = {
        "outcome": result.outcome,
        "O": Scan.Outcome,
        "scanned_at": scanned_at,
        "task": result.task,
        "is_contact": user is not None and user.role == Role.ENTERPRISE_CONTACT,
        "started": result.started_task,
        "conduct_html": scan_page.conduct_html(),
        "csp_nonce": getattr(request, "csp_nonce", ""),  # for the page's one <style> (settings.py: CSP)
    }
    if result.outcome not in (Scan.Outcome.GENUINE, Scan.Outcome.COMPLETED, Scan.Outcome.NOT_YET_VALID):
        context["report_key"] = django_signing.dumps(result.scan.pk, salt=REPORT_SALT)  # the 举报 link
    if result.task is not None and result.outcome in (Scan.Outcome.GENUINE, Scan.Outcome.NOT_YET_VALID):
        if result.started_task:  # the task has just changed: its section is made afresh, not cached
            card = scan_card.build(result.code, today)
        context["card_html"] = scan_page.card_html(card)
    elif result.task is not None:
        context["bodies"] = (
            [{"name": name} for name in card.bodies]
            if card is not None and card.bodies is not None
            else [tb.body for tb in result.task.task_bodies.select_related("body")]
        )
    if result.outcome == Scan.Outcome.COMPLETED and services.scan_again_open(result.task):
        # "Scan again" (seed 000): the on-site person or legal representative verifies his phone by SMS.
        context["result_key"] = django_signing.dumps(result.scan.pk, salt=RESULT_SALT)
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


def _result_viewer(request, task: Task) -> services.ResultViewer | None:
    """The phone this browser verified for `task` (and only for it), while its half hour lasts."""
    stored = request.session.get(RESULT_VIEWER_SESSION_KEY)
    if not isinstance(stored, dict) or stored.get("task_id") != task.pk:
        return None
    if stored.get("until", 0) < timezone.now().timestamp():
        return None
    return services.ResultViewer(stored["task_id"], stored["phone"], stored["given_as"], stored["name"])


@never_cache
@require_http_methods(["GET", "POST"])
def scan_result(request, key: str):
    """ "Scan again" (seed 000: 结果录入后，法定代表人或现场负责人扫码查看检查结果并评价): from the scan page of a
    completed task, the on-site person named with the result, or the legal representative, verifies his phone
    by an SMS code and then sees this one task's result and evaluates it once. No account, no portal access."""
    if limited(request, "scan_result", settings.SCAN_RATE_LIMIT):
        return rate_limited(request)
    try:
        scan_id = django_signing.loads(key, salt=RESULT_SALT, max_age=RESULT_LINK_MAX_AGE)
    except django_signing.BadSignature:
        return render(request, "portal/scan_result.html", {"invalid": True}, status=404)
    scan_record = Scan.objects.select_related("code").filter(pk=scan_id, code__isnull=False).first()
    if scan_record is None:
        return render(request, "portal/scan_result.html", {"invalid": True}, status=404)
    task = Task.objects.select_related("enterprise").get(pk=scan_record.code.task_id)
    if not services.scan_again_open(task):
        return render(request, "portal/scan_result.html", {"closed": True}, status=410)
    viewer = _result_viewer(request, task)
    step = request.POST.get("form")
    context = {"task": task, "key": key}
    if viewer is None:
        phone_form = ResultPhoneForm(request.POST if step == "phone" else None)
        code_form = ResultCodeForm(request.POST if step == "code" else None)
        if step == "phone" and phone_form.is_valid():
            phone = phone_form.cleaned_data["phone"]
            try:
                services.request_result_code(task=task, phone=phone)
            except DomainError as error:
                phone_form.add_error(None, error.message)
            else:
                code_form = ResultCodeForm(initial={"phone": phone.strip()})
                context["sent"] = True
        elif step == "code" and code_form.is_valid():
            if limited(request, "scan_result_code", "20/h"):
                return rate_limited(request)
            data = code_form.cleaned_data
            try:
                viewer = services.check_result_code(task=task, phone=data["phone"], code=data["code"])
            except DomainError as error:
                code_form.add_error(None, error.message)
                context["sent"] = True
            else:
                request.session.cycle_key()
                request.session[RESULT_VIEWER_SESSION_KEY] = {
                    "task_id": viewer.task_id,
                    "phone": viewer.phone,
                    "given_as": viewer.given_as,
                    "name": viewer.name,
                    "until": timezone.now().timestamp() + RESULT_VIEWER_SECONDS,
                }
                return redirect("portal:scan_result", key)
        elif step == "code":
            context["sent"] = True
        context.update(phone_form=phone_form, code_form=code_form)
        return render(request, "portal/scan_result.html", context)
    evaluation = Evaluation.objects.filter(task=task).first()
    evaluation_form = EvaluationForm(request.POST if step == "evaluation" else None)
    if step == "evaluation" and evaluation is None and evaluation_form.is_valid():
        try:
            services.evaluate_by_phone(
                viewer,
                task=task,
                scores=evaluation_form.scores(),
                comment=evaluation_form.cleaned_data["comment"],
            )
        except DomainError as error:
            evaluation_form.add_error(None, error.message)
        else:
            messages.success(request, "感谢您的评议")
            return redirect("portal:scan_result", key)
    elif step == "evaluation" and evaluation is not None:
        evaluation_form.add_error(None, "本次检查已评议过，每次检查只能评议一次")
    record = getattr(task, "record", None)
    context.update(
        viewer=viewer,
        bodies=[tb.body for tb in task.task_bodies.select_related("body")],
        record=record,
        findings=record.findings.all() if record else [],
        evaluated=evaluation is not None,
        evaluation_form=evaluation_form,
        rights=services.RIGHTS_TEXT,
    )
    return render(request, "portal/scan_result.html", context)


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
    # The lead body, the record and the evaluation with each task, and how many bodies take part: no query
    # per task. The upcoming visits are few; the history grows with the years and is paged.
    tasks = (
        Task.objects.visible_to(user)
        .select_related("lead_body", "record", "evaluation")
        .annotate(body_count=Count("task_bodies"))
        .order_by("-window_start", "-pk")
    )
    completed = Q(status__in=(Task.Status.RESULT_RECORDED, Task.Status.CLOSED))  # Task.is_completed
    from jianchama.notifications.models import Notification

    unread = Notification.objects.visible_to(user).filter(read_at__isnull=True).count()
    enterprise_url = request.build_absolute_uri(reverse("portal:enterprise_code", args=[enterprise.uscc]))
    # What waits for the enterprise (F-46), each linking back here to exactly its tasks (?todo=).
    todo_tasks, todo_label = todos.narrow(user, request.GET.get("todo", ""), Task.objects.visible_to(user))
    return render(
        request,
        "portal/home.html",
        {
            "enterprise": enterprise,
            "todos": todos.for_user(user),
            # Its inspections this year against the caps, and by body (F-21, F-27).
            "year": frequency.enterprise_year(enterprise),
            "no_code_form": NoCodeReportForm(),
            "todo_label": todo_label,
            "todo_tasks": todo_tasks.select_related("lead_body").order_by("window_start")[:50]
            if todo_label
            else [],
            "upcoming": list(tasks.exclude(completed).exclude(status=Task.Status.CANCELLED)),
            "page": paginate(request, tasks.filter(completed)),
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
            "documents": task.documents.all(),
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
