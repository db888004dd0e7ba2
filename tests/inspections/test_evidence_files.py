"""Evidence files are served only through a view that checks the task's scope (issue 10, item 2): never from
the media folder, under a random storage name, with the original name in Content-Disposition. The
development URL configuration (DEBUG=1, the default) is used throughout: it used to serve /media/ to
anyone."""

from __future__ import annotations

import io
import re
from pathlib import PurePosixPath
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_sendfile.utils import _get_sendfile
from PIL import Image

from jianchama.inspections import services
from jianchama.inspections.models import Evidence, InspectionRecord
from tests.inspections.conftest import build_scenario

NAME = "现场照片（燃气表）.png"


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 120, 30)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def s(db, debug_urls):
    return build_scenario()


def with_evidence(s, name: str = NAME, content: bytes | None = None):
    task = s.in_progress()
    upload = SimpleUploadedFile(name, content or png_bytes(), content_type="image/png")
    services.record_result(
        s.inspector_user,
        task=task,
        outcome=InspectionRecord.Outcome.NO_PROBLEM,
        summary="现场检查未发现问题",
        findings=s.findings(task),
        evidence=[services.EvidenceInput("photo", upload)],
    )
    return task, Evidence.objects.get(record__task=task)


def link_on_task_page(client, user, task, name: str = NAME) -> str:
    client.force_login(user)
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    [href] = re.findall(rf'<a href="([^"]+)">{re.escape(name)}</a>', page)
    client.logout()
    return href


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_media_folder_is_not_served(client, s):
    _task, evidence = with_evidence(s)
    assert evidence.file.storage.exists(evidence.file.name)
    response = client.get(f"/media/{evidence.file.name}")
    assert response.status_code == 404 and png_bytes() not in body_of(response)


def test_the_stored_name_is_random_and_the_original_name_is_kept(s):
    _, evidence = with_evidence(s)
    stored = PurePosixPath(evidence.file.name)
    assert "现场照片" not in evidence.file.name and "燃气表" not in evidence.file.name
    assert re.fullmatch(r"[0-9a-f]{32}\.png", stored.name), stored.name
    assert stored.parts[0] == "evidence"
    assert evidence.original_name == NAME


@pytest.mark.parametrize("who", ["inspector_user", "head", "supervisor", "contact"])
def test_the_task_pages_link_gives_the_file_with_its_chinese_name(client, s, who):
    task, _evidence = with_evidence(s)
    href = link_on_task_page(client, s.head, task)
    assert not href.startswith("/media/")
    client.force_login(getattr(s, who))
    response = client.get(href)
    assert response.status_code == 200
    assert body_of(response) == png_bytes()
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == f"inline; filename*=utf-8''{quote(NAME)}"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "who", ["other_head", "other_inspector_user", "partner_head", "mh_supervisor", "other_contact"]
)
def test_out_of_scope_gets_404_for_the_same_link(client, s, who):
    """The Minhang body's administrator (and anyone else who cannot see the task) is told nothing: the
    same 404 as for an id that does not exist."""
    task, evidence = with_evidence(s)
    href = link_on_task_page(client, s.head, task)
    client.force_login(getattr(s, who))
    response = client.get(href)
    assert response.status_code == 404 and png_bytes() not in body_of(response)
    missing = client.get(href.replace(f"/{evidence.pk}/", f"/{evidence.pk + 1000}/"))
    assert missing.status_code == 404


def test_anonymous_is_sent_to_the_login_page(client, s):
    task, _ = with_evidence(s)
    href = link_on_task_page(client, s.head, task)
    response = client.get(href)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_document_that_is_not_an_image_or_pdf_is_an_attachment(client, s):
    audio = b"ID3\x03\x00\x00\x00\x00\x00\x00 a recording"
    task = s.in_progress()
    upload = SimpleUploadedFile("询问录音.mp3", audio, content_type="audio/mpeg")
    services.record_result(
        s.inspector_user,
        task=task,
        outcome=InspectionRecord.Outcome.NO_PROBLEM,
        summary="现场检查未发现问题",
        findings=s.findings(task),
        evidence=[services.EvidenceInput("audio", upload)],
    )
    href = link_on_task_page(client, s.head, task, "询问录音.mp3")
    client.force_login(s.head)
    response = client.get(href)
    assert body_of(response) == audio
    assert response["Content-Disposition"] == f"attachment; filename*=utf-8''{quote('询问录音.mp3')}"


def test_an_evidence_row_stored_before_random_names_is_still_served(client, s):
    """Rows stored under their original name (before this change) keep working; nothing is moved."""
    task, evidence = with_evidence(s)
    old_name = evidence.file.storage.save("evidence/2025/06/旧的现场照片.png", io.BytesIO(b"\x89PNG old"))
    Evidence.objects.filter(pk=evidence.pk).update(file=old_name)
    href = link_on_task_page(client, s.head, task)
    client.force_login(s.supervisor)
    response = client.get(href)
    assert body_of(response) == b"\x89PNG old"
    assert quote(NAME) in response["Content-Disposition"]


def test_a_row_whose_file_is_gone_is_a_404_not_an_error(client, s):
    task, evidence = with_evidence(s)
    href = link_on_task_page(client, s.head, task)
    evidence.file.storage.delete(evidence.file.name)
    client.force_login(s.head)
    assert client.get(href).status_code == 404


@pytest.fixture
def nginx(settings):
    settings.SENDFILE_BACKEND = "django_sendfile.backends.nginx"
    settings.SENDFILE_URL = "/protected-media"
    settings.SENDFILE_ROOT = settings.MEDIA_ROOT
    _get_sendfile.cache_clear()
    yield
    _get_sendfile.cache_clear()


def test_with_the_nginx_backend_the_web_server_sends_the_file(client, s, settings, nginx):
    task, evidence = with_evidence(s)
    href = link_on_task_page(client, s.head, task)
    client.force_login(s.head)
    response = client.get(href)
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/protected-media/{evidence.file.name}"
    assert body_of(response) == b"" and response.get("Content-Length", "0") == "0"
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == f"inline; filename*=utf-8''{quote(NAME)}"
    client.force_login(s.other_head)
    refused = client.get(href)
    assert refused.status_code == 404 and not refused.has_header("X-Accel-Redirect")
