"""The channels a notification is pushed through, besides the portal inbox: name → channel.

A channel knows two things: whom to send a notification to (`targets`) and how to send one delivery
(`send`). Adding e-mail later is one class with `@register("email")` and a `Delivery.Channel` choice;
the services and the job need no change. A channel never raises for a failed send: it returns a
`SendResult` with the reason, which the job logs as an attempt and retries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPException

from django.conf import settings

from jianchama.core import sms

from .models import Delivery, Notification


@dataclass
class SendResult:
    ok: bool
    http_status: int | None = None
    error: str = ""
    # False when trying again cannot help (e.g. the channel is not configured): the delivery fails at once.
    retryable: bool = True


class BaseChannel:
    name = ""

    def targets(self, notification: Notification) -> list[str]:
        """Where this notification goes through this channel; empty when the channel does not apply."""
        raise NotImplementedError

    def send(self, delivery: Delivery) -> SendResult:
        raise NotImplementedError


CHANNELS: dict[str, BaseChannel] = {}


def register(name: str) -> Callable[[type[BaseChannel]], type[BaseChannel]]:
    def decorate(cls: type[BaseChannel]) -> type[BaseChannel]:
        cls.name = name
        CHANNELS[name] = cls()
        return cls

    return decorate


def get_channel(name: str) -> BaseChannel | None:
    return CHANNELS.get(name)


# --- Webhook to the government service app (随申办) -------------------------------------------------------


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Jianchama-Signature value: HMAC-SHA256 over "<timestamp>." + body, so a replayed body with a
    new timestamp, or a changed body, does not verify."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_body(notification: Notification) -> bytes:
    enterprise = notification.enterprise
    document = {
        "id": notification.pk,
        "event": notification.event,
        "created_at": notification.created_at.isoformat(),
        "enterprise": {"uscc": enterprise.uscc, "name": enterprise.name} if enterprise else None,
        "subject": notification.subject,
        "body": notification.body,
        "data": notification.payload,
    }
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirected POST would arrive as a GET without the body; a redirect is a misconfigured URL, a failure.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _snippet(response_body: bytes) -> str:
    text = response_body.decode("utf-8", errors="replace").strip()
    return f"：{text[:200]}" if text else ""


@register("webhook")
class WebhookChannel(BaseChannel):
    def targets(self, notification: Notification) -> list[str]:
        url = settings.GOV_APP_WEBHOOK_URL
        return [url] if url and notification.enterprise_id else []

    def send(self, delivery: Delivery) -> SendResult:
        secret = settings.GOV_APP_WEBHOOK_SECRET
        if not secret:
            # Never send unsigned: the app could not tell our pushes from forged ones.
            return SendResult(ok=False, error="未配置 GOV_APP_WEBHOOK_SECRET，不能签名推送", retryable=False)
        notification = delivery.notification
        body = webhook_body(notification)
        timestamp = str(int(time.time()))
        request = urllib.request.Request(
            delivery.target,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "jianchama-webhook/1",
                "X-Jianchama-Event": notification.event,
                "X-Jianchama-Delivery": str(delivery.pk),
                "X-Jianchama-Timestamp": timestamp,
                "X-Jianchama-Signature": sign(secret, timestamp, body),
            },
        )
        # Built per send, so proxy settings from the environment are read as they are now.
        opener = urllib.request.build_opener(_NoRedirect)
        timeout = settings.WEBHOOK_TIMEOUT_SECONDS
        try:
            with opener.open(request, timeout=timeout) as response:
                status = response.status
                content = response.read(1024)
        except urllib.error.HTTPError as error:
            content = error.read(1024) if error.fp else b""
            return SendResult(ok=False, http_status=error.code, error=f"HTTP {error.code}{_snippet(content)}")
        except urllib.error.URLError as error:
            if isinstance(error.reason, (TimeoutError, socket.timeout)):
                return SendResult(ok=False, error=f"请求超时：{timeout:g} 秒内未收到响应")
            return SendResult(ok=False, error=f"无法连接：{error.reason}")
        except TimeoutError:
            return SendResult(ok=False, error=f"请求超时：{timeout:g} 秒内未收到响应")
        except (OSError, HTTPException) as error:
            return SendResult(ok=False, error=f"连接出错：{error.__class__.__name__} {error}".strip())
        if 200 <= status < 300:
            return SendResult(ok=True, http_status=status)
        return SendResult(ok=False, http_status=status, error=f"HTTP {status}{_snippet(content)}")


# --- SMS to the enterprise's contacts ---------------------------------------------------------------------


def sms_text(notification: Notification) -> str:
    # Short on purpose: the content is in the inbox, behind the reader's login, not in a text message.
    where = "企业端" if notification.enterprise_id else "检查码平台"
    return f"【检查码】{notification.subject}。详情请登录{where}查看。"


@register("sms")
class SmsChannel(BaseChannel):
    def targets(self, notification: Notification) -> list[str]:
        # A staff user's notification reaches channels only when asked for (notify_user(sms=True)).
        if notification.user_id:
            phone = (notification.user.phone or "").strip()
            return [phone] if phone else []
        if not notification.enterprise_id:
            return []
        phones: list[str] = []
        for phone in notification.enterprise.contacts.order_by("pk").values_list("phone", flat=True):
            phone = (phone or "").strip()
            if phone and phone not in phones:
                phones.append(phone)
        return phones

    def send(self, delivery: Delivery) -> SendResult:
        try:
            sms.send_sms(delivery.target, sms_text(delivery.notification))
        except Exception as error:  # any backend (a gateway's SDK) may fail in its own way; log it, retry
            return SendResult(ok=False, error=f"短信发送失败：{error.__class__.__name__} {error}".strip())
        return SendResult(ok=True)
