"""Errors of the API as RFC 9457 problem details (application/problem+json): a stable machine `type` per
kind of error, a Chinese `title` and `detail`, the HTTP `status`, and `errors` (one line per problem, with the
field where there is one). Installed on the one NinjaAPI by jianchama/api.py; nothing the API answers is a
bare 500 page."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import DataError
from django.http import Http404, HttpResponse
from ninja.errors import AuthenticationError, HttpError, ValidationError

from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied

logger = logging.getLogger(__name__)

PROBLEM_TYPE = "urn:jianchama:problem:"
CONTENT_TYPE = "application/problem+json"

TITLES = {
    "unauthorized": "未认证",
    "forbidden": "无权操作",
    "not-found": "对象不存在",
    "validation": "请求内容不符合接口要求",
    "refused": "业务规则不允许",
    "invalid-transition": "当前状态不允许该操作",
    "frequency-refused": "超出检查频次规则，不予提交",
    "frequency-justification-required": "超出检查频次规则，须说明理由",
    "idempotency-conflict": "幂等键已用于另一请求",
    "idempotency-in-progress": "同一幂等键的请求仍在处理中",
    "rate-limited": "请求过于频繁",
    "http": "请求无法处理",
    "internal": "服务器内部错误",
}


class RateLimited(Exception):
    """The client has used its calls of this minute (settings.API_RATE_LIMIT)."""


class Problem(Exception):
    """A problem raised by an operation itself (e.g. the frequency answer of a submission)."""

    def __init__(self, status: int, kind: str, detail: str, errors: list[dict] | None = None, **extra):
        super().__init__(detail)
        self.status, self.kind, self.detail, self.errors, self.extra = status, kind, detail, errors, extra


def problem(
    status: int, kind: str, detail: str, errors: list[dict] | None = None, **extra: Any
) -> HttpResponse:
    document: dict[str, Any] = {
        "type": PROBLEM_TYPE + kind,
        "title": TITLES.get(kind, TITLES["http"]),
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        document["errors"] = errors
    document.update(extra)
    response = HttpResponse(
        json.dumps(document, ensure_ascii=False, default=str), status=status, content_type=CONTENT_TYPE
    )
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="jianchama"'
    return response


def _location(loc) -> str:
    # ninja's locations start with where the value came from ("body", "query", "path", "form").
    return ".".join(str(part) for part in loc[1:] if part not in ("payload", "data")) or str(loc[0])


def install(api) -> None:
    """Problem details for every exception the API's operations may raise."""

    @api.exception_handler(ValidationError)
    def validation(request, exc: ValidationError):
        errors = [
            {
                "field": _location(error.get("loc", ())),
                "message": error.get("msg", ""),
                "code": error.get("type", ""),
            }
            for error in exc.errors
        ]
        lines = "；".join(f"{e['field']}：{e['message']}" for e in errors[:5])
        return problem(422, "validation", f"请求内容不符合接口要求，请按接口文档修正后重试：{lines}", errors)

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request, exc):
        return problem(
            401, "unauthorized", "缺少有效的接口密钥：请在 Authorization 头中以 Bearer 方式提供有效的密钥"
        )

    @api.exception_handler(RateLimited)
    def rate_limited(request, exc):
        response = problem(429, "rate-limited", "本接口客户端的调用次数已达上限，请稍后重试")
        response["Retry-After"] = "60"
        return response

    @api.exception_handler(PermissionDenied)
    def forbidden(request, exc: PermissionDenied):
        return problem(403, "forbidden", exc.message)

    @api.exception_handler(InvalidTransition)
    def invalid_transition(request, exc: InvalidTransition):
        return problem(409, "invalid-transition", exc.message)

    @api.exception_handler(DomainError)
    def refused(request, exc: DomainError):
        errors = [{"field": "", "message": line} for line in exc.problems or [exc.message]]
        return problem(422, "refused", exc.message, errors)

    @api.exception_handler(Problem)
    def raised(request, exc: Problem):
        return problem(exc.status, exc.kind, exc.detail, exc.errors, **exc.extra)

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return problem(404, "not-found", str(exc) or "对象不存在，或不在本单位的范围内")

    @api.exception_handler(ObjectDoesNotExist)
    def does_not_exist(request, exc):
        return problem(404, "not-found", "对象不存在，或不在本单位的范围内")

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        if exc.status_code == 400:  # ninja's "Cannot parse request body": malformed JSON or form
            return problem(
                422,
                "validation",
                "请求体无法解析：请发送有效的 JSON（Content-Type: application/json）或按文档的表单格式",
            )
        kind = {401: "unauthorized", 403: "forbidden", 404: "not-found", 422: "validation"}.get(
            exc.status_code, "http"
        )
        return problem(exc.status_code, kind, str(exc.message) if hasattr(exc, "message") else str(exc))

    @api.exception_handler(DataError)
    def out_of_range(request, exc):
        # As core.middleware.OutOfRangeInputMiddleware for the pages: the input, not the server; the
        # transaction it broke has rolled back.
        logger.warning("接口输入超出范围：%s %s", request.method, request.path, exc_info=exc)
        return problem(422, "validation", "请求中的数值或时间超出可接受的范围，请核对后重试")

    @api.exception_handler(OverflowError)
    def overflow(request, exc):
        return problem(422, "validation", "请求中的数值或时间超出可接受的范围，请核对后重试")

    @api.exception_handler(Exception)
    def internal(request, exc: Exception):
        logger.exception("接口请求出错：%s %s", request.method, request.path)
        return problem(500, "internal", "服务器处理请求时出错，本次操作未保存；请稍后重试，或联系平台运维")
