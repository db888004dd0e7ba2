"""Filters for showing audit events: `{% load audit_tags %}`."""

import datetime

from django import template

from .. import audit

register = template.Library()


@register.filter
def action_label(action: str) -> str:
    return audit.action_label(action)


@register.filter
def audit_changes(event) -> list[audit.Change]:
    return audit.changes(event)


@register.filter
def in_minutes(value: datetime.timedelta | None) -> int | None:
    """A cool-off period in whole minutes (rounded up)."""
    if value is None:
        return None
    return -(-int(value.total_seconds()) // 60)
