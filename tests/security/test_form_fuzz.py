"""Random values into every form of every role: never a 5xx (issue 10, item 7).

The forms are found, not listed: for each role, every page of the URL configuration that takes no argument,
plus the pages of a draft, an in-progress and a recorded task and of a plan, is opened; every <form> on it is
read back (its method, action and field names) and then filled by Hypothesis with huge and negative numbers,
ids of 10²¹, malformed and far dates, long and odd text. A form added tomorrow is fuzzed tomorrow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jianchama.core.roles import Role
from tests.factories import filed_plan, user_for
from tests.inspections.conftest import build_scenario

pytestmark = pytest.mark.django_db

EXAMPLES_PER_FORM = 6
# Forms that end the session or that only redirect elsewhere teach nothing about input handling.
SKIPPED_ACTIONS = ("/logout/", "/admin/")

VALUES = st.one_of(
    st.just(""),
    st.integers(min_value=-(10**22), max_value=10**22).map(str),
    st.sampled_from(
        [
            str(10**21),
            "-1",
            "0",
            "1e309",
            "NaN",
            "0001-01-01",
            "9999-12-31",
            "2026-02-30",
            "2026-13-01",
            "10000-01-01",
            "２０２６-０１-０１",
            "\x00",
            '=HYPERLINK("http://x")',
            "<script>alert(1)</script>",
            "9" * 400,
        ]
    ),
    st.dates().map(lambda d: d.isoformat()),
    st.text(max_size=60),
)


@dataclass
class FoundForm:
    page: str
    method: str
    action: str
    fields: list[str] = field(default_factory=list)


FORM_RE = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
ATTR_RE = re.compile(r'(\w[\w-]*)\s*=\s*"([^"]*)"')
FIELD_RE = re.compile(r"<(?:input|select|textarea)\b([^>]*)>", re.I)


def forms_on(page: str, html: str) -> list[FoundForm]:
    found = []
    for attrs, body in FORM_RE.findall(html):
        a = dict(ATTR_RE.findall(attrs))
        action = unescape(a.get("action") or page)
        if not action.startswith("/") or any(skip in action for skip in SKIPPED_ACTIONS):
            continue
        names = []
        for field_attrs in FIELD_RE.findall(body):
            f = dict(ATTR_RE.findall(field_attrs))
            if (
                f.get("name")
                and f["name"] != "csrfmiddlewaretoken"
                and f.get("type") not in ("submit", "file")
            ):
                names.append(f["name"])
        if names:
            found.append(FoundForm(page, (a.get("method") or "get").lower(), action, sorted(set(names))))
    return found


def pages_without_arguments() -> list[str]:
    paths = []

    def walk(patterns, prefix="", namespace=None):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = p.namespace or namespace
                walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif (
                isinstance(p, URLPattern)
                and p.name
                and not p.pattern.converters
                and "(?P" not in str(p.pattern)
            ):
                name = f"{namespace}:{p.name}" if namespace else p.name
                try:
                    paths.append(reverse(name))
                except Exception:  # a pattern that needs arguments after all
                    continue

    walk(get_resolver().url_patterns)
    return sorted({p for p in paths if not p.startswith(SKIPPED_ACTIONS)})


def fuzzer(form: FoundForm, client: Client, role: str, record):
    @settings(
        max_examples=EXAMPLES_PER_FORM, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(values=st.fixed_dictionaries({name: VALUES for name in form.fields}))
    def fuzz(values):
        if form.method == "post":
            response = client.post(form.action, values)
        else:
            response = client.get(form.action, values)
        bad = response.status_code >= 500
        record(
            f"{role} {form.method.upper()} {form.action} {values!r}: {response.status_code}" if bad else None
        )

    return fuzz


def test_no_form_of_any_role_answers_random_input_with_a_server_error(capsys):
    s = build_scenario()
    draft = s.draft()
    running = s.in_progress()
    recorded = s.recorded()
    plan = filed_plan(s.body, items=[s.item])
    roles = {
        "inspector": s.inspector.user,
        "body_admin": s.head,
        "city_reviewer": s.city_reviewer,
        "supervisor": s.supervisor,
        "observer": s.observer,
        "enterprise": s.contact,
        "intake": user_for(Role.COMPLAINT_INTAKE, region=s.jinshan),
        "government": user_for(Role.DISTRICT_GOVERNMENT, region=s.jinshan),
        "platform_admin": user_for(Role.PLATFORM_ADMIN),
    }
    object_pages = [f"/tasks/{t.pk}/" for t in (draft, running, recorded)] + [
        f"/tasks/{running.pk}/record/",
        f"/tasks/{draft.pk}/submit/",
        f"/plans/{plan.pk}/",
        f"/portal/tasks/{recorded.pk}/",
    ]
    pages = pages_without_arguments() + object_pages
    failures: list[str] = []
    tried = [0]
    form_count = 0

    def record(line: str | None) -> None:
        tried[0] += 1
        if line:
            failures.append(line)

    for role, user in roles.items():
        client = Client()
        client.force_login(user)
        found: dict[tuple[str, str], FoundForm] = {}
        for page in pages:
            response = client.get(page)
            if response.status_code >= 500:
                failures.append(f"{role} GET {page}: {response.status_code}")
            if response.status_code == 200 and "text/html" in response.get("Content-Type", ""):
                for form in forms_on(page, response.content.decode(errors="replace")):
                    found.setdefault((form.method, form.action), form)
        for form in found.values():
            form_count += 1

            fuzzer(form, client, role, record)()
            client.force_login(user)  # a form may have logged the user out or rotated the session
    with capsys.disabled():
        print(f"\nform fuzz: {len(roles)} roles, {len(pages)} pages, {form_count} forms, {tried[0]} requests")
    assert form_count > 50, "the crawl found too few forms: the discovery is broken"
    assert failures == [], "\n".join(failures[:30])
