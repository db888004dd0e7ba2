"""Events about one enforcement body that its own systems may want pushed (F-29's webhooks): its evaluation
figures released, a supervision finding raised against it, a supervision recommendation issued to it.

The service that makes the change emits the event inside its transaction; a listener (integrations registers
one) writes what it needs in that same transaction, so a rolled-back change sends nothing. Events about one
task go through inspections.workflow.emit instead, which knows the task's bodies. Core names no domain app:
the apps emit, and whoever listens registers here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Listener = Callable[[str, int, dict[str, Any], dict[str, Any]], None]
LISTENERS: list[Listener] = []


def register_listener(listener: Listener) -> None:
    if listener not in LISTENERS:
        LISTENERS.append(listener)


def emit(event: str, *, body_id: int, subject: dict[str, Any], data: dict[str, Any]) -> None:
    """`subject` names what the event is about (its kind and number or id), `data` what the body may read of
    it: never more than the body's own pages show."""
    for listener in LISTENERS:
        listener(event, body_id, subject, data)
