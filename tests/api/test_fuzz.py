"""Schemathesis over the API's own OpenAPI document (issue 12): every operation, with a valid key, fed
generated input (valid and invalid) through the WSGI application; no answer is a 5xx, and every 2xx matches
the schema. Bounded examples per operation keep it under a minute. Also every operation without a key and
with another body's objects."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

from .conftest import Api, task_payload

pytestmark = pytest.mark.django_db

EXAMPLES = 12


@pytest.fixture
def wsgi(settings):
    # The WSGI handler would close the test's connection (and its transaction) at the end of each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    settings.API_RATE_LIMIT = "100000/m"
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_no_input_gets_a_server_error(world, api, wsgi):
    number = api.post("/tasks", task_payload(world)).json()["number"]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi)
    headers = {"Authorization": f"Bearer {world.key}"}
    failures, others = [], []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def run(case):
            if "number" in (case.path_parameters or {}) and case.path_parameters["number"] == "":
                case.path_parameters["number"] = number
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:300]}"
                )
            elif response.status_code < 300:
                try:
                    case.validate_response(response, checks=[schemathesis.checks.response_schema_conformance])
                except Exception as error:  # schemathesis raises a failure group naming what did not match
                    failures.append(f"{case.method} {case.formatted_path}: {str(error)[:300]}")
            elif "application/problem+json" not in str(
                {k.lower(): v for k, v in response.headers.items()}.get("content-type")
            ):
                others.append(
                    f"{case.method} {case.formatted_path} → {response.status_code} {response.headers}"
                )

        run()
    assert not failures, "\n".join(failures[:20])
    assert not others, "errors that are not problem+json:\n" + "\n".join(others[:10])


def test_every_operation_refuses_no_key_and_another_bodys_objects(world, api):
    from jianchama.api import api as ninja_api

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
