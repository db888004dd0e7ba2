"""Every change to a plan, its filing and announcement, and its random draws."""

from __future__ import annotations

AUDIT_ACTIONS: dict[str, str] = {}
