"""A body with a registered API client: the world the API's tests share."""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest
from django.test import Client
from django.utils import timezone

from jianchama.core.roles import Role
from jianchama.integrations import services as integrations
from tests.factories import (
    BodyFactory,
    CertificateFactory,
    ContactFactory,
    EnterpriseFactory,
    FieldFactory,
    InspectorFactory,
    ItemFactory,
    filed_plan,
    user_for,
)

ALL_SCOPES = ["tasks:write", "tasks:read", "results:write", "scans:read", "webhooks:manage"]


def build_body(prefix: str, number_base: int) -> SimpleNamespace:
    w = SimpleNamespace()
    w.field = FieldFactory()
    w.body = BodyFactory(fields=[w.field])
    w.item = ItemFactory(field=w.field, bodies=[w.body], is_published=True, checklist=["是否取得许可证"])
    w.inspectors = []
    for n in range(2):
        number = f"{number_base + n}"
        user = user_for(Role.INSPECTOR, body=w.body, full_name=f"{prefix}执法员{n}")
        inspector = InspectorFactory(name=f"{prefix}执法员{n}", body=w.body, user=user)
        CertificateFactory(inspector=inspector, number=number)
        inspector.number = number
        w.inspectors.append(inspector)
    w.admin = user_for(Role.BODY_ADMIN, body=w.body, full_name=f"{prefix}管理员")
    w.enterprise = EnterpriseFactory(region=w.body.region)
    ContactFactory(enterprise=w.enterprise, name="王经理", phone=f"139{number_base % 10**8:08d}")
    w.plan = filed_plan(w.body, items=[w.item])
    w.client_obj, w.key = integrations.register_client(
        w.admin, name=f"{prefix}执法系统", vendor="某软件公司", contact="李工 13800000000", scopes=ALL_SCOPES
    )
    return w


@pytest.fixture
def world(db):
    w = build_body("甲", 31011600100)
    w.other = build_body("乙", 31011600200)
    return w


class Api:
    """Calls /api/v1/ with a key, as a body's system does."""

    def __init__(self, key: str | None):
        self.http = Client(raise_request_exception=False)
        self.key = key

    def headers(self, extra=None) -> dict:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {self.key}"} if self.key else {}
        for name, value in (extra or {}).items():
            headers["HTTP_" + name.upper().replace("-", "_")] = value
        return headers

    def get(self, path: str, params=None, **extra):
        return self.http.get("/api/v1" + path, params or {}, **self.headers(extra))

    def post(self, path: str, data=None, **extra):
        return self.http.post(
            "/api/v1" + path,
            data if data is not None else {},
            content_type="application/json",
            **self.headers(extra),
        )

    def post_multipart(self, path: str, data, **extra):
        return self.http.post("/api/v1" + path, data, **self.headers(extra))

    def delete(self, path: str, **extra):
        return self.http.delete("/api/v1" + path, **self.headers(extra))


@pytest.fixture
def api(world):
    return Api(world.key)


def task_payload(w, **changes) -> dict:
    today = timezone.localdate()
    payload = {
        "enterprise_uscc": w.enterprise.uscc,
        "kind": "routine",
        "item_codes": [w.item.code],
        "inspector_certificates": [i.number for i in w.inspectors],
        "legal_basis": "《城镇燃气管理条例》第十五条",
        "window_start": today.isoformat(),
        "window_end": (today + datetime.timedelta(days=5)).isoformat(),
        "plan_number": w.plan.number,
    }
    payload.update(changes)
    return payload
