# ruff: noqa: F811  (the `world` fixture is imported from the shared module)
"""The official documents (F-32): the recommendation and the decision as PDF, in Chinese, with the CJK font
embedded. The text is extracted back with pypdf and checked: number, addressee body, facts, legal basis,
demanded rectification, the deadline as a Chinese date with its working-day count, issuer and date."""

from __future__ import annotations

import re

from django.utils import timezone

from jianchama.core.formats import chinese_date
from jianchama.supervision import steps
from jianchama.supervision.models import AccountabilityMeasure
from tests.supervision._steps_world import (
    embedded_fonts,
    escalated,
    pdf_text,
    recommended,
    world,  # noqa: F401
)


def flat(text: str) -> str:
    """The extracted text without the line breaks the page layout puts inside sentences."""
    return re.sub(r"\s+", "", text)


def test_the_recommendation_pdf_says_what_the_body_must_do_and_by_when(world):
    w = world
    rec = recommended(w)
    with rec.document.open("rb") as handle:
        data = handle.read()
    assert data.startswith(b"%PDF-")
    text = flat(pdf_text(data))
    today = timezone.localdate()
    assert "行政执法监督建议书" in text
    assert rec.number in text and rec.number == f"金司监建〔{today.year}〕1号"
    assert "金山区建设和管理委员会：" in text
    assert "未使用检查码，企业无法核验检查人员身份" in text  # the facts
    assert "《上海市优化营商环境条例》" in text  # the legal basis
    assert "完善检查码使用内部管理制度" in text  # the demanded rectification
    assert f"15个工作日内，即于{chinese_date(rec.rectify_by)}前完成整改" in text
    assert f"5个工作日内（{chinese_date(rec.review_due)}前）" in text
    assert "金山区司法局" in text and chinese_date(today) in text


def test_the_cjk_font_is_embedded(world):
    w = world
    rec = recommended(w)
    fonts = embedded_fonts(rec.document.read())
    assert fonts
    for name, key in fonts:
        assert "Noto-Serif-CJK-SC" in name
        assert key in ("/FontFile2", "/FontFile3"), f"{name} is not embedded"


def test_the_decision_pdf_states_the_deadline_and_the_measures(world):
    w = world
    rec = escalated(w)
    decision = steps.issue_decision(
        w.government,
        recommendation=rec,
        facts="该单位收到监督建议书后逾期未整改，仍存在无码入企检查。",
        legal_basis="《上海市行政执法监督办法》",
        demanded="十个工作日内全面整改并书面报告。",
        deadline_working_days=10,
        measures=[
            steps.MeasureInput(kind=AccountabilityMeasure.Kind.SUSPEND_CERTIFICATE, inspectors=[w.inspector]),
            steps.MeasureInput(kind=AccountabilityMeasure.Kind.NOTIFIED_CRITICISM, note="在全区范围内通报"),
        ],
    )
    data = decision.document.read()
    text = flat(pdf_text(data))
    assert "行政执法监督决定书" in text and decision.number in text
    assert "金山区建设和管理委员会：" in text
    assert rec.number in text  # the recommendation it follows
    assert "仍存在无码入企检查" in text and "《上海市行政执法监督办法》" in text
    assert f"10个工作日内，即于{chinese_date(decision.deadline)}前完成整改" in text
    certificate = w.inspector.certificates.get()
    assert f"暂停使用执法证件：张三（证号{certificate.number}）" in text
    assert "通报批评。在全区范围内通报" in text
    assert "金山区人民政府" in text
    assert all(key in ("/FontFile2", "/FontFile3") for _, key in embedded_fonts(data))


def test_the_issued_document_never_changes(world):
    w = world
    rec = recommended(w)
    original = rec.document.read()
    steps.acknowledge_recommendation(w.head, recommendation=rec)
    steps.submit_rectification_report(w.head, recommendation=rec, text="已整改")
    steps.review_recommendation(w.supervisor, recommendation=rec, rectified=True, note="复查已整改")
    rec.refresh_from_db()
    assert rec.document.read() == original
