"""Login, the home page, the working-day calendar page."""

import datetime

from django import forms
from django.contrib import messages
from django.contrib.auth import authenticate, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from . import workdays
from .errors import DomainError
from .models import CalendarDay, CalendarYear
from .services import request_login_code


def rate_limited(request, exception=None):
    return HttpResponse(
        render_to_string("core/rate_limited.html", request=request), status=429,
        headers={"Retry-After": "60"},
    )


@ratelimit(key="ip", rate="30/m", method="POST", block=True)
def staff_login(request):
    return auth_views.LoginView.as_view(template_name="core/login.html")(request)


class PhoneForm(forms.Form):
    phone = forms.CharField(label="手机号", max_length=20)


class CodeForm(forms.Form):
    phone = forms.CharField(label="手机号", max_length=20, widget=forms.HiddenInput)
    code = forms.RegexField(label="验证码", regex=r"^\d{6}$", error_messages={"invalid": "验证码为6位数字"})


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate="20/m", method="POST", block=True)
def phone_login(request):
    """Enterprise contacts: step one asks for the phone, step two for the code sent to it."""
    phone_form, code_form = PhoneForm(), None
    if request.method == "POST" and "code" in request.POST:
        code_form = CodeForm(request.POST)
        if code_form.is_valid():
            user = authenticate(request, phone=code_form.cleaned_data["phone"], code=code_form.cleaned_data["code"])
            if user is not None:
                login(request, user, backend="jianchama.core.auth.PhoneCodeBackend")
                return redirect("core:home")
            code_form.add_error("code", getattr(request, "login_error", "验证码不正确或已过期，请重新获取"))
    elif request.method == "POST":
        phone_form = PhoneForm(request.POST)
        if phone_form.is_valid():
            try:
                request_login_code(phone=phone_form.cleaned_data["phone"])
            except DomainError as error:
                phone_form.add_error("phone", error.message)
            else:
                messages.info(request, "如该手机号已登记为企业联系人，验证码已通过短信发送")
                code_form = CodeForm(initial={"phone": phone_form.cleaned_data["phone"].strip()})
    return render(request, "core/phone_login.html", {"phone_form": phone_form, "code_form": code_form})


@login_required
def home(request):
    return render(request, "core/home.html")


class DeadlineForm(forms.Form):
    start = forms.DateField(label="起算日", widget=forms.DateInput(attrs={"type": "date"}))
    days = forms.IntegerField(label="工作日数", min_value=1, max_value=365, initial=5)


@login_required
def calendar(request):
    """The loaded schedules, the years not yet loaded, and a deadline calculator."""
    today = timezone.localdate()
    years = list(CalendarYear.objects.all())
    form = DeadlineForm(request.GET or None, initial={"start": today})
    deadline = form.is_valid() and workdays.compute_deadline(form.cleaned_data["start"], form.cleaned_data["days"])
    year = int(request.GET.get("year") or today.year)
    return render(request, "core/calendar.html", {
        "years": years,
        "missing_years": workdays.unknown_years([today.year, today.year + 1]),
        "form": form,
        "deadline": deadline,
        "year": year,
        "days": CalendarDay.objects.filter(date__year=year),
        "today": today,
        "is_working_today": workdays.is_working_day(today),
        "next_working_day": workdays.add_working_days(today, 1) if today.year in [y.year for y in years] else None,
        "min_year": datetime.MINYEAR,
    })
