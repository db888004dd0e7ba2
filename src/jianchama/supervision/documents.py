"""The official documents of the three steps (F-32): the supervision recommendation (行政执法监督建议书) and
the supervision decision (行政执法监督决定书), and the guidance opinion (指导性意见, F-37), rendered from Django templates to PDF by WeasyPrint.

The font and the rendering are core.pdf's. A document is generated once, when it
is issued, and stored; it never changes afterwards.
"""

from __future__ import annotations

from typing import Any

from jianchama.core.pdf import FONT_FAMILY, render_pdf

__all__ = ["FONT_FAMILY", "decision_pdf", "recommendation_pdf", "render_pdf"]


def recommendation_pdf(context: dict[str, Any]) -> bytes:
    """`context`: number, body, facts, legal_basis, demanded, rectify_by, rectify_days, received_on,
    issuer, issued_on (see `steps.recommendation_document_context`)."""
    return render_pdf("supervision/pdf/recommendation.html", context)


def decision_pdf(context: dict[str, Any]) -> bytes:
    """`context`: number, body, recommendation number, facts, legal_basis, demanded, deadline,
    deadline_days, measures, issuer, issued_on (see `steps.decision_document_context`)."""
    return render_pdf("supervision/pdf/decision.html", context)


def guidance_pdf(context: dict[str, Any]) -> bytes:
    """`context`: number, subject, addressees, issuer, field_name, marked_on, problem_lines, guidance_lines,
    finding_titles, issued_on (see `guidance.document_context`)."""
    return render_pdf("supervision/pdf/guidance.html", context)
