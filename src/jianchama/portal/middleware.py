"""The lean path of the scan page (issue 16).

Nearly every scan is a phone without a session opening the code's URL. Of the site's middleware such a request
needs only what puts the security headers on the page: this middleware sits right after SecurityMiddleware
(HTTPS redirect, HSTS, nosniff, referrer policy) and CSPMiddleware (the policy and the page's nonce), which
therefore still apply, and answers a GET or HEAD of /C/<token> without a session cookie itself, calling the
scan view directly. It skips static files, sessions, locale, common, CSRF, authentication, messages, the
replica's read-your-writes, staff session limits, axes and idempotency, none of which does anything for such a
request (no cookie: no session, an anonymous user, no form, no write of the client's own), and adds what they
would have added: X-Frame-Options, Content-Language, Content-Length and Vary; and answers an input
overflow with the 400 page as OutOfRangeInputMiddleware does. The page is in the site's language (it has no
other). tests/portal/test_scan_fast_path.py compares the two paths' headers.

Every other request, and a scan from a browser with a session (a signed-in contact, whose scan may start the
visit, or an inspector), takes the whole middleware list.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.urls import Resolver404, resolve
from django.utils import translation
from django.utils.cache import patch_vary_headers

from jianchama.core.middleware import OutOfRangeInputMiddleware

# portal/urls.py's scan pattern, as seen from the site's root (the portal's URLs are included at "").
SCAN_PATH = re.compile(r"/[cC]/(?P<token>[^/]*/?)")


class ScanFastPathMiddleware:
    def __init__(self, get_response):
        from jianchama.portal.views.portal import scan

        self.get_response = get_response
        self.scan = scan
        self.frame_options = XFrameOptionsMiddleware(get_response)
        self.out_of_range = OutOfRangeInputMiddleware(get_response)
        # Should the URLs ever route /C/… elsewhere, this path is not taken rather than wrong.
        try:
            self.enabled = resolve("/C/x").func is scan
        except Resolver404:
            self.enabled = False

    def __call__(self, request):
        if (
            self.enabled
            and request.method in ("GET", "HEAD")
            and settings.SESSION_COOKIE_NAME not in request.COOKIES
        ):
            match = SCAN_PATH.fullmatch(request.path_info)
            if match is not None:
                return self.lean(request, match["token"])
        return self.get_response(request)

    def lean(self, request, token: str):
        language = settings.LANGUAGE_CODE
        translation.activate(language)  # an earlier request on this thread may have left another active
        request.LANGUAGE_CODE = language
        request.user = AnonymousUser()
        try:
            response = self.scan(request, token)
        except Exception as exception:
            response = self.out_of_range.process_exception(request, exception)
            if response is None:
                raise
        # As LocaleMiddleware, then SessionMiddleware (the page does depend on the cookie: with one it takes the
        # whole path, and a contact's scan may start the visit) and CommonMiddleware would have.
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        response.headers.setdefault("Content-Language", language)
        if not response.streaming and "Content-Length" not in response:
            response.headers["Content-Length"] = str(len(response.content))
        return self.frame_options.process_response(request, response)
