"""The world of the three-steps tests: the inspection scenario (Jinshan's gas body, its head and inspectors,
a Jinshan supervisor, a Minhang one), the district government's user, a finding, and shortcuts that take a
finding through the steps by the real services. Deadlines in the past are made by moving stored dates back
(`backdate`), which is what the calendar would have produced on an earlier day."""

from __future__ import annotations

import datetime
import io

import pytest
from django.utils import timezone
from pypdf import PdfReader

from jianchama.core.roles import Role
from jianchama.core.workdays import add_working_days
from jianchama.supervision import steps
from jianchama.supervision.models import Finding
from jianchama.supervision.services import create_finding
from tests.factories import user_for
from tests.inspections.conftest import build_scenario

FACTS = "2026年3月，该单位对上海某燃气公司实施检查时未使用检查码，企业无法核验检查人员身份。"
BASIS = "《上海市优化营商环境条例》\n《关于进一步规范涉企行政检查的实施意见》"
DEMANDED = "立即停止无码检查；对相关执法人员进行批评教育；完善检查码使用内部管理制度。"


def build_world(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    w = build_scenario()
    w.government = user_for(Role.DISTRICT_GOVERNMENT, region=w.jinshan, full_name="金山区政府经办人")
    w.mh_government = user_for(Role.DISTRICT_GOVERNMENT, region=w.minhang)
    w.finding = new_finding(w)
    return w


def new_finding(w, title: str = "检查未使用检查码") -> Finding:
    return create_finding(
        w.supervisor,
        source=Finding.Source.OTHER,
        body=w.body,
        title=title,
        description="一次入企检查未出示检查码",
    )


@pytest.fixture
def world(db, settings, tmp_path):
    return build_world(settings, tmp_path)


def backdate(obj, **fields) -> None:
    type(obj).objects.filter(pk=obj.pk).update(**fields)
    obj.refresh_from_db()


def warned(w, finding=None):
    return steps.warn_body(
        w.supervisor, finding=finding or w.finding, channel="phone", content="电话提醒：检查须出示检查码"
    )


def not_rectified(w, finding=None):
    warning = warned(w, finding)
    return steps.record_warning_outcome(
        w.supervisor, warning=warning, rectified=False, note="走访核实仍未整改"
    )


def recommended(w, finding=None):
    finding = finding or w.finding
    not_rectified(w, finding)
    return steps.issue_recommendation(
        w.supervisor, finding=finding, facts=FACTS, legal_basis=BASIS, demanded=DEMANDED
    )


def escalated(w, finding=None):
    rec = recommended(w, finding)
    past = timezone.localdate() - datetime.timedelta(days=40)
    backdate(
        rec,
        issued_on=past,
        received_on=past,
        rectify_by=add_working_days(past, 15),
        review_due=add_working_days(add_working_days(past, 15), 5),
    )
    rec = steps.review_recommendation(
        w.supervisor, recommendation=rec, rectified=False, note="未报送整改报告，现场复查仍未整改"
    )
    return steps.request_decision(w.supervisor, recommendation=rec, note="建议暂停张三执法证件")


def pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def embedded_fonts(data: bytes) -> list[tuple[str, str]]:
    """(font name, embedding key) of every font of the document; a key of None means not embedded."""
    found = []
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            descriptor = (descendants[0].get_object() if descendants else font).get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor else {}
            key = next((k for k in ("/FontFile", "/FontFile2", "/FontFile3") if k in descriptor), None)
            found.append((str(font.get("/BaseFont")), key))
    return found
