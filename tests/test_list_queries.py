"""Lists cost what they show (issue 16): the queries of a page do not grow with the rows it shows.

Each list is opened as a user who sees it, with a few rows and then with ten times as many on one page; the
query count must be the same (a query per row, an N+1, fails here). The task list's own test is
tests/inspections/test_task_list_scale.py."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jianchama.core import pages
from jianchama.notifications.services import notify_user
from jianchama.supervision.models import Finding
from jianchama.supervision.services import create_finding
from tests.complaints.conftest import complaint_scenario
from tests.factories import EnterpriseFactory, make_uscc

pytestmark = pytest.mark.django_db


@pytest.fixture
def s(db, monkeypatch):
    monkeypatch.setattr(pages, "PAGE_SIZE", 500)
    return complaint_scenario()


def queries(client, url: str) -> tuple[int, str]:
    client.get(url)  # the session's first request also saves its last activity
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured), response.content.decode()


def same_queries_for_few_and_many(client, url: str, add, few: int = 3, many: int = 30) -> str:
    for n in range(few):
        add(n)
    before, page = queries(client, url)
    for n in range(few, many):
        add(n)
    after, page = queries(client, url)
    assert after == before, f"{url}: {before} queries for {few} rows, {after} for {many}"
    return page


@pytest.mark.parametrize("who", ["intake", "supervisor", "head"])
def test_complaint_ledger(client, s, who):
    client.force_login(getattr(s, who))

    def add(n):
        complaint = s.hotline(title=f"第{n}件投诉", enterprise=s.enterprise)
        if n % 2:
            s.handled(complaint)

    page = same_queries_for_few_and_many(client, "/complaints/", add)
    if who != "head":
        assert "第29件投诉" in page


@pytest.mark.parametrize("who", ["supervisor", "head"])
def test_finding_list(client, s, who):
    client.force_login(getattr(s, who))

    def add(n):
        finding = create_finding(
            s.supervisor,
            source=Finding.Source.COMPLAINT,
            body=s.body,
            title=f"第{n}个问题",
            period=datetime.date(2026, 1 + n % 12, 1),
        )
        # The body sees a finding once it has been warned of it.
        Finding.objects.filter(pk=finding.pk).update(status=Finding.Status.WARNED)

    page = same_queries_for_few_and_many(client, "/supervision/findings/", add)
    assert "第29个问题" in page


def test_notification_inbox(client, s):
    client.force_login(s.head)

    def add(n):
        notify_user(user=s.head, event="test", subject=f"第{n}条消息", body="正文")

    page = same_queries_for_few_and_many(client, "/notifications/", add)
    assert "第29条消息" in page


@pytest.mark.parametrize("who", ["head", "supervisor"])
def test_enterprise_list(client, s, who):
    client.force_login(getattr(s, who))

    def add(n):
        EnterpriseFactory(name=f"金山第{n}号企业", region=s.jinshan, uscc=make_uscc(5000 + n))

    page = same_queries_for_few_and_many(client, "/registry/enterprises/", add)
    assert "金山第29号企业" in page
