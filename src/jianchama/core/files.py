"""Stored files (evidence, inspector photos, the supervision letters and reports): how they are named on disk
and how they are sent.

The media folder is never served as such. Each file is served by a view of its owner's app that finds the
owner through `visible_to(request.user)` (out of scope is a 404, as for an id that does not exist) and then
calls `send`, which hands the file to django-sendfile2: in development and tests the `simple` backend reads it
in Django; in production the `nginx` backend answers with X-Accel-Redirect and nginx sends it from an
`internal` location (README, Production). Files are stored under random names (`RandomName`), so a name
cannot be guessed from a letter's number or an upload's original name; the original name is kept on the
model and given back in Content-Disposition.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import mimetypes
import os
import uuid
from pathlib import PurePosixPath

from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.http import content_disposition_header
from django_sendfile import sendfile

# Extensions kept on a stored name (what the uploads accept); anything else is stored without one.
SAFE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".webp", ".pdf", ".mp3", ".m4a", ".mp4", ".docx", ".xlsx"}
)
# Shown in the browser; everything else is downloaded. Not SVG or HTML: those could run script.
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf"})


@deconstructible
class RandomName:
    """An `upload_to` that stores a file as `<prefix>/<32 hex>.<ext>`: the prefix may hold strftime fields
    (e.g. "evidence/%Y/%m/"), the extension is kept only if it is one of SAFE_EXTENSIONS."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def __call__(self, instance, filename: str) -> str:
        extension = os.path.splitext(filename or "")[1].lower()
        if extension not in SAFE_EXTENSIONS:
            extension = ""
        return f"{timezone.now().strftime(self.prefix)}{uuid.uuid4().hex}{extension}"

    def __eq__(self, other) -> bool:
        return isinstance(other, RandomName) and other.prefix == self.prefix


def original_name(field: FieldFile, kept: str = "") -> str:
    """The name to download a file under: the one kept on the model, or for files stored before names were
    random (stored under their original name) the stored name's last part."""
    return kept or PurePosixPath(field.name or "").name


def send(request, field: FieldFile, name: str) -> HttpResponse:
    """The response that sends a stored file, for a view that has already checked its owner's scope. A
    missing file is a 404. Images and PDF are shown inline, anything else downloaded; `name` goes into
    Content-Disposition (RFC 5987 for Chinese names)."""
    if not field or not field.name:
        raise Http404
    try:
        path = field.path
    except (NotImplementedError, ValueError) as error:  # not on the local file system
        raise Http404 from error
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    response = sendfile(request, path, mimetype=content_type)
    response["Content-Disposition"] = content_disposition_header(content_type not in INLINE_TYPES, name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    if response.has_header("X-Accel-Redirect"):
        # nginx sends the body and its length; an upstream answer that announces the file's length but
        # carries nothing would keep its keep-alive connection from being reused.
        del response["Content-Length"]
    return response


# --- No file without its row -------------------------------------------------------------------------------

_stored = contextvars.ContextVar("jianchama_stored_files", default=None)


def track(field_file: FieldFile) -> None:
    """Note a file just written to storage inside a `removed_unless_committed` service, so that it is deleted
    again if the service's transaction does not commit."""
    stored = _stored.get()
    if stored is not None and field_file:
        stored.append((field_file.storage, field_file.name))


def removed_unless_committed(service):
    """A service that writes files: its transaction (this decorator opens it, as `transaction.atomic` would),
    and the files it `track`s deleted again when the transaction rolls back or its commit fails (the database
    gone midway, a refusal after the file was written). So no file stays on disk without its row; a number
    the rolled-back transaction drew is not consumed either (the counters are rows of the same transaction).
    Called inside another such service, its files are handed to the outer one once its own savepoint is
    released; inside a bare outer transaction, it covers what happens up to its own savepoint."""

    @functools.wraps(service)
    def wrapper(*args, **kwargs):
        outer = _stored.get()
        stored: list = []
        token = _stored.set(stored)
        try:
            with transaction.atomic():
                result = service(*args, **kwargs)
        except BaseException:
            for storage, name in stored:
                with contextlib.suppress(Exception):
                    storage.delete(name)
            raise
        finally:
            _stored.reset(token)
        if outer is not None:
            outer.extend(stored)  # an outer service's transaction may still roll them back
        return result

    return wrapper
