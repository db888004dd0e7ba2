"""Every change to API clients, their keys and webhooks; and the check of a presented key.

A client acts through its own service user: a body administrator of the client's body without a password,
named 「接口客户端「…」」. So every operation of the API calls the same services as the pages, scoped by the
same `visible_to`, and the audit log names the client as the actor. Acts only an inspector may do on site
(check-in, the result, showing the code) are done by the inspector the client names, who must be one of the
task's inspectors with a platform account; the client's own audit row records that it relayed them.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from jianchama.core import audit, rows
from jianchama.core.errors import DomainError, PermissionDenied, raise_if
from jianchama.core.models import User
from jianchama.core.roles import Role

from . import webhooks as webhook_events
from .models import ApiClient, ApiKey, Scope, Webhook

AUDIT_ACTIONS = {
    "api_client.registered": "登记接口客户端",
    "api_client.updated": "修改接口客户端",
    "api_client.disabled": "停用接口客户端",
    "api_key.issued": "签发接口密钥",
    "api_key.rotated": "轮换接口密钥",
    "api_key.revoked": "吊销接口密钥",
    "api.relayed": "接口代执法人员提交",
    "webhook.registered": "登记事件推送地址",
    "webhook.removed": "删除事件推送地址",
    "webhook.redelivered": "重新推送事件",
}

KEY_PREFIX = "jck"


def can_manage(user) -> bool:
    return user.is_authenticated and user.role == Role.BODY_ADMIN and user.body_id is not None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def address_problems(text: str) -> list[str]:
    problems = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            ipaddress.ip_network(line, strict=False)
        except ValueError:
            problems.append(
                f"来源地址「{line[:50]}」不是有效的 IP 地址或网段（例如 10.1.2.3 或 10.1.2.0/24）"
            )
    return problems


def _client_problems(name: str, vendor: str, contact: str, allowed_addresses: str, scopes: Sequence[str]):
    problems = []
    if not name.strip():
        problems.append("请填写系统名称")
    if not vendor.strip():
        problems.append("请填写承建单位")
    if not contact.strip():
        problems.append("请填写联系人及电话")
    unknown = [scope for scope in scopes if scope not in Scope.values]
    if unknown:
        problems.append(f"未知的权限范围：{'、'.join(unknown)}")
    if not scopes:
        problems.append("请至少选择一项权限范围")
    return problems + address_problems(allowed_addresses)


def _new_key(client: ApiClient) -> tuple[ApiKey, str]:
    prefix = secrets.token_hex(6)
    plaintext = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(client=client, prefix=prefix, secret_hash=_hash(plaintext))
    return key, plaintext


@transaction.atomic
def register_client(
    actor,
    *,
    name: str,
    vendor: str,
    contact: str,
    scopes: Sequence[str],
    allowed_addresses: str = "",
) -> tuple[ApiClient, str]:
    """A client of the actor's body and its first key; the key's text is returned once and never stored."""
    if not can_manage(actor):
        raise PermissionDenied("只有执法单位管理员可以登记本单位的接口客户端")
    scopes = list(dict.fromkeys(scopes))
    raise_if(_client_problems(name, vendor, contact, allowed_addresses, scopes), "接口客户端未登记")
    service_user = User(
        username=f"api-{secrets.token_hex(8)}",
        full_name=f"接口客户端「{name.strip()[:30]}」",
        role=Role.BODY_ADMIN,
        body_id=actor.body_id,
        is_service_account=True,
    )
    service_user.set_unusable_password()
    service_user.save()
    client = ApiClient.objects.create(
        body_id=actor.body_id,
        name=name.strip(),
        vendor=vendor.strip(),
        contact=contact.strip(),
        allowed_addresses=allowed_addresses.strip(),
        scopes=scopes,
        service_user=service_user,
        created_by=actor,
    )
    key, plaintext = _new_key(client)
    audit.record(actor=actor, action="api_client.registered", obj=client, after=audit.snapshot(client))
    audit.record(
        actor=actor, action="api_key.issued", obj=key, after={"client": client.pk, "prefix": key.prefix}
    )
    return client, plaintext


HOTLINE_SCOPES = ["work_orders"]


@transaction.atomic
def register_hotline_client(
    actor, *, region, name: str, vendor: str, contact: str, allowed_addresses: str = ""
) -> tuple[ApiClient, str]:
    """The 12345 hotline's system of one district (issue 17) and its first key, registered by the platform
    administrator (configuration, not a legal act). It acts as an intake desk user of the district: it pushes
    work orders into the district's complaint ledger (POST /api/v1/work-orders) and reads their handling
    result, and nothing else (no body's scopes)."""
    if not (actor.is_authenticated and actor.is_platform_admin):
        raise PermissionDenied("只有平台管理员可以登记12345热线的接口客户端")
    problems = [
        message
        for value, message in (
            (name, "请填写系统名称"),
            (vendor, "请填写承建单位"),
            (contact, "请填写联系人及电话"),
        )
        if not value.strip()
    ] + address_problems(allowed_addresses)
    if region is None or region.level != region.Level.DISTRICT:
        problems.append("请选择12345工单所属的区（县）")
    raise_if(problems, "接口客户端未登记")
    service_user = User(
        username=f"api-{secrets.token_hex(8)}",
        full_name=f"接口客户端「{name.strip()[:30]}」",
        role=Role.COMPLAINT_INTAKE,
        region=region,
        is_service_account=True,
    )
    service_user.set_unusable_password()
    service_user.save()
    client = ApiClient.objects.create(
        kind=ApiClient.Kind.HOTLINE_12345,
        region=region,
        name=name.strip(),
        vendor=vendor.strip(),
        contact=contact.strip(),
        allowed_addresses=allowed_addresses.strip(),
        scopes=list(HOTLINE_SCOPES),
        service_user=service_user,
        created_by=actor,
    )
    key, plaintext = _new_key(client)
    audit.record(actor=actor, action="api_client.registered", obj=client, after=audit.snapshot(client))
    audit.record(
        actor=actor, action="api_key.issued", obj=key, after={"client": client.pk, "prefix": key.prefix}
    )
    return client, plaintext


def _managed(actor, client: ApiClient) -> ApiClient:
    if client.is_hotline:
        # The hotline's client belongs to no body: the platform administrator who registered it manages it.
        if not (actor.is_authenticated and actor.is_platform_admin):
            raise PermissionDenied("只有平台管理员可以管理12345热线的接口客户端")
    elif not can_manage(actor) or client.body_id != actor.body_id:
        raise PermissionDenied("只有本单位的执法单位管理员可以管理该接口客户端")
    return ApiClient.objects.select_for_update().get(pk=client.pk)


@transaction.atomic
def rotate_key(actor, *, client: ApiClient) -> tuple[ApiKey, str]:
    """A new key; the keys in use stay valid for `API_KEY_GRACE_HOURS`, so the system can switch without a gap."""
    client = _managed(actor, client)
    if not client.is_active:
        raise DomainError(f"接口客户端「{client.name}」已停用，不能签发新密钥")
    now = timezone.now()
    grace_end = now + datetime.timedelta(hours=settings.API_KEY_GRACE_HOURS)
    old = list(client.keys.filter(revoked_at__isnull=True).exclude(expires_at__lte=now))
    for key in old:
        if key.expires_at is None or key.expires_at > grace_end:
            key.expires_at = grace_end
            key.save(update_fields=["expires_at"])
    key, plaintext = _new_key(client)
    audit.record(
        actor=actor,
        action="api_key.rotated",
        obj=key,
        after={"client": client.pk, "prefix": key.prefix, "old_keys_valid_until": grace_end.isoformat()},
    )
    return key, plaintext


@transaction.atomic
def revoke_key(actor, *, key: ApiKey) -> ApiKey:
    """At once: the next call with this key gets 401."""
    _managed(actor, key.client)
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is not None:
        raise DomainError(f"密钥 {key} 已于此前吊销")
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit.record(actor=actor, action="api_key.revoked", obj=key, after={"client": key.client_id})
    return key


@transaction.atomic
def disable_client(actor, *, client: ApiClient) -> ApiClient:
    """Stop a client: every key refused at once, its service user deactivated, its webhooks stopped."""
    client = _managed(actor, client)
    if not client.is_active:
        raise DomainError(f"接口客户端「{client.name}」已停用")
    client.is_active = False
    client.save(update_fields=["is_active"])
    User.objects.filter(pk=client.service_user_id).update(is_active=False)
    client.webhooks.update(is_active=False)
    webhook_events.forget_subscriptions()
    audit.record(actor=actor, action="api_client.disabled", obj=client)
    return client


def _address_allowed(client: ApiClient, address: str) -> bool:
    if not client.allowed_addresses.strip():
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for line in client.allowed_addresses.splitlines():
        line = line.strip()
        if line:
            try:
                if ip in ipaddress.ip_network(line, strict=False):
                    return True
            except ValueError:
                continue
    return False


# The key's row with its client, the client's service user, his body and its region: what every API call
# reads first. One query built once per database (the ORM's select_related over five tables took about 3 ms of
# CPU to build, each call); rows become model instances through the database's converters, as the ORM makes
# them.
_KEY_SQL: dict[tuple[str, str], tuple[str, list, list]] = {}


def _key_chain():
    from jianchama.registry.models import EnforcementBody, Region

    return [ApiKey, ApiClient, User, EnforcementBody, Region]


def _key_sql(connection) -> tuple[str, list, list]:
    key = (connection.alias, connection.vendor)
    if key not in _KEY_SQL:
        quote = connection.ops.quote_name
        _, _, _, Body, Region = _key_chain()
        joins = [  # (alias, model, join, the column of the row before that points to it)
            ("k", ApiKey, "", ""),
            ("c", ApiClient, "INNER", f"k.{quote(ApiKey._meta.get_field('client').column)}"),
            ("u", User, "INNER", f"c.{quote(ApiClient._meta.get_field('service_user').column)}"),
            ("b", Body, "LEFT", f"u.{quote(User._meta.get_field('body').column)}"),
            ("r", Region, "LEFT", f"b.{quote(Body._meta.get_field('region').column)}"),
        ]
        columns, sources, fields = [], [], []
        for alias, model, join, pointer in joins:
            columns += [f"{alias}.{quote(f.column)}" for f in model._meta.concrete_fields]
            table = quote(model._meta.db_table)
            sources.append(
                f"{table} {alias}"
                if not join
                else f"{join} JOIN {table} {alias} ON {alias}.{quote(model._meta.pk.column)} = {pointer}"
            )
            fields += model._meta.concrete_fields
        converters = rows.field_converters(connection, fields)
        sql = (
            f"SELECT {', '.join(columns)} FROM {' '.join(sources)} "
            f"WHERE k.{quote(ApiKey._meta.get_field('prefix').column)} = %s"
        )
        _KEY_SQL[key] = (sql, converters, [len(model._meta.concrete_fields) for _, model, _, _ in joins])
    return _KEY_SQL[key]


def _key_with_client(prefix: str) -> ApiKey | None:
    """The key of `prefix` with its client, service user, body and region (none for the hotline's client)."""
    from django.db import connection

    sql, converters, widths = _key_sql(connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    values = rows.converted(connection, row, converters)
    instances, start = [], 0
    for model, width in zip(_key_chain(), widths, strict=True):
        part = values[start : start + width]
        start += width
        fields = model._meta.concrete_fields
        # A row of a LEFT JOIN that found nothing: its primary key is NULL.
        instances.append(
            None
            if part[fields.index(model._meta.pk)] is None
            else model.from_db(connection.alias, [f.attname for f in fields], part)
        )
    api_key, client, user, body, region = instances
    if body is not None:
        body.region = region
    user.body = body
    client.service_user = user
    api_key.client = client
    return api_key


def authenticate(token: str, *, address: str, now: datetime.datetime | None = None) -> ApiClient | None:
    """The client of a presented key, or None: unknown, revoked, expired, disabled or from an address not
    allowed all look the same to the caller (401), so a key's answer tells nothing about a body."""
    parts = (token or "").split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(token) > 100:
        return None
    key = _key_with_client(parts[1])
    now = now or timezone.now()
    if key is None or not hmac.compare_digest(key.secret_hash, _hash(token)) or not key.usable_at(now):
        return None
    client = key.client
    if not client.is_active or not client.service_user.is_active or not _address_allowed(client, address):
        return None
    # Once a minute at most: a busy client does not write its key's row on every call.
    if key.last_used_at is None or now - key.last_used_at > datetime.timedelta(minutes=1):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    client.current_key = key
    return client


def relayed(client: ApiClient, *, action: str, obj, inspector) -> None:
    """The client's own audit row for an act it sent in an inspector's name (check-in, result)."""
    audit.record(
        actor=client.service_user,
        action="api.relayed",
        obj=obj,
        after={"operation": action, "inspector": inspector.pk, "inspector_name": inspector.name},
    )


# --- Webhooks -------------------------------------------------------------------------------------------


@transaction.atomic
def redeliver(actor, *, delivery) -> None:
    """「重新推送」: a failed (or sent) delivery goes back on the queue with the same event id, so the body's
    system recognises a repeat; its webhook is switched on again if repeated failures had stopped it."""
    import functools

    from .models import WebhookDelivery
    from .webhooks import enqueue

    _managed(actor, delivery.webhook.client)
    delivery = WebhookDelivery.objects.select_for_update().select_related("webhook").get(pk=delivery.pk)
    if delivery.status == WebhookDelivery.Status.PENDING:
        raise DomainError("该推送仍在发送或等待重试，无需重新推送")
    delivery.status = WebhookDelivery.Status.PENDING
    delivery.attempts = 0
    delivery.save(update_fields=["status", "attempts"])
    if not delivery.webhook.is_active:
        Webhook.objects.filter(pk=delivery.webhook_id).update(is_active=True, failures=0)
        webhook_events.forget_subscriptions()
    audit.record(
        actor=actor, action="webhook.redelivered", obj=delivery.webhook, after={"delivery": delivery.pk}
    )
    transaction.on_commit(functools.partial(enqueue, delivery.pk), robust=True)


@transaction.atomic
def register_webhook(client: ApiClient, *, url: str, events: Sequence[str]) -> tuple[Webhook, str]:
    """A URL for the client's events; the signing secret is returned once (only the client knows it)."""
    from urllib.parse import urlsplit

    problems = []
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append("推送地址须为 http:// 或 https:// 开头的完整网址")
    elif parts.scheme == "http" and not settings.DEBUG and not settings.API_WEBHOOK_ALLOW_HTTP:
        problems.append("推送地址须使用 https://")
    events = list(dict.fromkeys(events))
    unknown = [event for event in events if event not in Webhook.Event.values]
    if unknown:
        problems.append(f"未知的事件：{'、'.join(unknown)}；可选：{'、'.join(Webhook.Event.values)}")
    if not events:
        problems.append("请至少选择一个事件")
    if client.webhooks.count() >= 10:
        problems.append("每个接口客户端最多登记 10 个推送地址，请先删除不用的")
    raise_if(problems, "推送地址未登记")
    secret = secrets.token_hex(32)
    webhook = Webhook.objects.create(client=client, url=url, events=events, secret=secret)
    audit.record(
        actor=client.service_user,
        action="webhook.registered",
        obj=webhook,
        after={"url": url, "events": events},
    )
    return webhook, secret


@transaction.atomic
def remove_webhook(client: ApiClient, *, webhook: Webhook) -> None:
    if webhook.client_id != client.pk:
        raise PermissionDenied("只能删除本客户端的推送地址")
    audit.record(
        actor=client.service_user, action="webhook.removed", obj=webhook, before={"url": webhook.url}
    )
    webhook.delete()
