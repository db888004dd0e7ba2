"""Who sees who complained (issue 10, item 10): the intake desk and supervisors; not the body complained
about, nor the district government (on the page, in the ledger's search, in the export, in the timeline)."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from jianchama.core.roles import Role
from tests.factories import user_for

pytestmark = pytest.mark.django_db

NAME, PHONE = "王先生", "13911112222"  # tests/complaints/conftest.py


def export_text(client) -> str:
    response = client.get("/complaints/export.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.getvalue())).active
    return "\n".join(
        " ".join(str(v) for v in row if v is not None) for row in sheet.iter_rows(values_only=True)
    )


def test_the_body_complained_about_does_not_see_the_complainant(client, s):
    complaint = s.handled()
    for user in (s.head, s.government):
        client.force_login(user)
        page = client.get(f"/complaints/{complaint.pk}/").content.decode()
        assert complaint.title in page  # the complaint itself is shown
        assert NAME not in page and PHONE not in page
        assert "投诉人信息仅受理和监督人员可见" in page
        ledger = client.get("/complaints/").content.decode()
        assert complaint.number in ledger and NAME not in ledger and PHONE not in ledger
        exported = export_text(client)
        assert complaint.number in exported
        assert NAME not in exported and PHONE not in exported
        # The ledger's search does not match on the complainant's name: no yes/no oracle either.
        searched = client.get("/complaints/", {"q": NAME}).content.decode()
        assert complaint.number not in searched


def test_the_intake_desk_and_supervisors_see_the_complainant(client, s):
    complaint = s.handled()
    supervisor = user_for(Role.SUPERVISOR, region=s.jinshan)
    for user in (s.intake, supervisor):
        client.force_login(user)
        page = client.get(f"/complaints/{complaint.pk}/").content.decode()
        assert NAME in page and PHONE in page
        exported = export_text(client)
        assert NAME in exported and PHONE in exported
        assert complaint.number in client.get("/complaints/", {"q": NAME}).content.decode()
