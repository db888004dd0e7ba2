"""What every app's pages share: a login-required page whose refusals say why, a service call whose domain
errors become a form's errors, and one page of a list."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import reverse
from django.utils.functional import cached_property

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


def pk_url(name: str, request=None) -> Callable[[int], str]:
    """The URL named `name` (a path with one integer argument) of each pk, reversed once for a list's
    thousand rows (a `reverse` or `{% url %}` costs about 50 µs each); absolute when `request` is given."""
    marker = 987654321
    url = reverse(name, args=[marker])
    if request is not None:
        url = request.build_absolute_uri(url)
    head, tail = url.rsplit(str(marker), 1)
    return lambda pk: f"{head}{int(pk)}{tail}"


class CappedPaginator(Paginator):
    """Pages of a list whose count stops at `LIST_COUNT_CAP` rows (1,000 by default).

    Counting every row a user may see costs as much as the scoped table (millions of tasks for a city
    supervisor); a page should cost what it shows. The count reads at most cap + 1 rows, and the pager says
    "1000+ 条" beyond: the last pages are then reached by narrowing the filters, not by paging.
    """

    def __init__(self, object_list, per_page, cap: int | None = None, count_in_order: bool = False, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.cap = cap if cap is not None else settings.LIST_COUNT_CAP
        self.count_in_order = count_in_order

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if hasattr(rows, "query"):
            # Counted in the list's order where an index gives that order: PostgreSQL then walks the same
            # index as the page and stops at cap + 1 rows. Without the order it may hash the whole scope
            # first (a district supervisor's 1,000,001 tasks: 557 ms against 9 ms; bench/README.md, pages).
            counted = rows if self.count_in_order else rows.order_by()
            return counted[: self.cap + 1].count()
        return len(rows)

    @property
    def capped(self) -> bool:
        """True when there are more rows than were counted."""
        return self.count > self.cap

    @cached_property
    def num_pages(self) -> int:
        if self.capped:
            return -(-self.cap // self.per_page)
        return super().num_pages


def paginate(
    request, queryset, per_page: int | None = None, *, count_in_order: bool = False, cap: int | None = None
):
    """The page of `queryset` the request asks for (`?page=`), counted up to `cap` (`LIST_COUNT_CAP`)."""
    paginator = CappedPaginator(queryset, per_page or PAGE_SIZE, cap=cap, count_in_order=count_in_order)
    return paginator.get_page(request.GET.get("page"))
