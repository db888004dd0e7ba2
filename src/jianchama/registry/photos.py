"""Inspector photos: who may see one, and the signed links the public scan page gives out.

Staff see a photo where they may see the inspector (`Inspector.objects.visible_to`). The public sees it only
on the scan page of a genuine code (F-24: the enterprise checks the face against the person at the door).
That page cannot link to an id, or anyone could walk through every inspector's photo; it links to a key
signed with SECRET_KEY that names the inspector and the photo it was made for and expires after
SCAN_PHOTO_URL_SECONDS. So a photo reaches the public only through a scan that was genuine when made, a
replaced photo's old links die at once, and a link copied from a page stops working within the hour.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from django.conf import settings
from django.core import signing
from django.urls import reverse

if TYPE_CHECKING:
    from .models import Inspector

SALT = "jianchama.registry.inspector_photo"


def _fingerprint(photo_name: str) -> str:
    return hashlib.sha256(photo_name.encode()).hexdigest()[:16]


def public_key(inspector_pk: int, photo_name: str) -> str:
    return signing.TimestampSigner(salt=SALT).sign(f"{inspector_pk}.{_fingerprint(photo_name)}")


def public_url(inspector_pk: int, photo_name: str) -> str:
    return reverse("portal:inspector_photo", args=[public_key(inspector_pk, photo_name)])


def inspector_for_key(key: str, inspectors) -> Inspector | None:
    """The inspector (of the queryset `inspectors`) a key was signed for, if it is genuine, not expired and
    its photo has not been replaced since; else None."""
    try:
        value = signing.TimestampSigner(salt=SALT).unsign(key, max_age=settings.SCAN_PHOTO_URL_SECONDS)
    except signing.BadSignature:
        return None
    pk, _, fingerprint = value.partition(".")
    if not pk.isdigit():
        return None
    inspector = inspectors.filter(pk=int(pk)).exclude(photo="").first()
    if inspector is None or _fingerprint(inspector.photo.name) != fingerprint:
        return None
    return inspector
