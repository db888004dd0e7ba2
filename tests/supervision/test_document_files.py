# ruff: noqa: F811  (the `world` fixture is imported from the shared module)
"""The letters (recommendation and decision PDFs) and the body's rectification report are served only by
the views that check the letter's scope (issue 10, item 2): never from the media folder, stored under random
names (not the letter's number, not the uploaded name), downloaded under their number or original name. The
development URL configuration (DEBUG=1, the default) is used: it used to serve /media/ to anyone."""

from __future__ import annotations

import io
import re
from pathlib import PurePosixPath
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from jianchama.supervision import steps
from jianchama.supervision.models import Recommendation
from tests.supervision._steps_world import escalated, recommended, world  # noqa: F401

REPORT = "金山区建管委整改报告（2026）.pdf"
RANDOM = re.compile(r"[0-9a-f]{32}\.pdf")


@pytest.fixture
def w(world, debug_urls):
    return world


def client_for(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def reported(w) -> Recommendation:
    rec = recommended(w)
    upload = SimpleUploadedFile(REPORT, b"%PDF-1.4\n%the report\n", content_type="application/pdf")
    return steps.submit_rectification_report(w.head, recommendation=rec, text="已整改", file=upload)


def decided(w):
    rec = escalated(w)
    return steps.issue_decision(
        w.government,
        recommendation=rec,
        facts="逾期未整改",
        legal_basis="《上海市行政执法监督办法》",
        demanded="立即整改",
        deadline_working_days=10,
        measures=[],
    )


def test_a_letter_is_not_served_from_the_media_folder(w):
    rec = reported(w)
    for field in (rec.document, rec.report_file):
        assert field.storage.exists(field.name)
        response = client_for().get(f"/media/{field.name}")
        assert response.status_code == 404 and b"%PDF-" not in response.getvalue()
        # Nor to a user in scope: the folder itself is never served.
        assert client_for(w.supervisor).get(f"/media/{field.name}").status_code == 404


def test_stored_names_are_random_not_the_number_or_the_uploaded_name(w):
    rec = reported(w)
    for field in (rec.document, rec.report_file):
        name = PurePosixPath(field.name).name
        assert RANDOM.fullmatch(name), field.name
        assert rec.number not in field.name and "整改报告" not in field.name
    assert rec.report_file_name == REPORT


def test_the_decision_pdf_is_stored_under_a_random_name(w):
    decision = decided(w)
    assert RANDOM.fullmatch(PurePosixPath(decision.document.name).name), decision.document.name
    assert decision.number not in decision.document.name
    url = reverse("supervision:decision_pdf", args=[decision.pk])
    response = client_for(w.government).get(url)
    assert response.getvalue().startswith(b"%PDF-")
    assert response["Content-Disposition"] == f"inline; filename*=utf-8''{quote(decision.number + '.pdf')}"
    assert client_for(w.mh_government).get(url).status_code == 404


@pytest.mark.parametrize("who", ["supervisor", "head", "government"])
def test_the_report_and_the_letter_go_to_the_owner_body_and_the_supervisor(w, who):
    rec = reported(w)
    client = client_for(getattr(w, who))
    report = client.get(reverse("supervision:recommendation_report_file", args=[rec.pk]))
    assert report.status_code == 200 and report.getvalue() == b"%PDF-1.4\n%the report\n"
    assert report["Content-Type"] == "application/pdf"
    assert report["Content-Disposition"] == f"inline; filename*=utf-8''{quote(REPORT)}"
    assert report["X-Content-Type-Options"] == "nosniff"
    letter = client.get(reverse("supervision:recommendation_pdf", args=[rec.pk]))
    assert letter.getvalue().startswith(b"%PDF-")
    assert letter["Content-Disposition"] == f"inline; filename*=utf-8''{quote(rec.number + '.pdf')}"


@pytest.mark.parametrize("who", ["partner_head", "other_head", "mh_supervisor", "inspector_user", "contact"])
def test_out_of_scope_gets_404(w, who):
    rec = reported(w)
    client = client_for(getattr(w, who))
    for name in ("recommendation_report_file", "recommendation_pdf"):
        response = client.get(reverse(f"supervision:{name}", args=[rec.pk]))
        assert response.status_code == 404 and b"%PDF-" not in response.getvalue()


def test_a_report_stored_before_random_names_is_downloaded_under_its_stored_name(w):
    rec = reported(w)
    old = rec.report_file.storage.save("supervision/reports/2025/06/旧整改报告.pdf", io.BytesIO(b"%PDF-old"))
    Recommendation.objects.filter(pk=rec.pk).update(report_file=old, report_file_name="")
    report = client_for(w.supervisor).get(reverse("supervision:recommendation_report_file", args=[rec.pk]))
    assert report.getvalue() == b"%PDF-old"
    assert report["Content-Disposition"] == f"inline; filename*=utf-8''{quote('旧整改报告.pdf')}"
