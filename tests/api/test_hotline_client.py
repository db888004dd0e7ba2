"""The API client of kind 12345 (issue 17): 「与12345热线合作对接…信息共享」. The hotline's system pushes work orders
into its district's complaint ledger and reads their handling result over /api/v1/, with its own key."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from jianchama.complaints import services as complaints
from jianchama.complaints.models import Complaint
from jianchama.core.errors import PermissionDenied
from jianchama.core.roles import Role
from jianchama.integrations import services as integrations
from jianchama.integrations.models import ApiClient
from jianchama.registry.models import Region
from tests.api.conftest import Api
from tests.factories import RegionFactory, user_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def hotline(world):
    world.district = world.body.region
    world.platform_admin = user_for(Role.PLATFORM_ADMIN)
    world.intake = user_for(Role.COMPLAINT_INTAKE, region=world.district)
    world.hotline_client, key = integrations.register_hotline_client(
        world.platform_admin,
        region=world.district,
        name="12345工单系统",
        vendor="市大数据中心",
        contact="赵工 13800000001",
    )
    world.hotline_api = Api(key)
    return world


def order(number: str = "GD202603010001", **changes) -> dict:
    return {
        "number": number,
        "received_at": "2026-03-01 09:30",
        "content": "执法人员在营业高峰检查三小时，影响正常经营",
        "complainant_name": "王先生",
        "complainant_phone": "13911112222",
        "category": "干扰企业正常生产经营",
        "due": "2026-03-15",
        **changes,
    }


def test_the_hotline_pushes_a_work_order_and_reads_its_handling_result(hotline):
    """「与12345热线合作对接…信息共享」: pushed as data, registered once, its result read back."""
    w = hotline
    me = w.hotline_api.get("/me").json()
    assert me["name"] == "12345工单系统" and me["body_name"] == f"12345市民服务热线（{w.district.name}）"

    response = w.hotline_api.post("/work-orders", order(body=w.body.code, enterprise_uscc=w.enterprise.uscc))
    assert response.status_code == 201, response.content.decode()
    pushed = response.json()
    complaint = Complaint.objects.get(external_number="GD202603010001")
    assert complaint.source == Complaint.Source.HOTLINE_12345 and complaint.body == w.body
    assert complaint.enterprise == w.enterprise and complaint.registered_by == w.hotline_client.service_user
    assert pushed["ledger_number"] == complaint.number and pushed["status_label"] == "已登记"
    assert pushed["due"] == "2026-03-15"

    again = w.hotline_api.post("/work-orders", order(content="同一工单再次推送"))
    assert again.status_code == 200 and again.json()["ledger_number"] == complaint.number
    assert Complaint.objects.filter(external_number="GD202603010001").count() == 1

    # The district's intake desk sees it and assigns it; the body handles it; the hotline reads the result.
    assert Complaint.objects.visible_to(w.intake).filter(pk=complaint.pk).exists()
    complaints.assign_complaint(w.intake, complaint=complaint, body=w.body)
    complaints.record_handling(w.admin, complaint=complaint, result="已约谈检查人员，调整检查时间")
    result = w.hotline_api.get("/work-orders/GD202603010001").json()
    assert result["status"] == "handled" and result["result"] == "已约谈检查人员，调整检查时间"
    assert result["body_name"] == w.body.name and result["handled_at"]
    assert w.hotline_api.get("/work-orders/GD-NONE").status_code == 404


def test_a_bad_work_order_is_refused_in_chinese_and_nothing_is_saved(hotline):
    w = hotline
    response = w.hotline_api.post(
        "/work-orders", order(received_at="昨天", enterprise_uscc="91310116MA1FPX7Q3X", content="")
    )
    assert response.status_code == 422
    problem = response.json()
    messages = " ".join(e["message"] for e in problem["errors"])
    assert "「受理时间」日期应写作 YYYY-MM-DD" in messages and "「诉求内容」必须填写" in messages
    assert "校验码不符" in messages
    assert w.hotline_api.post("/work-orders", {"number": "x"}).status_code == 422
    assert w.hotline_api.post("/work-orders", order(body="不存在的单位")).status_code == 422
    assert not Complaint.objects.exists()


def test_only_the_hotline_s_client_pushes_work_orders_and_it_reaches_nothing_else(hotline, api):
    w = hotline
    refused = api.post("/work-orders", order())
    assert refused.status_code == 403
    assert "只有12345热线的接口客户端可以推送和查询12345工单" in refused.json()["detail"]
    assert api.get("/work-orders/GD202603010001").status_code == 403
    assert not Complaint.objects.exists()
    # The hotline's client holds none of a body's scopes.
    assert w.hotline_api.get("/tasks").status_code == 403
    assert w.hotline_api.post("/tasks", {}).status_code in (403, 422)
    assert w.hotline_api.get("/webhooks").status_code == 403
    # A work order of another district's ledger is not its to read.
    other_intake = user_for(Role.COMPLAINT_INTAKE, region=RegionFactory(code="310112", name="闵行区"))
    other_intake.region.level = Region.Level.DISTRICT
    other_intake.region.save()
    complaints.register_complaint(
        other_intake,
        source=Complaint.Source.HOTLINE_12345,
        category="other",
        title="别区工单",
        content="别区工单内容",
        external_number="GD-OTHER",
    )
    assert w.hotline_api.get("/work-orders/GD-OTHER").status_code == 404


def test_only_the_platform_administrator_registers_the_hotline_s_client(hotline):
    w = hotline
    for actor in (w.admin, w.intake):
        with pytest.raises(PermissionDenied, match="只有平台管理员可以登记12345热线的接口客户端"):
            integrations.register_hotline_client(actor, region=w.district, name="x", vendor="y", contact="z")
    client = ApiClient.objects.get(pk=w.hotline_client.pk)
    assert client.kind == ApiClient.Kind.HOTLINE_12345 and client.body is None and client.region == w.district
    assert client.service_user.role == Role.COMPLAINT_INTAKE and client.service_user.region == w.district
    # The body's administrator neither sees nor manages it; the platform administrator rotates its key.
    assert not ApiClient.objects.visible_to(w.admin).filter(pk=client.pk).exists()
    with pytest.raises(PermissionDenied):
        integrations.rotate_key(w.admin, client=client)
    integrations.rotate_key(w.platform_admin, client=client)
    page = Client()
    page.force_login(w.platform_admin)
    listing = page.get("/integrations/clients/").content.decode()
    assert "12345工单系统" in listing and f"12345市民服务热线（{w.district.name}）" in listing
    detail = page.get(f"/integrations/clients/{client.pk}/")
    assert detail.status_code == 200 and "推送12345工单" in detail.content.decode()
    rotated = page.post(f"/integrations/clients/{client.pk}/rotate/", follow=True).content.decode()
    assert "已签发新密钥" in rotated
    page.force_login(w.admin)
    assert page.get(f"/integrations/clients/{client.pk}/").status_code == 404

    out = io.StringIO()
    call_command(
        "register_hotline_client",
        admin=w.platform_admin.username,
        region=w.district.code,
        vendor="市大数据中心",
        contact="赵工",
        stdout=out,
    )
    key = out.getvalue().strip().splitlines()[-1]
    assert Api(key).get("/me").status_code == 200
    with pytest.raises(CommandError, match="只有平台管理员"):
        call_command(
            "register_hotline_client", admin=w.admin.username, region=w.district.code, vendor="v", contact="c"
        )
