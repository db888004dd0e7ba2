"""Background jobs of the statistics, run by django-q's scheduler (migration 0002_schedules). Both are
idempotent: the refresh rebuilds the days changed since its watermark, the rebuild everything."""


def refresh_statistics() -> dict:
    """The incremental refresh (every minute): the days touched since the last run."""
    from .build import refresh

    return refresh()


def rebuild_statistics() -> int | str:
    """The nightly full rebuild (about 9 minutes at 10 M inspections: Q_TIMEOUT_SECONDS must allow it), or, if
    another is at work, nothing (the job's result says so)."""
    from .build import RebuildRunning, rebuild_all

    try:
        return rebuild_all()
    except RebuildRunning as running:
        return str(running)


def refresh_snapshots() -> int:
    """The heavy figures of the standard views, every STATISTICS_SNAPSHOT_MINUTES minutes."""
    from .snapshots import refresh_snapshots as run

    return run()


def refresh_view(key: str, kind: str, start: str, end: str, filters: dict | None = None) -> int:
    """One view's snapshots, queued by a page that found them past their age, or none at a scale where the
    request does not compute them (snapshots.defers)."""
    import datetime

    from .snapshots import refresh_view as run

    return run(key, kind, datetime.date.fromisoformat(start), datetime.date.fromisoformat(end), filters)
