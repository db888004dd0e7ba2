"""django-csp's middleware with the header built once per process (issue 16).

django-csp builds the header from the settings on every response, twice (the policy and the report-only one),
each time copying a dataclass to a dict and every directive: about a tenth of a cached scan's CPU
(bench/profile_scan.py). A response without a policy of its own (no `csp_update`, `csp_replace` or
`csp_exempt` decorator: nearly all) gets the same header but for the nonce, so the header is built once with a
placeholder where the nonce goes, and each response gets it with its request's nonce put in. Responses with a
policy of their own, and debug pages, go through django-csp unchanged. The kept headers are dropped when the
settings change (tests).
"""

from __future__ import annotations

import http.client

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as _CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed

# Not in base64's alphabet, so it is no part of a nonce; nor of any source the settings could name.
_NONCE_PLACEHOLDER = "@@csp-nonce@@"
_OWN_POLICY = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)
_DEBUG_CODES = (http.client.INTERNAL_SERVER_ERROR, http.client.NOT_FOUND)
_HEADERS = (
    (HEADER, False, "_csp_exempt", "CONTENT_SECURITY_POLICY"),
    (HEADER_REPORT_ONLY, True, "_csp_exempt_ro", "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
)

_kept: dict[tuple[bool, bool], str] = {}


def _policy(report_only: bool, with_nonce: bool) -> str:
    key = (report_only, with_nonce)
    policy = _kept.get(key)
    if policy is None:
        policy = _kept[key] = build_policy(
            nonce=_NONCE_PLACEHOLDER if with_nonce else None, report_only=report_only
        )
    return policy


def _excluded(request, setting: str) -> bool:
    prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
    return bool(prefixes) and request.path_info.startswith(tuple(prefixes))


def _forget(*, setting, **kwargs) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _kept.clear()


setting_changed.connect(_forget, dispatch_uid="jianchama.core.csp.forget")


class CSPMiddleware(_CSPMiddleware):
    def process_response(self, request, response):
        if (response.status_code in _DEBUG_CODES and settings.DEBUG) or any(
            getattr(response, name, None) is not None for name in _OWN_POLICY
        ):
            return super().process_response(request, response)
        nonce = getattr(request, "_csp_nonce", None)
        nonce = nonce if isinstance(nonce, str) else None
        for header, report_only, exempt, setting in _HEADERS:
            policy = _policy(report_only, nonce is not None)
            if (
                policy
                and header not in response
                and getattr(response, exempt, False) is False
                and not _excluded(request, setting)
            ):
                response[header] = policy.replace(_NONCE_PLACEHOLDER, nonce) if nonce else policy
        if nonce is None:
            # As django-csp: a nonce asked for once the header is written is an error, not a silent gap.
            request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
