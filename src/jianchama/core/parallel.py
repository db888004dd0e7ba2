"""Work spread over several database connections at once (PostgreSQL): the data rules' full run and the
statistics' nightly rebuild, each a list of independent statements that take seconds to minutes; on two cores
two connections finish them in about half the time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connection

T = TypeVar("T")


def can_run_in_parallel() -> bool:
    """Whether other connections would see what this one wrote: PostgreSQL, outside a transaction (a test's or a
    caller's, whose rows another connection would not see)."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def run_on_connections(
    first: Callable[[], None],
    own: list[T],
    shared: list[T],
    run_one: Callable[[T], None],
    workers: int,
    on_done: Callable[[Any], None] | None = None,
) -> None:
    """`first()` then `run_one` for each of `own` on this thread's connection, while `workers - 1` threads,
    each on a connection of its own, take `shared` in order; this thread then helps with what is left. The
    first error is raised again here once every thread has stopped. `on_done(connection)` is called in each
    worker thread before its connection closes (the benchmarks add up the backends' CPU)."""
    from django.db import connections

    queue = list(shared)
    taking = threading.Lock()
    failed: list[BaseException] = []

    def drain() -> None:
        while True:
            with taking:
                if not queue or failed:
                    return
                item = queue.pop(0)
            run_one(item)

    def worker() -> None:
        try:
            drain()
        except BaseException as error:  # raised again on this thread, as a serial run would
            failed.append(error)
        finally:
            if on_done is not None:
                on_done(connection)
            connections.close_all()  # this thread's connections only

    threads = [threading.Thread(target=worker, name=f"db-worker-{n}", daemon=True) for n in range(1, workers)]
    for thread in threads:
        thread.start()
    try:
        first()
        for item in own:
            run_one(item)
        drain()
    finally:
        for thread in threads:
            thread.join()
    if failed:
        raise failed[0]
