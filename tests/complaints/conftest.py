"""The inspection scenario of tests/inspections, plus the complaint side's people."""

from __future__ import annotations

import pytest

from jianchama.complaints import services
from jianchama.complaints.models import Complaint
from jianchama.core.roles import Role
from tests.factories import user_for
from tests.inspections.conftest import build_scenario


def complaint_scenario():
    s = build_scenario()
    s.intake = user_for(Role.COMPLAINT_INTAKE, region=s.jinshan, full_name="金山受理员")
    s.mh_intake = user_for(Role.COMPLAINT_INTAKE, region=s.minhang, full_name="闵行受理员")
    s.government = user_for(Role.DISTRICT_GOVERNMENT, region=s.jinshan)
    s.head2 = user_for(Role.BODY_ADMIN, body=s.body, full_name="金山建管委副职")

    def hotline(actor=None, **overrides) -> Complaint:
        args = {
            "source": Complaint.Source.HOTLINE_12345,
            "category": Complaint.Category.DISTURBING_BUSINESS,
            "title": "检查时间过长影响营业",
            "content": "执法人员在营业高峰检查三小时",
            "complainant_name": "王先生",
            "complainant_phone": "13911112222",
            "body": s.body,
        }
        return services.register_complaint(actor or s.intake, **{**args, **overrides})

    def assigned(complaint=None, **overrides) -> Complaint:
        complaint = complaint or hotline(**overrides)
        return services.assign_complaint(s.intake, complaint=complaint, body=s.body)

    def handled(complaint=None, **overrides) -> Complaint:
        complaint = assigned(complaint, **overrides)
        return services.record_handling(s.head, complaint=complaint, result="已约谈检查人员，调整检查时间")

    s.hotline, s.assigned, s.handled = hotline, assigned, handled
    return s


@pytest.fixture
def s(db):
    return complaint_scenario()
