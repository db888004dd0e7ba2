"""What every app's pages share: a login-required page whose refusals say why, a service call whose domain
errors become a form's errors, and one page of a list."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from .errors import DomainError, PermissionDenied

PAGE_SIZE = 50


def forbidden(request, message: str):
    """The 403 page naming why the action was refused."""
    return render(request, "core/refused.html", {"message": message}, status=403)


def page_view(view: Callable) -> Callable:
    """Login required; a refusal by a service (or by the view) is a 403 page that says why."""

    @login_required
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied as refusal:
            return forbidden(request, refusal.message)

    return wrapper


def submit_form(form, call: Callable):
    """Run a service; its domain errors become the form's errors. Returns the result, or None if refused."""
    try:
        return call()
    except PermissionDenied:
        raise
    except DomainError as error:
        for problem in error.problems or [error.message]:
            form.add_error(None, problem)
        return None


def paginate(request, queryset, per_page: int = PAGE_SIZE):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))
