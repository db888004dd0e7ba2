"""Background jobs of the registry, run by the task queue (django-q2)."""


def run_import(job_id: int) -> str:
    """A large bulk import queued by the import page (`importing.queue_import`); returns its final status."""
    from .importing import run_import_job

    return run_import_job(job_id)
