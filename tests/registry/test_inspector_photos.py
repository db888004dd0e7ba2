"""Inspector photos (issue 10, item 2). Staff see a photo where they may see the inspector; the public sees
it only through the scan page of a genuine code, by a signed link that expires (SCAN_PHOTO_URL_SECONDS), so
nobody can walk through every inspector's photo by id. Never from the media folder; random storage names.
The development URL configuration (DEBUG=1, the default) is used: it used to serve /media/ to anyone."""

from __future__ import annotations

import io
import re
import time
from pathlib import PurePosixPath

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signing import TimestampSigner, b62_encode
from django.test import Client
from PIL import Image

from jianchama.core.roles import Role
from jianchama.inspections import signing
from jianchama.registry import services
from jianchama.registry.models import Inspector
from tests.factories import user_for
from tests.inspections.conftest import build_scenario

PHOTO_NAME = "张三 证件照.png"


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (6, 8), (10, 20, 200)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def s(db, debug_urls):
    s = build_scenario()
    upload = SimpleUploadedFile(PHOTO_NAME, png_bytes(), content_type="image/png")
    s.inspector = services.update_inspector(s.head, inspector=s.inspector, photo=upload)
    return s


def client_for(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def img_src(page: str, alt: str = "张三的照片") -> str:
    [src] = re.findall(rf'<img src="([^"]+)" alt="{alt}"', page)
    return src.replace("&amp;", "&")


def scan_page(task) -> str:
    return client_for().get("/C/" + signing.issue_token(task.code.public_id)).content.decode()


def test_the_photo_is_stored_under_a_random_name_and_not_served_from_the_media_folder(s):
    photo = s.inspector.photo
    assert re.fullmatch(r"[0-9a-f]{32}\.png", PurePosixPath(photo.name).name), photo.name
    assert "张三" not in photo.name
    assert s.inspector.photo_name == PHOTO_NAME
    assert photo.storage.exists(photo.name)
    assert client_for().get(f"/media/{photo.name}").status_code == 404


def test_the_scan_page_shows_the_photo_to_anyone_holding_a_genuine_code(s):
    task = s.notified()
    src = img_src(scan_page(task))
    assert not src.startswith("/media/")
    response = client_for().get(src)
    assert response.status_code == 200 and response.getvalue() == png_bytes()
    assert response["Content-Type"] == "image/png" and response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline;")


def key_of(src: str) -> str:
    return src.rstrip("/").rsplit("/", 1)[1]


def test_a_photo_link_expires_and_cannot_be_forged_or_moved_to_another_inspector(s, settings):
    from jianchama.registry import photos

    settings.SCAN_PHOTO_URL_SECONDS = 3600
    task = s.notified()
    src = img_src(scan_page(task))
    assert client_for().get(src).status_code == 200
    key = key_of(src)
    value = key.rsplit(":", 2)[0]
    assert value.startswith(f"{s.inspector.pk}.")
    # The same link, signed two hours ago.
    old = TimestampSigner(salt=photos.SALT)
    old.timestamp = lambda: b62_encode(int(time.time()) - 7200)
    assert client_for().get(src.replace(key, old.sign(value))).status_code == 404
    # Another inspector's id under this signature, a mangled signature, no signature: 404.
    other = key.replace(f"{s.inspector.pk}.", f"{s.inspector2.pk}.", 1)
    for bad in (other, key[:-2] + "xx", value, "1", "%2e%2e"):
        assert client_for().get(src.replace(key, bad)).status_code == 404, bad


def test_a_replaced_photo_makes_the_old_link_dead(s):
    task = s.notified()
    src = img_src(scan_page(task))
    upload = SimpleUploadedFile("新照片.png", png_bytes(), content_type="image/png")
    services.update_inspector(s.head, inspector=Inspector.objects.get(pk=s.inspector.pk), photo=upload)
    assert client_for().get(src).status_code == 404


def test_staff_see_the_photo_where_they_may_see_the_inspector(s):
    page = client_for(s.head).get(f"/registry/inspectors/{s.inspector.pk}/").content.decode()
    src = img_src(page)
    assert not src.startswith("/media/")
    for user in (s.head, s.inspector_user, s.supervisor):
        response = client_for(user).get(src)
        assert response.status_code == 200 and response.getvalue() == png_bytes()
    for user in (s.other_head, s.partner_head, s.mh_supervisor, s.contact):
        response = client_for(user).get(src)
        assert response.status_code == 404 and response.getvalue() != png_bytes()
    assert client_for().get(src).status_code == 302  # to the login page


def test_the_admin_links_to_the_photo_view_not_the_media_folder(s):
    admin = user_for(Role.PLATFORM_ADMIN, is_staff=True, is_superuser=True)
    page = client_for(admin).get(f"/admin/registry/inspector/{s.inspector.pk}/change/").content.decode()
    assert f'href="/registry/inspectors/{s.inspector.pk}/photo/"' in page and PHOTO_NAME in page
    assert "/media/" not in page
