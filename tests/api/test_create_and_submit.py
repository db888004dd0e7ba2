"""A task created and submitted in one request (`"submit": true` on POST /tasks, issue 12): one transaction
that either leaves a submitted task with both audit events and both status webhooks, or nothing at all; the
frequency check answers exactly as POST /tasks/{number}/submit does; Idempotency-Key replays it."""

from __future__ import annotations

import json

import pytest

from jianchama.core import audit
from jianchama.core.models import AuditEvent
from jianchama.inspections.models import FrequencyRule, Task
from jianchama.integrations import jobs
from jianchama.integrations.models import IdempotentRequest, WebhookDelivery

from .conftest import task_payload
from .test_keys_and_errors import assert_problem
from .test_webhooks import receiver, verify  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db


def submitting(world, **changes) -> dict:
    return task_payload(world, submit=True, **changes)


def events_of(number: str) -> list[AuditEvent]:
    task = Task.objects.get(number=number)
    return list(
        AuditEvent.objects.filter(object_id=str(task.pk), action__startswith="task.").order_by("sequence")
    )


def test_a_task_created_and_submitted_at_once_is_what_two_calls_make(api, world):
    FrequencyRule.objects.create(
        name="同一单位每年一次的提示", scope="per_body", period="year", limit=1, action="warn", exemptions=[]
    )
    # Two calls, as before: create, then submit.
    first = api.post("/tasks", task_payload(world)).json()["number"]
    two_calls = api.post(f"/tasks/{first}/submit", {})
    assert two_calls.status_code == 200, two_calls.content
    # One call.
    created = api.post("/tasks", submitting(world))
    assert created.status_code == 201, created.content
    answer = created.json()
    assert answer["status"] == "submitted" and answer["status_label"] == "待审批"
    assert answer["submitted_at"]
    # The frequency check ran as at submission: the earlier task is counted, the warning kept on the task.
    assert [f["name"] for f in answer["frequency"]] == ["同一单位每年一次的提示"]
    assert answer["frequency"][0]["earlier"][0]["number"] == first
    assert answer["frequency"][0]["action"] == "warn"
    # The answer says what a read says.
    assert api.get(f"/tasks/{answer['number']}").json() == answer
    # The same two audit events as two calls write, in order, with the same content.
    one, two = events_of(answer["number"]), events_of(first)
    assert [e.action for e in one] == [e.action for e in two] == ["task.created", "task.submitted"]
    assert one[1].sequence == one[0].sequence + 1
    assert one[0].after["status"] == "draft" and one[1].before["status"] == "draft"
    assert one[1].after["status"] == "submitted"
    assert one[1].after["frequency_findings"][0]["action"] == "warn"
    ignored = ("number", "frequency_findings")
    for mine, theirs in zip(one, two, strict=True):
        assert {k: v for k, v in mine.after.items() if k not in ignored} == {
            k: v for k, v in theirs.after.items() if k not in ignored
        }
    assert audit.verify_chain() == (AuditEvent.objects.count(), None)


def test_the_frequency_refusal_answers_as_submit_does_and_creates_nothing(api, world):
    FrequencyRule.objects.create(
        name="同一单位每年一次", scope="per_body", period="year", limit=1, action="justify", exemptions=[]
    )
    first = api.post("/tasks", submitting(world)).json()["number"]
    # The same refusal from the two ways of submitting.
    draft = api.post("/tasks", task_payload(world)).json()["number"]
    by_submit = assert_problem(
        api.post(f"/tasks/{draft}/submit", {}), 422, "frequency-justification-required"
    )
    tasks, events = Task.objects.count(), AuditEvent.objects.count()
    at_once = assert_problem(api.post("/tasks", submitting(world)), 422, "frequency-justification-required")
    assert at_once == by_submit
    assert at_once["breaches"][0]["name"] == "同一单位每年一次"
    assert at_once["breaches"][0]["earlier"][0]["number"] == first
    assert at_once["errors"][-1] == {"field": "justification", "message": "请填写超频次检查的理由"}
    assert "须填写超频次检查的理由" in at_once["detail"]
    # Nothing was written: no task, no audit event.
    assert (Task.objects.count(), AuditEvent.objects.count()) == (tasks, events)
    # With the justification it goes through.
    justified = api.post("/tasks", submitting(world, justification="群众反映问题复发"))
    assert justified.status_code == 201, justified.content
    assert justified.json()["status"] == "submitted"
    assert justified.json()["frequency_justification"] == "群众反映问题复发"
    assert justified.json()["frequency"][0]["action"] == "justify"
    # A refuse-rule refuses it whatever the justification.
    FrequencyRule.objects.update(action="refuse")
    tasks, events = Task.objects.count(), AuditEvent.objects.count()
    refused = assert_problem(
        api.post("/tasks", submitting(world, justification="x")), 422, "frequency-refused"
    )
    assert "不予提交" in refused["detail"] and len(refused["breaches"]) == 1
    assert refused["breaches"][0]["count"] == 2 and refused["breaches"][0]["limit"] == 1
    assert (Task.objects.count(), AuditEvent.objects.count()) == (tasks, events)
    # An exemption the rule allows lets it through, and is recorded.
    FrequencyRule.objects.update(exemptions=["complaint"])
    exempted = api.post("/tasks", submitting(world, exemption="complaint"))
    assert exempted.status_code == 201, exempted.content
    assert exempted.json()["frequency"][0]["exempted_by"] == "complaint"
    assert events_of(exempted.json()["number"])[-1].after["frequency_exemption"] == "complaint"
    # An unknown exemption is refused in Chinese, and nothing is created.
    tasks = Task.objects.count()
    unknown = assert_problem(api.post("/tasks", submitting(world, exemption="whatever")), 422, "refused")
    assert "未知的豁免情形" in unknown["detail"]
    assert Task.objects.count() == tasks


def test_idempotency_key_replays_the_submitted_task(api, world):
    FrequencyRule.objects.create(
        name="同一单位每年一次", scope="per_body", period="year", limit=1, action="justify", exemptions=[]
    )
    payload = submitting(world)
    first = api.post("/tasks", payload, **{"Idempotency-Key": "order-1"})
    again = api.post("/tasks", payload, **{"Idempotency-Key": "order-1"})
    assert first.status_code == again.status_code == 201
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert first.json()["status"] == "submitted"
    assert Task.objects.filter(enterprise=world.enterprise).count() == 1
    assert AuditEvent.objects.filter(action="task.submitted").count() == 1
    # The same key asking to create without submitting is another request.
    assert_problem(
        api.post("/tasks", dict(payload, submit=False), **{"Idempotency-Key": "order-1"}),
        409,
        "idempotency-conflict",
    )
    # A submission refused by the frequency rules is not kept: with the justification, the same key works.
    refused = api.post("/tasks", payload, **{"Idempotency-Key": "order-2"})
    assert_problem(refused, 422, "frequency-justification-required")
    assert not IdempotentRequest.objects.filter(key="order-2").exists()
    justified = dict(payload, justification="企业整改后复查")
    done = api.post("/tasks", justified, **{"Idempotency-Key": "order-2"})
    assert done.status_code == 201, done.content
    assert done.json()["frequency_justification"] == "企业整改后复查"
    assert api.post("/tasks", justified, **{"Idempotency-Key": "order-2"}).content == done.content
    assert Task.objects.filter(enterprise=world.enterprise).count() == 2


def test_the_bodys_system_hears_draft_then_submitted_and_nothing_of_a_refusal(api, world, receiver):  # noqa: F811
    secret = api.post("/webhooks", {"url": receiver.url, "events": ["task.status_changed"]}).json()["secret"]
    number = api.post("/tasks", submitting(world)).json()["number"]
    deliveries = list(WebhookDelivery.objects.order_by("pk"))
    assert [(d.payload["data"]["from"], d.payload["data"]["to"]) for d in deliveries] == [
        (None, "draft"),
        ("draft", "submitted"),
    ]
    assert [d.payload["data"]["action"] for d in deliveries] == ["task.created", "task.submitted"]
    assert [d.payload["task"]["status"] for d in deliveries] == ["draft", "submitted"]
    for delivery in deliveries:
        assert jobs.deliver_webhook(delivery.pk) == "sent"
    assert len(receiver.received) == 2
    for headers, body in receiver.received:
        assert verify(secret, headers, body)
        assert json.loads(body)["task"]["number"] == number
    # A refused submission rolls the creation back, and its webhooks with it.
    FrequencyRule.objects.create(
        name="同一单位每年一次", scope="per_body", period="year", limit=1, action="refuse", exemptions=[]
    )
    assert api.post("/tasks", submitting(world)).status_code == 422
    assert WebhookDelivery.objects.count() == 2
