"""Idempotency of the API's POSTs (`Idempotency-Key`): the first successful answer for a client's key is
stored with a hash of the request, and the same key with the same request within `API_IDEMPOTENCY_HOURS`
gets that answer again (header `Idempotent-Replayed: true`) without running anything; the same key with
another request is 409. A refused request (4xx) is not stored: the client corrects it and may retry with the
same key. While the first request runs, a second with its key is 409 too, so a retry after a timeout never
makes two tasks."""

from __future__ import annotations

import datetime
import hashlib

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone

from .auth import client_of
from .models import IdempotentRequest
from .problems import problem

API_PREFIX = "/api/v1/"
MAX_KEY_LENGTH = 200
IN_PROGRESS = 0


def request_hash(request) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    if request.content_type == "multipart/form-data":
        for name in sorted(request.POST):
            for value in request.POST.getlist(name):
                digest.update(f"{name}={value}\n".encode())
        for name in sorted(request.FILES):
            for upload in request.FILES.getlist(name):
                digest.update(f"{name}:{upload.name}:{upload.size}:".encode())
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
    else:
        digest.update(request.body)
    return digest.hexdigest()


def _claim(client_id: int, key: str, fingerprint: str) -> int | None:
    """Mark the key as in progress for the client, in one statement that a taken key does not fail (no
    transaction, savepoint or exception on the hot path): the new row's id, or None when the key is taken."""
    meta, quote = IdempotentRequest._meta, connection.ops.quote_name
    values = {
        "client_id": client_id,
        "key": key,
        "request_hash": fingerprint,
        "status": IN_PROGRESS,
        "content_type": "",
        "body": b"",
        "created_at": timezone.now(),
    }
    params = [meta.get_field(name).get_db_prep_save(value, connection) for name, value in values.items()]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(name) for name in values)}) "
            f"VALUES ({', '.join(['%s'] * len(values))}) "
            f"ON CONFLICT ({quote('client_id')}, {quote('key')}) DO NOTHING RETURNING {quote('id')}",
            params,
        )
        row = cursor.fetchone()
    return row[0] if row else None


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.headers.get("Idempotency-Key")
        if key is None or request.method != "POST" or not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        client = client_of(request)
        if client is None:
            return self.get_response(request)  # the operation answers 401
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            return problem(422, "validation", f"Idempotency-Key 须为 1 至 {MAX_KEY_LENGTH} 个可打印字符")
        fingerprint = request_hash(request)
        record_id = _claim(client.pk, key, fingerprint)
        if record_id is None:
            first = IdempotentRequest.objects.filter(client=client, key=key).first()
            stale = timezone.now() - datetime.timedelta(hours=settings.API_IDEMPOTENCY_HOURS)
            if first is not None and first.created_at < stale:
                # An answer older than the replay period: the key is free again (the hourly job removes
                # the rest), so this request runs as new.
                IdempotentRequest.objects.filter(pk=first.pk, created_at__lt=stale).delete()
                record_id = _claim(client.pk, key, fingerprint)
                first = None
        if record_id is None:
            if first is None:  # removed meanwhile: a refused first request; try again as new
                return problem(409, "idempotency-in-progress", "同一幂等键的请求刚刚结束，请重试")
            if first.request_hash != fingerprint:
                return problem(
                    409,
                    "idempotency-conflict",
                    f"幂等键「{key[:50]}」已用于另一内容的请求；新的请求请使用新的幂等键",
                )
            if first.status == IN_PROGRESS:
                return problem(409, "idempotency-in-progress", "使用同一幂等键的请求仍在处理中，请稍后重试")
            replay = HttpResponse(bytes(first.body), status=first.status, content_type=first.content_type)
            replay["Idempotent-Replayed"] = "true"
            return replay
        try:
            response = self.get_response(request)
        except BaseException:
            IdempotentRequest.objects.filter(pk=record_id).delete()
            raise
        if 200 <= response.status_code < 300 and not response.streaming:
            IdempotentRequest.objects.filter(pk=record_id).update(
                status=response.status_code,
                content_type=response.get("Content-Type", "application/json"),
                body=response.content,
            )
        else:
            IdempotentRequest.objects.filter(pk=record_id).delete()
        return response
