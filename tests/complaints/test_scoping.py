"""Who sees which complaints (`Complaint.objects.visible_to`)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from jianchama.complaints.models import Complaint
from jianchama.core.roles import Role
from jianchama.inspections import services as inspections
from jianchama.inspections.models import Scan
from tests.factories import user_for

pytestmark = pytest.mark.django_db

SRC = Complaint.Source


def seen(user) -> set[str]:
    return set(Complaint.objects.visible_to(user).values_list("title", flat=True))


def test_each_role_sees_its_own(s):
    s.hotline(title="金山交办", body=s.body, enterprise=s.enterprise)
    s.assigned(title="金山已交办")
    s.hotline(s.mh_intake, title="闵行", body=s.other_body)
    s.hotline(title="只涉企业", body=None, enterprise=s.enterprise)
    s.hotline(s.observer, source=SRC.OBSERVER, title="观察", body=None)
    s.hotline(s.contact, source=SRC.PORTAL, title="企业投诉", body=None)
    s.hotline(s.other_contact, source=SRC.PORTAL, title="另一企业投诉", body=None)
    forged = Scan.objects.create(scanned_at=timezone.now(), outcome=Scan.Outcome.FORGED, client_hash="x")
    inspections.report_code(scan=forged, description="匿名扫码")

    jinshan = {
        "金山交办",
        "金山已交办",
        "只涉企业",
        "观察",
        "企业投诉",
        "另一企业投诉",
        "扫码举报：检查码验证失败（疑似伪造）",
    }
    assert seen(s.intake) == jinshan
    assert seen(s.supervisor) == jinshan
    assert seen(s.government) == jinshan
    # Minhang's staff see Minhang's and the report that names no place.
    assert seen(s.mh_intake) == {"闵行", "扫码举报：检查码验证失败（疑似伪造）"}
    assert seen(s.head) == {"金山已交办"}  # assigned to its body, not one still being sorted out
    assert seen(s.other_head) == set()
    assert seen(s.contact) == {"金山交办", "只涉企业", "企业投诉"}
    assert seen(s.other_contact) == {"另一企业投诉"}
    assert seen(s.observer) == {"观察"}
    assert seen(s.inspector_user) == set() and seen(s.city_reviewer) == set()
    assert len(seen(user_for(Role.PLATFORM_ADMIN))) == 8


def test_anonymous_sees_nothing(s):
    from django.contrib.auth.models import AnonymousUser

    s.hotline()
    assert not Complaint.objects.visible_to(AnonymousUser()).exists()
