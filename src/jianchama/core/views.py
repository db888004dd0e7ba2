"""Login, the home page, the working-day calendar page and its schedule editor, and the health check."""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import authenticate, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from . import todos, workdays
from .errors import DomainError
from .forms import CodeForm, DeadlineForm, PhoneForm, ScheduleForm, StaffAuthenticationForm
from .models import CalendarDay, CalendarYear
from .roles import Role
from .services import SCHEDULE_YEARS, request_login_code, set_year_schedule

# Per client address, on POSTs only: enough for a person who mistypes, too few for a script.
# Settings LOGIN_RATE_STAFF / LOGIN_RATE_PHONE override them (tests use a long period, so no window
# boundary falls inside a test).
STAFF_LOGIN_RATE = "30/m"
PHONE_LOGIN_RATE = "20/m"


def _staff_login_rate(group, request) -> str:
    return getattr(settings, "LOGIN_RATE_STAFF", STAFF_LOGIN_RATE)


def _phone_login_rate(group, request) -> str:
    return getattr(settings, "LOGIN_RATE_PHONE", PHONE_LOGIN_RATE)


def rate_limited(request, exception=None):
    return HttpResponse(
        render_to_string("core/rate_limited.html", request=request),
        status=429,
        headers={"Retry-After": "60"},
    )


# The limit is checked in the view (block=False) so that the Chinese 429 page is shown without relying on
# django-ratelimit's middleware being installed. The staff login and the admin login share one count per
# address (group "staff-login"), so a script cannot double its rate by alternating between them.
@ratelimit(group="staff-login", key="ip", rate=_staff_login_rate, method="POST", block=False)
def staff_login(request):
    if getattr(request, "limited", False):
        return rate_limited(request)
    return auth_views.LoginView.as_view(
        template_name="core/login.html",
        authentication_form=StaffAuthenticationForm,
        redirect_authenticated_user=True,
    )(request)


@ratelimit(group="staff-login", key="ip", rate=_staff_login_rate, method="POST", block=False)
def admin_login(request, extra_context=None):
    """/admin/login/: Django's admin login behind the staff login's address limit (the lockout of
    django-axes already applies to it through the authentication backend)."""
    if getattr(request, "limited", False):
        return rate_limited(request)
    return admin.site.login(request, extra_context)


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=_phone_login_rate, method="POST", block=False)
def phone_login(request):
    """Enterprise contacts: step one asks for the phone, step two for the code sent to it."""
    if getattr(request, "limited", False):
        return rate_limited(request)
    phone_form, code_form = PhoneForm(), None
    if request.method == "POST" and "code" in request.POST:
        code_form = CodeForm(request.POST)
        if code_form.is_valid():
            phone, code = code_form.cleaned_data["phone"].strip(), code_form.cleaned_data["code"].strip()
            user = authenticate(request, phone=phone, code=code)
            if user is not None:
                login(request, user, backend="jianchama.core.auth.PhoneCodeBackend")
                return redirect("core:home")
            code_form.add_error("code", getattr(request, "login_error", "验证码不正确或已过期，请重新获取"))
    elif request.method == "POST":
        phone_form = PhoneForm(request.POST)
        if phone_form.is_valid():
            phone = phone_form.cleaned_data["phone"].strip()
            try:
                request_login_code(phone=phone)
            except DomainError as error:
                phone_form.add_error("phone", error.message)
            else:
                minutes = settings.LOGIN_CODE_TTL_SECONDS // 60
                messages.info(
                    request, f"如该手机号已登记为企业联系人，验证码已通过短信发送，{minutes} 分钟内有效"
                )
                code_form = CodeForm(initial={"phone": phone})
    phone = code_form and (code_form.initial.get("phone") or code_form.data.get("phone", ""))
    return render(
        request, "core/phone_login.html", {"phone_form": phone_form, "code_form": code_form, "phone": phone}
    )


def healthz(request):
    """For the load balancer and the scan benchmark: the process answers. Touches neither the database
    nor the session."""
    return HttpResponse("ok", content_type="text/plain")


@login_required
def home(request):
    """What waits for the user (F-46): each to-do with its count and nearest deadline. The enterprise's home
    is its portal, which shows its own to-dos."""
    if request.user.role == Role.ENTERPRISE_CONTACT:
        return redirect("portal:home")
    return render(request, "core/home.html", {"todos": todos.for_user(request.user)})


@login_required
def calendar(request):
    """The loaded schedules, the years not yet loaded, and a deadline calculator."""
    today = timezone.localdate()
    years = list(CalendarYear.objects.all())
    form = DeadlineForm(request.GET if "start" in request.GET else None, initial={"start": today})
    deadline = None
    if form.is_bound and form.is_valid():
        deadline = workdays.compute_deadline(form.cleaned_data["start"], form.cleaned_data["days"])
    try:
        year = int(request.GET.get("year") or today.year)
    except ValueError:
        year = today.year
    if year not in SCHEDULE_YEARS:
        year = today.year
    return render(
        request,
        "core/calendar.html",
        {
            "years": years,
            "missing_years": workdays.unknown_years([today.year, today.year + 1]),
            "form": form,
            "deadline": deadline,
            "year": year,
            "year_loaded": any(y.year == year for y in years),
            "days": CalendarDay.objects.filter(date__year=year),
            "today": today,
            "is_working_today": workdays.is_working_day(today),
            "next_working_day": workdays.compute_deadline(today, 1),
        },
    )


def forbidden(request, message: str) -> HttpResponse:
    return render(request, "core/forbidden.html", {"message": message}, status=403)


@login_required
@require_http_methods(["GET", "POST"])
def calendar_edit(request):
    """The platform administrator enters a year's schedule as the State Council publishes it."""
    if not request.user.is_platform_admin:
        return forbidden(request, "只有平台管理员可以维护节假日安排。")
    if request.method == "POST":
        form = ScheduleForm(request.POST)
        if form.is_valid():
            year = form.cleaned_data["year"]
            try:
                set_year_schedule(
                    request.user,
                    year=year,
                    holidays=form.cleaned_data["holidays"],
                    workdays=form.cleaned_data["workdays"],
                )
            except DomainError as error:
                for problem in error.problems or [error.message]:
                    form.add_error(None, problem)
            else:
                count = len(form.cleaned_data["holidays"]) + len(form.cleaned_data["workdays"])
                messages.success(request, f"{year}年节假日安排已保存（共 {count} 天）")
                return redirect(f"{reverse('core:calendar')}?year={year}")
    else:
        try:
            year = int(request.GET["year"]) if request.GET.get("year") else None
        except ValueError:
            year = None
        form = ScheduleForm(initial=ScheduleForm.initial_for(year if year in SCHEDULE_YEARS else None))
    return render(request, "core/calendar_edit.html", {"form": form})


# In the site's style (its stylesheet and header) but built from a string: no template, database or session.
_SERVER_ERROR_PAGE = """<!doctype html><html lang="zh-hans"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} · 检查码平台</title>
<link rel="icon" href="{icon}" type="image/svg+xml"><link rel="stylesheet" href="{css}"></head>
<body><header class="topbar"><a class="brand" href="/"><img src="{icon}" alt="" width="28" height="28">
<span>检查码</span></a></header><main class="page" id="main"><div class="card error-page"><h1>{title}</h1>
<p>{text}</p><p><a href="/">返回首页</a></p></div></main></body></html>"""


def _error_page(title: str, text: str) -> str:
    from django.templatetags.static import static

    return _SERVER_ERROR_PAGE.format(
        title=title, text=text, css=static("css/site.css"), icon=static("icons/favicon.svg")
    )


def server_error(request):
    """handler500: a plain Chinese page that touches neither the database nor the session.

    A lost database connection (OperationalError, InterfaceError) is a 503 saying nothing was saved: every
    write is one transaction, so the operation was rolled back whole and can be repeated."""
    import sys

    from django.db import InterfaceError, OperationalError

    error = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError):
        page = _error_page("数据库暂时不可用", "数据库暂时不可用，请稍后重试，本次操作未保存。")
        return HttpResponse(page, status=503, headers={"Retry-After": "30"})
    page = _error_page(
        "服务器出错", "服务器处理请求时出错，已记录，请稍后重试；如反复出现，请联系平台管理员。"
    )
    return HttpResponse(page, status=500)


# --- Queued exports (core/exports.py) ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET"])
def export_job(request, pk: int):
    """A queued export: a progress bar that refreshes itself until the worker is done, then the download
    link (for its requester only: someone else's job is a 404, as one that does not exist)."""
    from django.shortcuts import get_object_or_404

    from .models import ExportJob

    job = get_object_or_404(ExportJob.objects.visible_to(request.user), pk=pk)
    expired = job.status == ExportJob.Status.EXPIRED or (
        job.status == ExportJob.Status.DONE
        and job.expires_at is not None
        and job.expires_at <= timezone.now()
    )
    return render(
        request,
        "core/export_job.html",
        {"job": job, "expired": expired, "sync_max": f"{settings.EXPORT_SYNC_MAX_ROWS:,}"},
    )


@login_required
@require_http_methods(["GET"])
def export_download(request, pk: int):
    """The file of a done export, to its requester, until it expires."""
    from django.http import Http404
    from django.shortcuts import get_object_or_404

    from . import files
    from .models import ExportJob

    job = get_object_or_404(
        ExportJob.objects.visible_to(request.user),
        pk=pk,
        status=ExportJob.Status.DONE,
        expires_at__gt=timezone.now(),
    )
    if not job.file:
        raise Http404
    return files.send(request, job.file, job.file_name)
