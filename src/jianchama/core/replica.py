"""Reads that may go to a read replica (issue 16): statistics, exports, public pages and open data.

With `DATABASE_REPLICA_URL` set, a view decorated with `replica_reads` reads from the `replica` database,
except:

- for a client that wrote something in the last `READ_YOUR_WRITES_SECONDS` (a POST, PUT, PATCH or DELETE
  answered without a server error sets a short cookie; the replica may not have the write yet, so that
  client reads the primary: read-your-writes);
- when the replica cannot be reached: the first failure marks it down for `REPLICA_RETRY_SECONDS` and the
  request is answered again from the primary (only safe methods are retried), so a stopped replica costs
  one slow request, not an error page.

Writes always go to the primary; migrations run only there. A streamed response (CSV, JSON) keeps reading
from the replica while it streams: the choice is reset at the start of the next request, not at the end of
the view. Without `DATABASE_REPLICA_URL` nothing changes.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import time

from django.conf import settings
from django.core.signals import request_started
from django.db import OperationalError, connections

REPLICA = "replica"
COOKIE = "jc_rw"

_reading_replica: contextvars.ContextVar[bool] = contextvars.ContextVar("reading_replica", default=False)
_down_until = 0.0


def configured() -> bool:
    return REPLICA in settings.DATABASES


def _available() -> bool:
    return configured() and time.monotonic() >= _down_until


def _mark_down() -> None:
    global _down_until
    _down_until = time.monotonic() + settings.REPLICA_RETRY_SECONDS
    # Closing a connection to a server that is gone may fail in any way; it is dropped all the same.
    with contextlib.suppress(Exception):
        connections[REPLICA].close()


def using_replica() -> bool:
    return _reading_replica.get()


class ReplicaRouter:
    """Reads go to the replica inside a `replica_reads` view; everything else to the primary."""

    def db_for_read(self, model, **hints):
        return REPLICA if _reading_replica.get() else "default"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the same data on both

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"


def replica_reads(view):
    """Let `view` read from the replica (see the module's text for when it does not)."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not _available() or request.COOKIES.get(COOKIE):
            return view(request, *args, **kwargs)
        # Who is asking is read from the primary: a session just made (a login) may not be on the replica yet.
        user = getattr(request, "user", None)
        if user is not None:
            user.is_authenticated  # noqa: B018 (evaluates the lazy user now)
        _reading_replica.set(True)
        try:
            return view(request, *args, **kwargs)
        except OperationalError:
            if request.method not in ("GET", "HEAD"):
                raise
            _mark_down()
            _reading_replica.set(False)
            return view(request, *args, **kwargs)

    return wrapper


def _reset(**kwargs) -> None:
    _reading_replica.set(False)


request_started.connect(_reset, dispatch_uid="jianchama.core.replica.reset")


class ReadYourWritesMiddleware:
    """After a write, the same client reads the primary for a while (the replica may lag)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if configured() and request.method not in ("GET", "HEAD", "OPTIONS") and response.status_code < 500:
            response.set_cookie(
                COOKIE,
                "1",
                max_age=settings.READ_YOUR_WRITES_SECONDS,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )
        return response
