"""The three steps (F-32) and accountability (F-33). Placeholder until the three steps are built."""

from __future__ import annotations

from typing import Any


def finding_panel(user, finding) -> dict[str, Any]:
    """Context for the finding page's three-step panel (`supervision/_steps_panel.html`)."""
    return {}


def send_reminders() -> int:
    return 0
