"""Official documents as PDF: Django templates rendered by WeasyPrint with the platform's CJK font.

The font is Noto Serif CJK SC (fontconfig name; `make system-deps` installs fonts-noto-cjk and Pango),
embedded as a subset, so a document reads the same on any machine. Used by supervision's letters and the
inspections' on-site documents.
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

FONT_FAMILY = "Noto Serif CJK SC"


def render_pdf(template: str, context: dict[str, Any]) -> bytes:
    """Render `template` to PDF bytes; the template gets `font_family`."""
    from weasyprint import HTML  # imported here: loading Pango costs time that most requests never need

    html = render_to_string(template, {**context, "font_family": FONT_FAMILY})
    from weasyprint.urls import URLFetcher

    # Images may be data: URLs only; no template of ours refers to a network or file address.
    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols={"data"})).write_pdf()
