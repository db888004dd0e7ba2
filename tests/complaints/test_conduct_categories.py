"""Seed 003 二（一）4: supervision checks that inspections keep "the five prohibitions and the eight don'ts"
(“五个严禁”“八个不得”) — so a complaint can be filed under each of them, from their one source."""

from __future__ import annotations

import pytest
from django.utils import timezone

from jianchama.complaints.models import Complaint
from jianchama.core import conduct

pytestmark = pytest.mark.django_db


def test_the_lists_are_five_and_eight_each_dont_spelling_out_a_prohibition():
    assert len(conduct.FIVE_PROHIBITIONS) == 5 and len(conduct.EIGHT_DONTS) == 8
    assert all(p.text.startswith("严禁") for p in conduct.FIVE_PROHIBITIONS)
    assert all(d.text.startswith("不得") for d in conduct.EIGHT_DONTS)
    codes = {p.code for p in conduct.FIVE_PROHIBITIONS}
    assert {d.prohibition for d in conduct.EIGHT_DONTS} == codes  # every 严禁 is spelled out by a 不得
    assert sum(len(donts) for _, donts in conduct.grouped()) == 8
    assert sum(i["max"] for i in conduct.observation_score_items()) == 100


def test_every_prohibition_and_dont_is_a_complaint_category_and_old_values_stay_valid():
    values = set(Complaint.Category.values)
    assert {r.code for r in conduct.FIVE_PROHIBITIONS + conduct.EIGHT_DONTS} <= values
    # Values stored before the lists had one source still mean what they meant.
    for old in ("profit_seeking", "disturbing_business", "arbitrary_penalty", "inspection_quota"):
        assert old in values
    for old in (
        "disguised_inspection",
        "repeated_inspection",
        "no_code",
        "unqualified",
        "misconduct",
        "other",
    ):
        assert old in values
    field = Complaint._meta.get_field("category")
    assert all(len(v) <= field.max_length for v in values)


def test_intake_files_a_complaint_under_a_dont_and_the_ledger_shows_it(client, s):
    client.force_login(s.intake)
    page = client.get("/complaints/new/").content.decode()
    assert "刻意要求法定代表人到场（不得）" in page and "逐利检查（严禁）" in page
    response = client.post(
        "/complaints/new/",
        {
            "source": Complaint.Source.HOTLINE_12345,
            "category": "dont_summon_legal_rep",
            "title": "检查时要求法定代表人必须到场",
            "content": "执法人员坚持要求法定代表人从外地赶回",
            "complainant_name": "王先生",
            "complainant_phone": "021-57000000",
            "received_on": timezone.localdate().isoformat(),
            "enterprise": s.enterprise.uscc,
            "complainant_is_enterprise": "on",
            "body": s.body.pk,
            "task": "",
        },
    )
    assert response.status_code == 302
    complaint = Complaint.objects.get()
    assert complaint.category == "dont_summon_legal_rep"
    assert "刻意要求法定代表人到场（不得）" in client.get(response.url).content.decode()
