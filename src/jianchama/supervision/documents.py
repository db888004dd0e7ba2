"""The official documents of the three steps (F-32): the supervision recommendation (行政执法监督建议书) and
the supervision decision (行政执法监督决定书), and the guidance opinion (指导性意见, F-37), rendered from Django templates to PDF by WeasyPrint.

The font is Noto Serif CJK SC (fontconfig name; `make system-deps` installs fonts-noto-cjk and Pango),
embedded as a subset, so the document reads the same on any machine. A document is generated once, when it
is issued, and stored; it never changes afterwards.
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

FONT_FAMILY = "Noto Serif CJK SC"


def render_pdf(template: str, context: dict[str, Any]) -> bytes:
    """Render a template of `supervision/pdf/` to PDF bytes."""
    from weasyprint import HTML  # imported here: loading Pango costs time that most requests never need

    html = render_to_string(template, {**context, "font_family": FONT_FAMILY})
    return HTML(string=html).write_pdf()


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
