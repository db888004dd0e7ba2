"""Pluggable SMS backends. Development prints to the console; tests capture messages in `outbox`."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


@dataclass
class SmsMessage:
    phone: str
    text: str


class BaseBackend:
    def send(self, phone: str, text: str) -> None:
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    def send(self, phone: str, text: str) -> None:
        print(f"[短信] 发往 {phone}：{text}", flush=True)  # the console backend's whole job


outbox: list[SmsMessage] = []


class LocmemBackend(BaseBackend):
    """Keeps messages in `jianchama.core.sms.outbox`, for tests."""

    def send(self, phone: str, text: str) -> None:
        outbox.append(SmsMessage(phone, text))


def send_sms(phone: str, text: str) -> None:
    import_string(settings.SMS_BACKEND)().send(phone, text)
