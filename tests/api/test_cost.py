"""Issue 12's throughput goal: what one task creation and submission through the API costs in SQL statements
(bench/bench_api.py measures the rest), and that the answers built without reading the task again say what a
read says."""

from __future__ import annotations

import pytest
from django.db import connection

from jianchama.core import audit
from jianchama.core.models import AuditEvent
from jianchama.core.roles import Role
from jianchama.inspections.models import FrequencyRule, Task
from tests.factories import CertificateFactory, InspectorFactory, user_for

from .conftest import task_payload

pytestmark = pytest.mark.django_db

# Counted in a test's transaction, so each service's atomic block adds a SAVEPOINT and its RELEASE (two
# statements a deployed request does not run: its atomic blocks are transactions of their own).
CREATE_MAX = 20  # 18 statements as deployed; 37 before issue 12's throughput work
SUBMIT_MAX = 17  # 15 as deployed (one of them the status copied to the task's bodies, issue 16); 32 before
# Both in one request (`"submit": true`): one transaction; on PostgreSQL the chain's lock is taken once and one
# statement appends both audit events (SQLite reads the chain's head and inserts, per event). 36 in two requests.
CREATE_AND_SUBMIT_MAX = {"postgresql": 25, "sqlite": 27}


def rules() -> None:
    FrequencyRule.objects.create(
        name="各部门合计每年至多5次的提示", scope="all_bodies", period="year", limit=5, action="warn"
    )
    FrequencyRule.objects.create(
        name="同一执法单位每年至多2次", scope="per_body", period="year", limit=2, action="refuse"
    )


def test_creating_and_submitting_a_task_costs_a_fixed_number_of_statements(
    api, world, django_assert_max_num_queries
):
    rules()
    payload = task_payload(world)
    api.post(
        "/tasks", payload, **{"Idempotency-Key": "warm-up"}
    )  # caches: the subscribed events, the rate limit
    with django_assert_max_num_queries(CREATE_MAX) as create:
        created = api.post("/tasks", payload, **{"Idempotency-Key": "task-2"})
    assert created.status_code == 201, created.json()
    number = created.json()["number"]
    with django_assert_max_num_queries(SUBMIT_MAX) as submit:
        submitted = api.post(f"/tasks/{number}/submit", {"justification": ""})
    assert submitted.status_code == 200, submitted.json()
    assert submitted.json()["status"] == "submitted"
    # The frequency check ran and wrote its audit event.
    assert [f["rule"] for f in submitted.json()["frequency"]] == []
    assert AuditEvent.objects.filter(
        action="task.submitted", object_id=str(Task.objects.get(number=number).pk)
    ).exists()
    sql = [q["sql"] for q in create.captured_queries + submit.captured_queries]
    # One statement appends each audit event once its lock is held (on SQLite: a read and an insert).
    appends = [s for s in sql if "core_auditevent" in s and s.lstrip().upper().startswith(("WITH", "INSERT"))]
    assert len(appends) == 2


def test_creating_and_submitting_in_one_request_costs_fewer_statements(
    api, world, django_assert_max_num_queries
):
    rules()
    api.post("/tasks", task_payload(world), **{"Idempotency-Key": "warm-up"})
    with django_assert_max_num_queries(CREATE_AND_SUBMIT_MAX[connection.vendor]) as both:
        created = api.post("/tasks", task_payload(world, submit=True), **{"Idempotency-Key": "task-2"})
    assert created.status_code == 201, created.json()
    assert created.json()["status"] == "submitted"
    number = created.json()["number"]
    task = Task.objects.get(number=number)
    assert list(
        AuditEvent.objects.filter(object_type=Task._meta.label, object_id=str(task.pk))
        .order_by("sequence")
        .values_list("action", flat=True)
    ) == ["task.created", "task.submitted"]
    sql = [q["sql"] for q in both.captured_queries]
    appends = [s for s in sql if "core_auditevent" in s and s.lstrip().upper().startswith(("WITH", "INSERT"))]
    if connection.vendor == "postgresql":
        assert len(appends) == 1
        assert len([s for s in sql if "pg_advisory_xact_lock" in s]) == 1
    else:
        assert len(appends) == 2
    assert audit.verify_chain() == (AuditEvent.objects.count(), None)


def test_a_joint_tasks_answers_say_what_a_read_says(api, world):
    """The creation's answer is built from what was written and the submission's from what was read before
    it; both match GET /tasks/{number}: bodies lead first, inspectors in their order, each by his latest
    certificate."""
    partner = world.other.inspectors[0]
    CertificateFactory(inspector=world.inspectors[1], number="31011699999")  # a later certificate
    extra = InspectorFactory(
        name="甲执法员0", body=world.body, user=user_for(Role.INSPECTOR, body=world.body)
    )
    CertificateFactory(inspector=extra, number="31011600150")
    payload = task_payload(
        world,
        joint_body_codes=[world.other.body.code, world.body.code],
        inspector_certificates=[
            partner.number,
            "31011600150",
            world.inspectors[1].number,
            world.inspectors[0].number,
        ],
    )
    created = api.post("/tasks", payload)
    assert created.status_code == 201, created.json()
    number = created.json()["number"]
    read = api.get(f"/tasks/{number}").json()
    assert created.json() == read
    listed = api.get("/tasks").json()["items"]  # the list reads the relations its own way (prefetched)
    assert [task for task in listed if task["number"] == number] == [read]
    assert [b["code"] for b in read["bodies"]] == [world.body.code, world.other.body.code]
    assert {"name": world.inspectors[1].name, "certificate": "31011699999"} in read["inspectors"]
    assert len(read["inspectors"]) == 4
    submitted = api.post(f"/tasks/{number}/submit", {})
    assert submitted.status_code == 200, submitted.json()
    again = api.get(f"/tasks/{number}").json()
    assert submitted.json() == again
    assert again["status"] == "submitted" and again["submitted_at"]
    assert {
        k: v for k, v in again.items() if k not in ("status", "status_label", "submitted_at", "frequency")
    } == {k: v for k, v in read.items() if k not in ("status", "status_label", "submitted_at", "frequency")}
