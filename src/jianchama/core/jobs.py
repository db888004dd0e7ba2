"""Background jobs of the core app, run by django-q's scheduler (see migration for the schedule)."""


def write_audit_checkpoint() -> int:
    """Sign the audit chain's head and append it to the checkpoint backends; returns its sequence number."""
    from .checkpoints import write_checkpoint

    return write_checkpoint().sequence


def run_export(job_id: int) -> str:
    """A large export queued by its page (`exports.queue`); returns its final status."""
    from .exports import run

    return run(job_id)


def delete_expired_exports() -> int:
    """Remove the files of exports past EXPORT_KEEP_HOURS (hourly); returns how many."""
    from .exports import delete_expired

    return delete_expired()


def ensure_partitions() -> list[str]:
    """Keep this month's and the next PARTITION_MONTHS_AHEAD months' partitions ready (daily, PostgreSQL)."""
    from .partitions import ensure

    return ensure()
