"""Keys, scope and errors of the API (issue 12): every call needs a valid key of a client of the body; an
unknown, revoked, expired or disabled key gets the same 401; another body's task is 404; scopes, source
addresses and the rate limit hold; every error is problem+json in Chinese; the frequency check answers as on
the page; Idempotency-Key replays the first answer."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from jianchama.core.models import AuditEvent
from jianchama.inspections.models import FrequencyRule, Task
from jianchama.integrations import services as integrations
from jianchama.integrations.models import ApiClient, ApiKey, IdempotentRequest

from .conftest import Api, task_payload

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def assert_problem(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    document = response.json()
    assert document["type"] == f"urn:jianchama:problem:{kind}"
    assert document["status"] == status and document["title"] and document["detail"]
    return document


def test_only_the_hash_of_a_key_is_stored(world):
    key = ApiKey.objects.get(client=world.client_obj)
    assert world.key.startswith(f"jck_{key.prefix}_")
    assert world.key not in key.secret_hash and len(key.secret_hash) == 64
    service_user = world.client_obj.service_user
    assert not service_user.has_usable_password()
    assert service_user.body == world.body


@pytest.mark.parametrize(
    "header",
    [None, "Bearer ", "Bearer jck_nothing_here", "Basic abc", "Bearer " + "x" * 5000, "Bearer jck_a_b_c"],
)
def test_no_valid_key_is_401_and_says_nothing(world, header):
    api = Api(None)
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = api.http.get("/api/v1/tasks", **extra)
    document = assert_problem(response, 401, "unauthorized")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert world.body.name not in document["detail"]


def test_revoked_rotated_and_disabled_keys(world):
    api = Api(world.key)
    assert api.get("/me").status_code == 200
    new_key, new_text = integrations.rotate_key(world.admin, client=world.client_obj)
    # Both work during the grace period; the old one ends with it.
    assert api.get("/me").json()["key_expires_at"] is not None
    assert Api(new_text).get("/me").json()["key_expires_at"] is None
    old = ApiKey.objects.exclude(pk=new_key.pk).get(client=world.client_obj)
    ApiKey.objects.filter(pk=old.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert_problem(api.get("/me"), 401, "unauthorized")
    integrations.revoke_key(world.admin, key=new_key)
    assert_problem(Api(new_text).get("/me"), 401, "unauthorized")
    _, third = integrations.rotate_key(world.admin, client=world.client_obj)
    integrations.disable_client(world.admin, client=world.client_obj)
    assert_problem(Api(third).get("/me"), 401, "unauthorized")
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"api_client.registered", "api_key.rotated", "api_key.revoked", "api_client.disabled"} <= actions


def test_another_bodys_task_is_not_found(world, api):
    other = Api(world.other.key)
    number = other.post("/tasks", task_payload(world.other)).json()["number"]
    for call in (
        lambda: api.get(f"/tasks/{number}"),
        lambda: api.post(f"/tasks/{number}/submit", {}),
        lambda: api.post(f"/tasks/{number}/cancel", {"reason": "不是我的"}),
        lambda: api.get(f"/tasks/{number}/code", {"inspector_certificate": "x"}),
    ):
        assert_problem(call(), 404, "not-found")
    assert number not in api.get("/tasks").content.decode()
    # Nor may it use the other body's enterprise or inspectors.
    refused = api.post(
        "/tasks", task_payload(world, inspector_certificates=[i.number for i in world.other.inspectors])
    )
    assert assert_problem(refused, 422, "refused")["errors"][0]["field"] == "inspector_certificates"


def test_scopes_are_enforced(world):
    _client, key = integrations.register_client(
        world.admin, name="只读系统", vendor="某公司", contact="张工", scopes=["tasks:read"]
    )
    reader = Api(key)
    assert reader.get("/tasks").status_code == 200
    document = assert_problem(reader.post("/tasks", task_payload(world)), 403, "forbidden")
    assert "tasks:write" in document["detail"]
    assert_problem(reader.get("/webhooks"), 403, "forbidden")


def test_source_addresses(world):
    _, key = integrations.register_client(
        world.admin,
        name="限地址",
        vendor="某公司",
        contact="张工",
        scopes=["tasks:read"],
        allowed_addresses="10.0.0.0/8",
    )
    assert_problem(Api(key).get("/me"), 401, "unauthorized")
    assert (
        Api(key)
        .http.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {key}", REMOTE_ADDR="10.1.2.3")
        .status_code
        == 200
    )


def test_rate_limit_per_client(world, settings):
    settings.API_RATE_LIMIT = "3/m"
    api = Api(world.key)
    assert [api.get("/me").status_code for _ in range(3)] == [200, 200, 200]
    response = api.get("/me")
    assert_problem(response, 429, "rate-limited")
    assert response["Retry-After"]
    # Another client has its own count.
    assert Api(world.other.key).get("/me").status_code == 200


def test_validation_errors_are_422_problems_per_field(api, world):
    document = assert_problem(api.post("/tasks", {"kind": "nonsense"}), 422, "validation")
    fields = {error["field"] for error in document["errors"]}
    assert {"kind", "enterprise_uscc", "item_codes"} <= fields
    assert_problem(
        api.http.post(
            "/api/v1/tasks",
            "{not json",
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {world.key}",
        ),
        422,
        "validation",
    )
    # A rule of the service: the same sentence as on the page.
    past = (timezone.localdate() - datetime.timedelta(days=3)).isoformat()
    document = assert_problem(api.post("/tasks", task_payload(world, window_start=past)), 422, "refused")
    assert "计划检查日期不能早于今天" in document["detail"]


def test_frequency_answers_as_on_the_page(api, world):
    FrequencyRule.objects.create(
        name="同一单位每年一次", scope="per_body", period="year", limit=1, action="justify", exemptions=[]
    )
    first = api.post("/tasks", task_payload(world)).json()["number"]
    assert api.post(f"/tasks/{first}/submit", {}).status_code == 200
    second = api.post("/tasks", task_payload(world)).json()["number"]
    document = assert_problem(
        api.post(f"/tasks/{second}/submit", {}), 422, "frequency-justification-required"
    )
    assert document["breaches"][0]["name"] == "同一单位每年一次"
    assert document["breaches"][0]["earlier"][0]["number"] == first
    assert document["errors"][-1]["field"] == "justification"
    submitted = api.post(f"/tasks/{second}/submit", {"justification": "群众反映问题复发"})
    assert submitted.status_code == 200
    assert submitted.json()["frequency"][0]["action"] == "justify"
    assert submitted.json()["frequency_justification"] == "群众反映问题复发"
    FrequencyRule.objects.update(action="refuse")
    third = api.post("/tasks", task_payload(world)).json()["number"]
    document = assert_problem(
        api.post(f"/tasks/{third}/submit", {"justification": "x"}), 422, "frequency-refused"
    )
    assert Task.objects.get(number=third).status == "draft"


def test_idempotency_key_replays_and_refuses_another_body(api, world):
    payload = task_payload(world)
    first = api.post("/tasks", payload, **{"Idempotency-Key": "order-1"})
    again = api.post("/tasks", payload, **{"Idempotency-Key": "order-1"})
    assert first.status_code == again.status_code == 201
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert Task.objects.filter(enterprise=world.enterprise).count() == 1
    other_body = dict(payload, legal_basis="另一依据")
    assert_problem(
        api.post("/tasks", other_body, **{"Idempotency-Key": "order-1"}), 409, "idempotency-conflict"
    )
    # A refused request is not kept: corrected, it may use the same key.
    bad = api.post("/tasks", dict(payload, legal_basis=""), **{"Idempotency-Key": "order-2"})
    assert bad.status_code == 422
    assert api.post("/tasks", payload, **{"Idempotency-Key": "order-2"}).status_code == 201
    # Keys are per client: the other body's client may use the same text.
    assert (
        Api(world.other.key)
        .post("/tasks", task_payload(world.other), **{"Idempotency-Key": "order-1"})
        .status_code
        == 201
    )
    assert IdempotentRequest.objects.count() == 3
    # After API_IDEMPOTENCY_HOURS the key is free again.
    IdempotentRequest.objects.update(created_at=timezone.now() - datetime.timedelta(hours=25))
    assert api.post("/tasks", other_body, **{"Idempotency-Key": "order-1"}).status_code == 201


def test_register_client_refuses_wrong_input_and_roles(world):
    from jianchama.core.errors import DomainError, PermissionDenied

    with pytest.raises(DomainError) as refusal:
        integrations.register_client(
            world.admin, name="", vendor="", contact="", scopes=["root"], allowed_addresses="abc"
        )
    assert "未知的权限范围" in refusal.value.message and "abc" in refusal.value.message
    with pytest.raises(PermissionDenied):
        integrations.register_client(
            world.inspectors[0].user, name="x", vendor="x", contact="x", scopes=["tasks:read"]
        )
    with pytest.raises(PermissionDenied):
        integrations.rotate_key(world.other.admin, client=world.client_obj)
    assert ApiClient.objects.visible_to(world.other.admin).filter(pk=world.client_obj.pk).count() == 0


def test_the_hourly_sweep_deletes_stored_answers_past_their_hours(api, world, settings):
    """Stored Idempotency-Key answers were deleted only when their key came again: the table kept every
    POST ever made. The hourly job removes those older than API_IDEMPOTENCY_HOURS, and only those."""
    from django_q.models import Schedule

    from jianchama.integrations import jobs

    settings.API_IDEMPOTENCY_HOURS = 24
    for number in range(3):
        payload = task_payload(world, legal_basis=f"依据{number}")
        assert api.post("/tasks", payload, **{"Idempotency-Key": f"k-{number}"}).status_code == 201
    old = timezone.now() - datetime.timedelta(hours=25)
    IdempotentRequest.objects.filter(key__in=["k-0", "k-1"]).update(created_at=old)
    assert jobs.delete_expired_idempotency() == 2
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["k-2"]
    assert jobs.delete_expired_idempotency() == 0
    schedule = Schedule.objects.get(name="integrations-idempotency-sweep")
    assert schedule.func == "jianchama.integrations.jobs.delete_expired_idempotency"
    assert schedule.schedule_type == Schedule.HOURLY and schedule.repeats == -1
