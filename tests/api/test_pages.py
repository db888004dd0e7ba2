"""The body administrator's integration pages: register a client and see its key once, rotate, revoke,
disable; another body's administrator and the inspectors are refused."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from jianchama.integrations.models import ApiClient, ApiKey

from .conftest import Api

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_register_shows_the_key_once_and_it_works(world):
    admin = logged_in(world.admin)
    assert "系统对接" in admin.get(reverse("integrations:client_list")).content.decode()
    response = admin.post(
        reverse("integrations:client_create"),
        {
            "name": "区市场监管执法系统",
            "vendor": "某软件公司",
            "contact": "李工 13800000000",
            "scopes": ["tasks:read"],
        },
        follow=True,
    )
    page = response.content.decode()
    assert "只显示这一次" in page
    key = page.split('<code class="secret">')[1].split("</code>")[0]
    assert key.startswith("jck_")
    assert Api(key).get("/me").json()["name"] == "区市场监管执法系统"
    client = ApiClient.objects.get(name="区市场监管执法系统")
    again = admin.get(reverse("integrations:client_detail", args=[client.pk])).content.decode()
    assert key not in again and "只显示这一次" not in again


def test_register_refusal_says_why(world):
    response = logged_in(world.admin).post(
        reverse("integrations:client_create"),
        {
            "name": "x",
            "vendor": "y",
            "contact": "z",
            "scopes": ["tasks:read"],
            "allowed_addresses": "not-an-ip",
        },
    )
    assert response.status_code == 200
    assert "不是有效的 IP 地址或网段" in response.content.decode()


def test_rotate_revoke_disable(world):
    admin = logged_in(world.admin)
    pk = world.client_obj.pk
    page = admin.post(
        reverse("integrations:client_action", args=[pk, "rotate"]), follow=True
    ).content.decode()
    new_key = page.split('<code class="secret">')[1].split("</code>")[0]
    assert Api(world.key).get("/me").status_code == 200  # grace period
    assert Api(new_key).get("/me").status_code == 200
    old = ApiKey.objects.filter(client_id=pk).order_by("created_at").first()
    admin.post(reverse("integrations:key_revoke", args=[old.pk]))
    assert Api(world.key).get("/me").status_code == 401
    admin.post(reverse("integrations:client_action", args=[pk, "disable"]))
    assert Api(new_key).get("/me").status_code == 401
    assert "已停用" in admin.get(reverse("integrations:client_detail", args=[pk])).content.decode()


def test_other_bodies_and_other_roles_are_refused(world):
    pk = world.client_obj.pk
    other = logged_in(world.other.admin)
    assert other.get(reverse("integrations:client_detail", args=[pk])).status_code == 404
    assert other.post(reverse("integrations:client_action", args=[pk, "rotate"])).status_code == 404
    key = ApiKey.objects.get(client_id=pk)
    assert other.post(reverse("integrations:key_revoke", args=[key.pk])).status_code == 404
    inspector = logged_in(world.inspectors[0].user)
    assert inspector.get(reverse("integrations:client_list")).status_code == 403
    assert inspector.get(reverse("integrations:client_create")).status_code == 403
    assert Api(world.key).get("/me").status_code == 200
