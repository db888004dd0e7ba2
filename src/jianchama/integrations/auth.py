"""Bearer authentication of API clients, with the per-client rate limit."""

from __future__ import annotations

from django.conf import settings
from django_ratelimit.core import get_usage
from ninja.security import HttpBearer

from . import services
from .problems import RateLimited


def client_address(request) -> str:
    key = settings.RATELIMIT_IP_META_KEY or "REMOTE_ADDR"
    return request.META.get(key, "").split(",")[0].strip()


def client_of(request):
    """The authenticated client of the request (once per request, shared with the idempotency middleware)."""
    if not hasattr(request, "api_client"):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        client = None
        if scheme.lower() == "bearer" and token.strip():
            client = services.authenticate(token.strip(), address=client_address(request))
        request.api_client = client
    return request.api_client


class ClientBearer(HttpBearer):
    def authenticate(self, request, token):
        client = client_of(request)
        if client is None:
            return None
        usage = get_usage(
            request,
            group="api-client",
            key=lambda group, request: f"client-{client.pk}",
            rate=settings.API_RATE_LIMIT,
            increment=True,
        )
        if usage and usage["should_limit"]:
            raise RateLimited()
        # Services and visible_to see the client's service user: a body administrator of its body.
        request.user = client.service_user
        return client
