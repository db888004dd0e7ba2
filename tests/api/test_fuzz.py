"""Schemathesis over the API's own OpenAPI document (issue 12): every operation, with a valid key, fed
generated input (valid and invalid) through Django's test client, each call in a savepoint rolled back; no
answer is a 5xx, a 2xx is a status the operation declares, every error is problem+json. Bounded examples per operation keep it under a minute. Also every operation without a key and
with another body's objects."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
import schemathesis
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

from jianchama.api import api as ninja_api

from .conftest import Api, task_payload

pytestmark = pytest.mark.django_db

EXAMPLES = 12


def send(client, case, headers: dict):
    """The generated case through Django's test client (the in-process application, its signals handled)."""
    query = {k: v for k, v in (case.query or {}).items() if v is not None}
    path = case.formatted_path
    if query:
        path += "?" + urlencode(query, doseq=True)
    extra = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    method = case.method.lower()
    if method in ("get", "delete"):
        return getattr(client, method)(path, **extra)
    given_body = case.body if isinstance(case.body, dict | list | str | int | float | bool) else {}
    if case.media_type == "multipart/form-data":
        fields = given_body if isinstance(given_body, dict) else {}
        data = {k: (v if isinstance(v, str | bytes) else json.dumps(v)) for k, v in fields.items()}
        return client.post(path, data, **extra)
    body = given_body
    return client.post(path, json.dumps(body), content_type="application/json", **extra)


def test_no_input_gets_a_server_error(world, api, settings):
    settings.API_RATE_LIMIT = "100000/m"
    number = api.post("/tasks", task_payload(world)).json()["number"]
    document = ninja_api.get_openapi_schema(path_prefix="/api/v1")
    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(document, default=str)))
    headers = {"Authorization": f"Bearer {world.key}"}
    client = Client(raise_request_exception=False)
    failures, others = [], []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def run(case):
            if "number" in (case.path_parameters or {}) and not case.path_parameters["number"]:
                case.path_parameters["number"] = number
            with transaction.atomic():
                response = send(client, case, headers)
                transaction.set_rollback(True)
            where = f"{case.method} {case.formatted_path}"
            declared = {str(code) for code in case.operation.definition.raw.get("responses", {})}
            if response.status_code >= 500:
                failures.append(f"{where} → {response.status_code}: {response.content[:300]!r}")
            elif response.status_code < 300:
                if str(response.status_code) not in declared:
                    failures.append(f"{where} → {response.status_code}, not among {sorted(declared)}")
                elif response.status_code != 204:
                    response.json()
            elif response["Content-Type"] != "application/problem+json":
                others.append(f"{where} → {response.status_code} {response['Content-Type']}")

        run()
    assert not failures, "\n".join(failures[:20])
    assert not others, "errors that are not problem+json:\n" + "\n".join(others[:10])


def test_every_operation_refuses_no_key_and_another_bodys_objects(world, api):
    theirs = Api(world.other.key).post("/tasks", task_payload(world.other)).json()["number"]
    their_hook = (
        Api(world.other.key)
        .post("/webhooks", {"url": "https://x.example.gov.cn/h", "events": ["scan.recorded"]})
        .json()["id"]
    )
    paths = ninja_api.get_openapi_schema()["paths"]
    anonymous = Api(None)
    for path, methods in paths.items():
        concrete = (
            path.removeprefix("/api/v1").replace("{number}", theirs).replace("{webhook_id}", str(their_hook))
        )
        for method in methods:
            call = getattr(anonymous, method) if method != "post" else anonymous.post
            assert call(concrete).status_code == 401, (method, path)
            if "{" in path:
                response = getattr(api, method)(concrete)
                assert response.status_code in (403, 404, 422), (method, path, response.status_code)
                assert theirs not in response.content.decode() or response.status_code == 404
