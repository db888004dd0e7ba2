"""The public keys of inspection codes as a JWKS (F-22), for any system that verifies codes itself."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from ..signing import jwks


@require_GET
def jwks_view(request: HttpRequest) -> JsonResponse:
    # Verifiers may cache for 5 minutes: a new key is published at rotation and old ones stay for the
    # retention period, so a cached copy never misses a key in use for longer than that.
    response = JsonResponse(jwks(), content_type="application/jwk-set+json")
    response["Cache-Control"] = "public, max-age=300"
    # Public keys are public: a verifier running in another site's browser page may fetch them.
    response["Access-Control-Allow-Origin"] = "*"
    return response
