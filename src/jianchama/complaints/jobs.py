"""Background jobs of the complaint ledger (scheduled by supervision's migration 0002_schedules)."""


def send_deadline_reminders() -> int:
    """Remind of complaints whose handling or feedback deadline falls due, and flag the missed ones."""
    from .services import send_reminders

    return send_reminders()
