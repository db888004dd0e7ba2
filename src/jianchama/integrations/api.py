"""The integrations part of the API: who the client is, and its webhooks (F-29)."""

from __future__ import annotations

import datetime

from django.http import Http404
from ninja import Router, Schema, Status
from pydantic import Field

from jianchama.core.errors import PermissionDenied

from . import services

router = Router(tags=["接口客户端与事件推送"])


class ClientOut(Schema):
    name: str = Field(description="系统名称")
    body_code: str = Field(description="所属执法单位编码")
    body_name: str = Field(description="所属执法单位名称")
    scopes: list[str] = Field(description="权限范围")
    key_prefix: str = Field(description="本次使用的密钥前缀")
    key_expires_at: datetime.datetime | None = Field(description="本次使用的密钥的失效时间（轮换后的宽限期）")


class WebhookIn(Schema):
    url: str = Field(description="接收推送的网址（生产环境须 https）", max_length=500)
    events: list[str] = Field(
        description=(
            "订阅的事件：task.status_changed、task.started、scan.recorded、result.recorded、result.overdue、"
            "evaluation.released、finding.raised、recommendation.issued"
        ),
        max_length=10,
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"url": "https://zf.example.gov.cn/jianchama/hook", "events": ["task.status_changed"]}
            ]
        }
    }


class WebhookOut(Schema):
    id: int = Field(description="编号")
    url: str = Field(description="推送地址")
    events: list[str] = Field(description="订阅的事件")
    is_active: bool = Field(description="启用")


class WebhookCreated(WebhookOut):
    secret: str = Field(description="签名密钥，只显示这一次，请妥善保存")


def _require(request, scope: str) -> None:
    if not request.auth.has_scope(scope):
        raise PermissionDenied(f"该接口客户端没有「{scope}」权限，请本单位管理员在接口客户端设置中授予")


@router.get("/me", response=ClientOut, summary="当前接口客户端", operation_id="whoami")
def whoami(request):
    """用于对接调试：密钥对应的客户端、执法单位与权限范围。"""
    client = request.auth
    key = client.current_key
    return {
        "name": client.name,
        # The 12345 hotline's client belongs to no body: its district stands in the body's place.
        "body_code": client.body.code if client.body_id else client.region.code,
        "body_name": client.body.name if client.body_id else f"12345市民服务热线（{client.region.name}）",
        "scopes": client.scopes,
        "key_prefix": key.prefix,
        "key_expires_at": key.expires_at,
    }


@router.get("/webhooks", response=list[WebhookOut], summary="推送地址列表", operation_id="list_webhooks")
def list_webhooks(request):
    _require(request, "webhooks:manage")
    return list(request.auth.webhooks.all())


@router.post(
    "/webhooks", response={201: WebhookCreated}, summary="登记推送地址", operation_id="create_webhook"
)
def create_webhook(request, payload: WebhookIn):
    """登记后，事件以 POST 推送到该网址，带 HMAC-SHA256 签名（见 docs/api.md）；签名密钥只在此返回一次。"""
    _require(request, "webhooks:manage")
    webhook, secret = services.register_webhook(request.auth, url=payload.url, events=payload.events)
    return Status(
        201,
        {
            "id": webhook.pk,
            "url": webhook.url,
            "events": webhook.events,
            "is_active": webhook.is_active,
            "secret": secret,
        },
    )


@router.delete(
    "/webhooks/{webhook_id}", response={204: None}, summary="删除推送地址", operation_id="delete_webhook"
)
def delete_webhook(request, webhook_id: int):
    _require(request, "webhooks:manage")
    webhook = request.auth.webhooks.filter(pk=webhook_id).first() if 0 < webhook_id < 2**62 else None
    if webhook is None:
        raise Http404("推送地址不存在")
    services.remove_webhook(request.auth, webhook=webhook)
    return Status(204, None)
