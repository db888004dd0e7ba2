"""Session limits of staff accounts: an idle timeout and a maximum length (a working day); and the 400 page
for input that overflows despite the forms' ranges.

Enterprise contacts are not concerned: they log in with a one-time SMS code on their own phone.
"""

import logging
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login

from .roles import Role

logger = logging.getLogger(__name__)

STARTED_KEY = "_staff_session_started"
SEEN_KEY = "_staff_session_seen"

# The last request's time is written back at most this often: a page's requests within a minute do not
# each save the session.
SEEN_RESOLUTION_SECONDS = 60


class StaffSessionLimitsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.role != Role.ENTERPRISE_CONTACT:
            ended = self._check(request)
            if ended is not None:
                return ended
        return self.get_response(request)

    def _check(self, request):
        session, now = request.session, int(time.time())
        started, seen = session.get(STARTED_KEY), session.get(SEEN_KEY)
        if started is None or seen is None:  # the first request after the login
            session[STARTED_KEY] = session[SEEN_KEY] = now
            return None
        reason = None
        max_seconds = settings.SESSION_MAX_HOURS * 3600
        idle_seconds = settings.SESSION_IDLE_MINUTES * 60
        if now - started >= max_seconds:
            hours = f"{settings.SESSION_MAX_HOURS:g}"
            reason = f"本次登录已超过 {hours} 小时，为保护账号安全已自动退出，请重新登录。"
        elif now - seen >= idle_seconds:
            reason = (
                f"已有 {settings.SESSION_IDLE_MINUTES} 分钟没有操作，为保护账号安全已自动退出，"
                "请重新登录（未保存的内容需重新填写）。"
            )
        if reason is not None:
            logout(request)
            messages.warning(request, reason)
            return redirect_to_login(request.get_full_path())
        if now - seen >= SEEN_RESOLUTION_SECONDS:
            session[SEEN_KEY] = now
        return None


class OutOfRangeInputMiddleware:
    """The last line behind the forms' own ranges (core/bounds.py): a number or date that still overflows a
    query or a date calculation is the user's input, not a fault of the server, so the answer is a 400 page
    saying so in Chinese (the transaction it broke has rolled back), and the traceback goes to the log."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.db import DataError
        from django.shortcuts import render

        if isinstance(exception, OverflowError | DataError):
            logger.warning("输入超出范围：%s %s", request.method, request.path, exc_info=exception)
            return render(request, "core/out_of_range.html", status=400)
        return None


class ChineseNotFoundMiddleware:
    """With DEBUG on, Django answers an unknown address with its technical page in English; users testing a
    development server see the site's own Chinese 404 instead (templates/404.html, also used without DEBUG).
    Only Django's technical page is replaced: a view's own 404 page says something specific and is kept."""

    TECHNICAL_MARKER = b"DEBUG = True"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 404
            and settings.DEBUG
            and response.get("Content-Type", "").startswith("text/html")
            and self.TECHNICAL_MARKER in getattr(response, "content", b"")
        ):
            from django.views.defaults import page_not_found

            return page_not_found(request, exception=None)
        return response
