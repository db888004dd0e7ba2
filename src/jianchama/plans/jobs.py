"""Background jobs of plans, run by the task queue (django-q2)."""


def reveal_queued_draw(draw_id: int) -> str:
    """A draw's reveal queued by its page (`draws.queue_reveal`): the reveal, by the worker."""
    from .draws import run_queued_reveal

    return run_queued_reveal(draw_id)
