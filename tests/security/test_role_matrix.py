"""Keep it closed (issue 10): every URL pattern of the site × every role, generated from the URL configuration.

The world (tests/security/conftest.py) has two districts. The people of side A (Jinshan) — each staff role,
the enterprise's contact — plus the platform administrator and an anonymous visitor request every page:
once with side A's objects in the path ("in", what the role may or may not reach by its role) and once with
side B's ("out", what no side-A person may reach). Every private text of side B contains MARK.

For every (URL, role, in/out, GET/POST):
- never a 5xx;
- for everyone but the platform administrator, no MARK in the response (lists, details, exports, JSON);
- "out": 400/403/404/405 or the login page, unless the page is public by design (PUBLIC);
- anonymous: the login page (or 403/404/405) everywhere but the public pages;
- enterprise-only pages refuse staff, staff pages refuse the enterprise's contact;
- the main pages answer 200 to the roles of EXPECTED_OK.

A URL with path parameters needs a filler in FILLERS (URL name → the parameters for a side); a page added
without one fails `test_every_url_pattern_has_a_filler`, which is how a new page gets covered the day it is
added. POSTs are sent with empty data (CSRF checks off) and rolled back, so the world stays as built."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from jianchama.registry import photos
from tests.factories import make_uscc
from tests.security.conftest import COMPLAINANT_NAME, COMPLAINANT_PHONE, MARK, ROLE_USERS, build_world

# --- The URL list ---------------------------------------------------------------------------------------


def url_patterns() -> Iterator[tuple[str, str, URLPattern]]:
    """(key, route, pattern) of every pattern, walking includes; the key is the namespaced name, or the route
    for an unnamed pattern."""

    def walk(patterns, prefix: str, namespace: str):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = ":".join(part for part in (namespace, pattern.namespace) if part)
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            else:
                route = prefix + str(pattern.pattern)
                key = f"{namespace}:{pattern.name}" if namespace and pattern.name else (pattern.name or route)
                yield key, route, pattern

    yield from walk(get_resolver().url_patterns, "", "")


def skipped(key: str, route: str) -> bool:
    # Django's admin is checked separately (test_admin_site_is_for_the_platform_admin_only); static files are
    # served by the web server.
    return key.startswith("admin:") or route.startswith("admin/") or route.startswith("static/")


def needs_parameters(pattern: URLPattern) -> bool:
    return bool(pattern.pattern.regex.groupindex) or pattern.pattern.regex.groups > 0


# --- Fillers: the path parameters of each URL for a side ---------------------------------------------------
# A filler is f(world, side, role) → kwargs for reverse(). Some parameters are not objects of a side (a file
# format, a key nobody holds): those give the same kwargs for both sides.

Filler = Callable[..., dict]


def pk(attr: str) -> Filler:
    return lambda w, s, role: {"pk": getattr(s, attr).pk}


def pk_action(attr: str, action: str, name: str = "action") -> Filler:
    return lambda w, s, role: {"pk": getattr(s, attr).pk, name: action}


def notification(w, s, role):
    if role == "platform_admin" and s is w.a:
        return {"pk": w.admin_notification.pk}
    # Everyone without a notification of its own (anonymous, the platform admin on side B) gets the body
    # admin's of the side: somebody else's.
    return {"pk": s.notifications.get(role, s.notifications["body_admin"]).pk}


FILLERS: dict[str, Filler] = {
    # portal (the scan page and its report link take bearer secrets: see BEARER)
    "portal:scan": lambda w, s, role: {"token": s.token},
    "portal:report": lambda w, s, role: {"key": s.report_key},
    "portal:scan_result": lambda w, s, role: {"key": s.result_key},
    "portal:enterprise_code": lambda w, s, role: {"uscc": s.enterprise.uscc},
    "portal:task_detail": pk("task"),
    "portal:complaint_detail": pk("portal_complaint"),
    # inspections
    "inspections:task_detail": pk("task"),
    "inspections:task_documents": pk("task"),
    "inspections:notice_file": pk("task"),
    "inspections:show_code": pk("open_task"),
    "inspections:record_result": pk("open_task"),
    "inspections:task_submit": pk("open_task"),
    "inspections:task_join": pk("open_task"),
    "inspections:task_set_mode": pk("open_task"),
    "inspections:statement_reply": lambda w, s, role: {"pk": s.task.pk, "statement_pk": s.statement.pk},
    "inspections:task_action": pk_action("open_task", "check_in"),
    # plans and draws
    "plans:proposal_detail": pk("proposal"),
    "plans:proposal_action": pk_action("proposal", "accept"),
    "plans:public_detail": pk("published_plan"),
    "plans:plan_detail": pk("plan"),
    "plans:plan_edit": pk("plan"),
    "plans:plan_action": pk_action("plan", "publish"),
    "draws:detail": pk("draw"),
    "draws:json": pk("draw"),
    "draws:plan_draws": lambda w, s, role: {"plan_pk": s.published_plan.pk},
    "draws:reveal": pk("draw"),
    "draws:withdraw": pk("draw"),
    # supervision
    "supervision:finding_detail": pk("finding"),
    "supervision:finding_dismiss": pk("open_finding"),
    "supervision:sampling_detail": pk("round"),
    "supervision:sampling_json": pk("round"),
    "supervision:sampling_reveal": pk("round"),
    "supervision:sampling_withdraw": pk("round"),
    "supervision:score_sheet_edit": pk("sheet"),
    "supervision:sampling_review_create": pk("sampled"),
    "supervision:sampling_review_detail": pk("review"),
    "supervision:finding_warn": pk("open_finding"),
    "supervision:finding_recommend": pk("open_finding"),
    "supervision:finding_recommend_direct": pk("open_finding"),
    "supervision:warning_action": pk_action("warning", "response"),
    "supervision:recommendation_detail": pk("recommendation"),
    "supervision:recommendation_pdf": pk("recommendation"),
    "supervision:recommendation_report_file": pk("recommendation"),
    "supervision:decision_create": pk("recommendation"),
    "supervision:recommendation_action": pk_action("recommendation", "acknowledge"),
    "supervision:decision_detail": pk("decision"),
    "supervision:decision_pdf": pk("decision"),
    "supervision:decision_action": pk_action("decision", "confirm"),
    "supervision:guidance_detail": pk("guidance"),
    "supervision:guidance_pdf": pk("guidance"),
    "supervision:guidance_action": pk_action("guidance", "acknowledge"),
    "supervision:bulletin_detail": pk("bulletin"),
    "supervision:bulletin_action": pk_action("bulletin", "withdraw"),
    "supervision:bulletin_public_detail": pk("public_bulletin"),
    # open data: a dataset's file is named by dataset, year and format (no object of a side)
    "opendata:file": lambda w, s, role: {
        "slug": "bulletins",
        "year": str(timezone.localdate().year),
        "fmt": "json",
    },
    "opendata:statistics_region": lambda w, s, role: {"code": "310116"},
    "opendata:statistics_file": lambda w, s, role: {"code": "310116", "fmt": "json"},
    # complaints
    "complaints:detail": pk("complaint"),
    "complaints:action": pk_action("complaint", "handle", "name"),
    "complaints:lead_detail": pk("lead"),
    "complaints:lead_action": pk_action("lead", "accept", "name"),
    "complaints:survey_detail": pk("survey"),
    "complaints:activity_detail": pk("activity"),
    "reports:detail": pk("report"),
    "reports:file": lambda w, s, role: {"pk": s.report.pk, "fmt": "xlsx"},
    "reports:action": pk_action("report", "issue"),
    "reports:assessment_detail": pk("assessment"),
    "reports:assessment_export": pk("assessment"),
    "reports:assessment_score": lambda w, s, role: {"pk": s.assessment.pk, "body_pk": s.body.pk},
    "reports:assessment_action": pk_action("assessment", "recompute"),
    "reports:scheme_detail": pk("scheme"),
    "reports:scheme_action": pk_action("scheme", "derive"),
    "complaints:survey_action": pk_action("survey", "close", "name"),
    "portal:survey_answer": pk("survey"),
    # notifications
    "notifications:detail": notification,
    "notifications:mark_read": notification,
    # registry
    "registry_import:enterprises_template": lambda w, s, role: {"fmt": "xlsx"},
    "registry_import:inspectors_template": lambda w, s, role: {"fmt": "csv"},
    "registry_import:problems_csv": lambda w, s, role: {"key": "no-such-import"},
    "registry:body_detail": pk("body"),
    "registry:body_edit": pk("body"),
    "registry:inspector_detail": pk("inspector"),
    "registry:inspector_edit": pk("inspector"),
    "registry:certificate_create": pk("inspector"),
    "registry:certificate_edit": pk("certificate"),
    "registry:certificate_status": pk("certificate"),
    "registry:enterprise_detail": pk("enterprise"),
    "registry:enterprise_edit": pk("enterprise"),
    "registry:contact_create": pk("enterprise"),
    "registry:contact_remove": pk("contact"),
    "registry:item_detail": pk("item"),
    "registry:item_edit": pk("item"),
    "registry:standard_detail": pk("standard"),
    "registry:guide_detail": pk("guide"),
    "registry:guide_edit": pk("guide"),
    "registry:guide_publish": pk("guide"),
    "registry:guide_unpublish": pk("published_guide"),
    # stored files (issue 10 item 2): through views that check the owner's scope
    "inspections:evidence_file": lambda w, s, role: {"pk": s.evidence.pk},
    "inspections:document_file": lambda w, s, role: {"pk": s.task.pk, "document_pk": s.document.pk},
    "registry:inspector_photo": pk("inspector"),
    "portal:inspector_photo": lambda w, s, role: {"key": photos.public_key(s.inspector.pk, "photo.png")},
    # the enterprise's own contacts (issue 10 item 1)
    "portal:contact_remove": pk("contact"),
    # queued imports (issue 10 item 5): their uploader's alone
    "registry_import:job": lambda w, s, role: {"pk": s.import_job.pk},
    "core:export_job": pk("export_job"),
    "core:export_download": pk("export_job"),
    "registry_import:job_problems_csv": lambda w, s, role: {"pk": s.import_job.pk},
    # the integration API (issue 12): bearer keys only, so every session here gets 401; tests/api covers keys
    **{
        f"api-v1:{name}": (lambda w, s, role: {"number": s.open_task.number})
        for name in (
            "submit_task",
            "approve_task",
            "get_task",
            "get_code",
            "check_in",
            "record_result",
            "close_task",
            "cancel_task",
        )
    },
    "api-v1:delete_webhook": lambda w, s, role: {"webhook_id": s.webhook.pk},
    # the 12345 hotline's client reads a work order's result (issue 17); bearer keys only, as above
    "api-v1:get_work_order": lambda w, s, role: {"number": "GD-NONE"},
    # the body administrator's integration pages
    "integrations:client_detail": pk("api_client"),
    "integrations:client_action": pk_action("api_client", "rotate"),
    "integrations:key_revoke": lambda w, s, role: {"pk": s.api_key_row.pk},
    "integrations:delivery_resend": lambda w, s, role: {"pk": s.webhook_delivery.pk},
}

# Parameters that are bearer secrets: whoever holds the code (or the report link made from its scan) may open
# the page, whichever district it belongs to. Only side A's are requested.
BEARER = {"portal:scan", "portal:report", "portal:scan_result", "portal:inspector_photo"}
# Parameters that are no object of a side (a file format, an import's key held in its maker's session).
NOT_SCOPED = {
    "registry_import:enterprises_template",
    "registry_import:inspectors_template",
    "registry_import:problems_csv",
    "opendata:file",
    "opendata:statistics_region",
    "opendata:statistics_file",
}

# Public by design (no login, or any logged-in user): side B's object may be shown, but never a MARK
# (public objects carry none; a MARK on these pages is a private detail shown with a public one).
PUBLIC = {
    "jwks",
    # The API's description is public: a body's contractor reads it before he has a key (issue 12).
    "api-v1:openapi-json",
    "api-v1:openapi-view",
    "portal:scan",
    "portal:report",
    "portal:scan_result",
    "supervision:sampling_list",
    "core:home",
    "core:healthz",
    "core:login",
    "core:phone_login",
    "core:logout",
    "portal:enterprise_code",
    "plans:public_list",
    "plans:public_detail",
    "plans:public_csv",
    "plans:public_json",
    "draws:list",
    "draws:detail",
    "draws:json",
    "draws:verifier",
    "supervision:sampling_detail",
    "supervision:sampling_json",
    "supervision:sampling_verifier",
    "supervision:bulletin_public_list",
    "supervision:bulletin_public_detail",
    "opendata:catalogue",
    "opendata:index_json",
    "opendata:caps",
    "opendata:caps_json",
    "opendata:caps_csv",
    "opendata:file",
    "opendata:statistics",
    "opendata:statistics_region",
    "opendata:statistics_file",
    # The field app's service worker and manifest: code and names, no data (the browser fetches a manifest
    # without credentials); the app's page and its JSON are the inspector's only (issue 15).
    "inspections:field_sw",
    "inspections:field_manifest",
}
# Public pages that name every enterprise by design: the list of each enterprise's yearly caps and its CSV
# (F-43, 国办发〔2024〕54号). The enterprises' names (side B's carries MARK) are taken out of the response before
# the MARK search, so that any other private text of side B they showed would still be caught.
NAMES_ENTERPRISES = {"opendata:caps", "opendata:caps_csv"}
# Open to every logged-in user, whichever district (bodies and the published item catalogue are public).
# The draws page of a published plan shows only what the public draw page shows.
LOGGED_IN_PUBLIC = {
    "registry:body_detail",
    "registry:item_detail",
    "registry:standard_detail",  # the city's inspection standards are published documents (issue 17)
    "draws:plan_draws",
}

# The enterprise's own pages: staff must never use them as if they were the enterprise.
ENTERPRISE_ONLY = {
    "portal:home",
    # its own contacts (issue 10 item 1: the enterprise manages its logins itself, no staff role does)
    "portal:contacts",
    "portal:contact_request",
    "portal:contact_confirm",
    "portal:contact_remove",
    "portal:task_detail",
    "portal:complaint_list",
    "portal:complaint_create",
    "portal:complaint_detail",
    # "有人未出示检查码来检查": the enterprise's one-tap report (issue 14)
    "portal:report_no_code",
    # the surveys it answers for itself (F-47)
    "portal:survey_list",
    "portal:survey_answer",
    "registry:enterprise_detail_own",
}
# What the enterprise's contact may open besides the public pages and its own pages; every other page is
# staff-only and must refuse it.
ENTERPRISE_MAY_OPEN = ENTERPRISE_ONLY | {
    # the evidence files of its own inspections (Evidence follows its task's visible_to)
    "inspections:evidence_file",
    # the standard documents of its own inspections (F-45: delivered to the enterprise)
    "inspections:task_documents",
    "inspections:notice_file",
    "inspections:document_file",
    "notifications:inbox",
    "notifications:detail",
    "notifications:mark_read",
    "registry:guide_list",
    "registry:guide_detail",
    "registry:body_list",
    "registry:body_detail",
    "registry:item_list",
    "registry:item_detail",
    # the city standard its inspections follow (issue 17)
    "registry:standard_list",
    "registry:standard_detail",
    "core:calendar",
    # Staff pages that answer the enterprise's contact with only what visible_to gives it (nothing, or its own
    # tasks and the published plans): no leak, but a page it has no use for (see the report of issue 10).
    "complaints:lead_list",
    "draws:conflicts",
    "draws:plan_draws",
    "plans:plan_list",
    "registry:enterprise_list",
    "registry:enterprise_detail",
    "registry_import:enterprises_template",
    "registry_import:inspectors_template",
    "registry:inspector_list",
    "supervision:steps",
    "inspections:task_list",
    "inspections:my_today",
}

# Cells where side B's object or text is in scope by design: (URL key, role or "*") → why. Neither the
# content check nor the out-of-scope status check applies there.
BY_DESIGN: dict[tuple[str, str], str] = {
    ("draws:json", "*"): "the public record of a draw carries its inspector pool (names and certificates)",
    ("draws:reveal", "*"): "an empty form is sent back to the plan's draws page before reveal_draw refuses",
    ("registry:enterprise_list", "city_reviewer"): "a city-level body sees the enterprises of the whole city",
    (
        "registry:enterprise_detail",
        "city_reviewer",
    ): "a city-level body sees the enterprises of the whole city",
    ("registry:enterprise_edit", "city_reviewer"): "refused (403), naming an enterprise it may see",
    ("registry:contact_create", "city_reviewer"): "refused (403), naming an enterprise it may see",
    ("registry:contact_remove", "city_reviewer"): "refused (403), naming an enterprise it may see",
    **{
        ("supervision:score_sheet_list", role): "ScoreSheet.visible_to: every body's people see every sheet"
        for role in ("inspector_user", "body_admin", "partner_admin", "city_reviewer")
    },
}

# Pages refused to a role even for its own side's objects.
MUST_REFUSE: dict[str, set[str]] = {
    # Only the enterprise itself or the platform administrator manage an enterprise's logins (issue 10 item 1).
    "registry:contact_create": set(ROLE_USERS),
    "registry:contact_remove": set(ROLE_USERS),
}

# Texts of side A that only some roles may see, wherever they appear.
PRIVATE_TEXTS: dict[str, set[str]] = {
    COMPLAINANT_NAME: {"complaint_intake", "supervisor", "platform_admin"},
    COMPLAINANT_PHONE["甲"]: {"complaint_intake", "supervisor", "platform_admin"},
}

# In-scope GETs that must answer 200: the main pages × the roles whose work they are.
EXPECTED_OK: dict[str, set[str]] = {
    "inspections:task_detail": {
        "inspector_user",
        "body_admin",
        "city_reviewer",
        "supervisor",
        "platform_admin",
    },
    "portal:task_detail": {"enterprise_contact"},
    "portal:complaint_detail": {"enterprise_contact"},
    "portal:report_no_code": {"enterprise_contact"},
    "plans:plan_detail": {"inspector_user", "body_admin", "city_reviewer", "supervisor", "platform_admin"},
    "plans:proposal_detail": {"body_admin", "partner_admin", "supervisor", "platform_admin"},
    "complaints:detail": {"body_admin", "complaint_intake", "supervisor", "platform_admin"},
    "complaints:lead_detail": {"supervisor", "reconsideration_office", "platform_admin"},
    "complaints:survey_detail": {"supervisor", "platform_admin"},
    "complaints:activity_detail": {"observer", "supervisor", "platform_admin"},
    "complaints:activity_list": {"observer", "supervisor", "platform_admin"},
    "portal:survey_answer": {"enterprise_contact"},
    "supervision:finding_detail": {"body_admin", "district_government", "supervisor", "platform_admin"},
    "supervision:recommendation_detail": {
        "body_admin",
        "district_government",
        "supervisor",
        "platform_admin",
    },
    "supervision:decision_detail": {"body_admin", "district_government", "supervisor", "platform_admin"},
    "supervision:bulletin_detail": {
        "inspector_user",
        "body_admin",
        "partner_admin",
        "district_government",
        "supervisor",
        "platform_admin",
    },
    "supervision:guidance_detail": {
        "body_admin",
        "partner_admin",
        "district_government",
        "supervisor",
        "platform_admin",
    },
    "supervision:sampling_review_detail": {"supervisor", "platform_admin"},
    "registry:enterprise_detail": {"inspector_user", "body_admin", "supervisor", "enterprise_contact"},
    "registry:inspector_detail": {"inspector_user", "body_admin", "supervisor", "platform_admin"},
    "registry:guide_detail": {"inspector_user", "body_admin", "platform_admin"},
    "notifications:detail": set(ROLE_USERS) | {"platform_admin"},
    # The assessment of bodies (F-37): the bureau, the district government, and each body for its own row.
    "reports:assessments": {
        "body_admin",
        "partner_admin",
        "district_government",
        "supervisor",
        "platform_admin",
    },
    "reports:assessment_detail": {
        "body_admin",
        "partner_admin",
        "district_government",
        "supervisor",
        "platform_admin",
    },
    "reports:assessment_export": {"body_admin", "district_government", "supervisor", "platform_admin"},
    "reports:assessment_score": {"body_admin", "district_government", "supervisor", "platform_admin"},
    "reports:schemes": {"body_admin", "district_government", "supervisor", "platform_admin"},
    "reports:scheme_detail": {"body_admin", "district_government", "supervisor", "platform_admin"},
    # A queued export's page and file: its requester's alone.
    "core:export_job": {"supervisor"},
    "core:export_download": {"supervisor"},
}

ROLES = ["anonymous", "platform_admin", *ROLE_USERS]
STAFF_ROLES = [role for role in ROLE_USERS if role != "enterprise_contact"]

# Known holes: (url key, role, variant, method) cells expected to fail today, each to be fixed by an issue of
# its own. A cell listed here that passes fails the test (strict), so the list cannot go stale. (Issue 10's
# items 1 and 10 were listed here until their fixes landed.)
BOTH = ("GET", "POST")
# Cells this matrix flags that are known and not yet closed (none now; the new-task form's city-wide
# inspector roster, found here, was closed by limiting it to the user's body and the chosen joint bodies).
KNOWN_HOLES: dict[tuple[str, str, str, str], str] = {}

LOGIN_URLS = ("/login/",)


def test_every_url_pattern_has_a_filler():
    missing = [
        f"{key} ({route})"
        for key, route, pattern in url_patterns()
        if not skipped(key, route) and needs_parameters(pattern) and key not in FILLERS
    ]
    assert not missing, (
        "These URL patterns take path parameters but tests/security/test_role_matrix.py has no filler for "
        "them; add one to FILLERS (URL name → the parameters of side A's and side B's object) so that the "
        "role matrix covers the new page:\n" + "\n".join(missing)
    )
    stale = set(FILLERS) - {key for key, _, _ in url_patterns()}
    assert not stale, f"Fillers for URL names that no longer exist: {sorted(stale)}"


# --- The matrix --------------------------------------------------------------------------------------------

MARKS = (MARK, json.dumps(MARK)[1:-1], json.dumps(MARK)[1:-1].upper())


def body_text(response) -> str:
    data = b"".join(response.streaming_content) if response.streaming else response.content
    if data[:2] == b"PK":  # an Excel export: search its XML parts
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                data = b"".join(archive.read(name) for name in archive.namelist() if name.endswith(".xml"))
        except zipfile.BadZipFile:
            pass
    return data.decode("utf-8", errors="ignore")


def to_login(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(LOGIN_URLS)


def refused(response) -> bool:
    # 401: the integration API's answer to a request without a valid bearer key (sessions are not used there).
    return response.status_code in (400, 401, 403, 404, 405) or to_login(response)


class Matrix:
    def __init__(self, world):
        self.w = world
        self.clients = {"anonymous": Client(raise_request_exception=False)}
        people = {"platform_admin": world.platform_admin} | {
            role: getattr(world.a, role) for role in ROLE_USERS
        }
        self.people = people
        for role, user in people.items():
            client = Client(raise_request_exception=False)
            client.force_login(user)
            self.clients[role] = client
        self.violations: list[str] = []
        self.holes_seen: set[tuple[str, str, str, str]] = set()
        self.requests = 0
        self.cells: dict[tuple[str, str, str, str], int] = {}

    def request(self, method: str, url: str):
        from django.core.cache import cache

        cache.clear()  # rate limits of public pages and logins must not turn into refusals
        self.requests += 1
        client = self.clients[self.role]
        with transaction.atomic():
            response = getattr(client, method.lower())(url)
            transaction.set_rollback(True)
        if url == reverse("core:logout") and self.role in self.people:
            client.force_login(self.people[self.role])  # the POST logged it out
        return response

    def record(self, cell: tuple[str, str, str, str], url: str, problems: list[str]) -> None:
        if cell in KNOWN_HOLES:
            if problems:
                self.holes_seen.add(cell)
            return
        key, role, variant, method = cell
        for problem in problems:
            self.violations.append(f"{method} {url} [{key}] as {role} ({variant}): {problem}")

    def check_existence_hidden(self) -> None:
        """/e/<uscc>/ must answer a registered enterprise's code as it answers an unregistered one."""
        unregistered = reverse("portal:enterprise_code", kwargs={"uscc": make_uscc(9_999_999)})
        registered = reverse("portal:enterprise_code", kwargs={"uscc": self.w.a.enterprise.uscc})
        for role in ROLES:
            self.role = role
            if role == "enterprise_contact":
                continue  # its own enterprise's code leads it to its portal
            answers = [self.request("GET", url) for url in (registered, unregistered)]
            # A login redirect echoes the requested URL (?next=/e/<uscc>/): compare without it.
            statuses = [(r.status_code, (r.get("Location") or "").split("?")[0]) for r in answers]
            problems = (
                []
                if statuses[0] == statuses[1]
                else [f"registered {statuses[0]} ≠ unregistered {statuses[1]}"]
            )
            self.record(("portal:enterprise_code", role, "unregistered", "GET"), unregistered, problems)

    def check(self, key: str, route: str, pattern: URLPattern) -> None:
        for role in ROLES:
            self.role = role
            variants = ["in"]
            if needs_parameters(pattern) and key not in BEARER | NOT_SCOPED:
                variants.append("out")
            for variant in variants:
                side = self.w.a if variant == "in" else self.w.b
                kwargs = FILLERS[key](self.w, side, role) if needs_parameters(pattern) else {}
                url = (
                    reverse(key, kwargs=kwargs)
                    if ":" in key or key == "jwks"
                    else "/" + route.replace("<path:path>", kwargs.get("path", ""))
                )
                for method in ("GET", "POST"):
                    response = self.request(method, url)
                    cell = (key, role, variant, method)
                    self.cells[cell] = response.status_code
                    self.record(cell, url, self.problems(key, role, variant, method, response))

    def problems(self, key: str, role: str, variant: str, method: str, response) -> list[str]:
        status = response.status_code
        found = []
        if status >= 500:
            found.append(f"HTTP {status}")
        by_design = (key, role) in BY_DESIGN or (key, "*") in BY_DESIGN
        text = body_text(response)
        if key in NAMES_ENTERPRISES:
            text = text.replace(self.w.b.enterprise.name, "")
        if role != "platform_admin" and not by_design and any(mark in text for mark in MARKS):
            found.append(f"HTTP {status}, the response shows side B's private text ({MARK})")
        for private, allowed in PRIVATE_TEXTS.items():
            if role not in allowed and private in text:
                found.append(f"HTTP {status}, the response shows {private!r}, which is not for this role")
        if role in MUST_REFUSE.get(key, ()) and not refused(response):
            found.append(f"HTTP {status}: this role must be refused this page")
        public = by_design or key in PUBLIC or (key in LOGGED_IN_PUBLIC and role != "anonymous")
        if role == "anonymous" and not public and not refused(response):
            found.append(f"HTTP {status} without login (expected the login page or 403/404)")
        if (
            variant == "out"
            and role not in ("platform_admin", "anonymous")
            and not public
            and not refused(response)
        ):
            found.append(f"HTTP {status} for the other district's object (expected 403/404)")
        if role in STAFF_ROLES and key in ENTERPRISE_ONLY and status == 200:
            found.append("HTTP 200: staff uses an enterprise-only page")
        if role == "enterprise_contact" and key not in ENTERPRISE_MAY_OPEN and not public and status == 200:
            found.append("HTTP 200: the enterprise's contact opens a staff page")
        if variant == "in" and method == "GET" and role in EXPECTED_OK.get(key, ()) and status != 200:
            found.append(f"HTTP {status}, expected 200")
        return found


def test_role_matrix(db, settings, tmp_path, monkeypatch):
    started = time.monotonic()
    world = build_world(settings, tmp_path)
    for _, route, pattern in url_patterns():
        if route.startswith("media/"):  # the development media route reads the folder named at import
            monkeypatch.setitem(pattern.default_args, "document_root", str(tmp_path))
    built = time.monotonic() - started
    matrix = Matrix(world)
    patterns = [(key, route, p) for key, route, p in url_patterns() if not skipped(key, route)]
    for key, route, pattern in patterns:
        matrix.check(key, route, pattern)
    matrix.check_existence_hidden()
    elapsed = time.monotonic() - started
    print(
        f"\nrole matrix: {len(patterns)} URL patterns × {len(ROLES)} roles, {matrix.requests} requests "
        f"(GET and POST, in and out of scope), {len(matrix.violations)} violations, "
        f"{len(matrix.holes_seen)} known-hole cells; world built in {built:.1f} s, total {elapsed:.1f} s"
    )
    import os

    if os.environ.get("ROLE_MATRIX_DUMP"):
        with open(os.environ["ROLE_MATRIX_DUMP"], "w") as out:
            for cell, status in sorted(matrix.cells.items()):
                out.write(f"{' '.join(cell)} {status}\n")
    fixed = sorted(set(KNOWN_HOLES) - matrix.holes_seen)
    assert not fixed, f"These known holes are closed now; remove them from KNOWN_HOLES: {fixed}"
    assert not matrix.violations, f"{len(matrix.violations)} role-matrix violations:\n" + "\n".join(
        matrix.violations
    )


@pytest.mark.django_db
def test_admin_site_is_for_the_platform_admin_only(settings, tmp_path):
    """Django's admin (left out of the matrix): only the platform administrator reaches its index."""
    world = build_world(settings, tmp_path)
    index = reverse("admin:index")
    client = Client()
    response = client.get(index)
    assert response.status_code == 302 and "/login/" in response["Location"]
    for role in ROLE_USERS:
        user = getattr(world.a, role)
        client.force_login(user)
        response = client.get(index)
        assert response.status_code in (302, 403), (role, response.status_code)
        assert MARK not in response.content.decode()
    admin = world.platform_admin
    admin.is_staff = admin.is_superuser = True  # as the demo and createsuperuser make it
    admin.save(update_fields=["is_staff", "is_superuser"])
    client.force_login(admin)
    assert client.get(index).status_code == 200
