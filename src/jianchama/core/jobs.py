"""Background jobs of the core app, run by django-q's scheduler (see migration for the schedule)."""


def write_audit_checkpoint() -> int:
    """Sign the audit chain's head and append it to the checkpoint backends; returns its sequence number."""
    from .checkpoints import write_checkpoint

    return write_checkpoint().sequence
