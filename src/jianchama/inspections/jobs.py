"""Background jobs of the inspections app, run by django-q's scheduler (see migration
`0007_evaluationrelease`). Each is idempotent: running it twice does no more than running it once."""


def release_evaluations() -> int:
    """Release the evaluation figures of every body with at least a batch of new ratings (F-26); returns how
    many releases were made."""
    from django.db.models import Count

    from jianchama.registry.models import EnforcementBody

    from .models import Evaluation
    from .services import evaluation_release_size
    from .services import release_evaluations as release

    rated = (
        Evaluation.objects.order_by()
        .values("task__task_bodies__body")
        .annotate(n=Count("pk", distinct=True))
        .filter(n__gte=evaluation_release_size())
        .values_list("task__task_bodies__body", flat=True)
    )
    bodies = EnforcementBody.objects.filter(pk__in=list(rated)).select_related("region").order_by("pk")
    return sum(1 for body in bodies if release("系统", body=body))


def flush_scan_log() -> int:
    """Every minute: write the scans waiting in the scan log's stream (scan_log.py), when the flusher service
    (`manage.py flush_scan_log`) is not running or has fallen behind; returns how many were written."""
    from . import scan_log

    return scan_log.flush_pending()
