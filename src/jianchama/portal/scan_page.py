"""The scan page's parts that do not change from scan to scan, rendered once and kept (issue 16).

- The task's section (bodies, task, inspectors with their certificates, items, legal basis:
  `portal/_scan_card.html`) is rendered when its card is built and kept in the card (inspections/scan_card.py),
  so a scan of a cached card renders only the verdict around it. Inspector photos are linked by keys that
  expire (registry/photos.py): the section keeps a marker where each link goes, and each scan signs a fresh one.
- The rights, the five prohibitions and the eight don'ts (`portal/_scan_conduct.html`) are the same on every
  page: rendered once per process.
- The page of a genuine scan that starts nothing (nearly every scan) is `portal/scan.html` rendered once per
  process with markers where the nonce, the task's section and the time go, then filled in by each scan.
  Every other verdict renders the template.

With DEBUG on, nothing is kept across requests, so that edited templates show at once.
"""

from __future__ import annotations

import functools
import re

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from jianchama.core import conduct
from jianchama.inspections import scan_card, services
from jianchama.inspections.models import Scan
from jianchama.registry import photos

_PHOTO_MARKER = "@@scan-photo-{}@@"
_PHOTO_SPLIT = re.compile(r"@@scan-photo-(\d+)@@")


def prepare(card: scan_card.Card) -> None:
    """Render the task's section into the card, once (before it is stored)."""
    if card.details is None:
        return
    inspectors, photo_keys = [], []
    for inspector, certificate in card.details["inspectors"]:
        if inspector.get("photo"):
            inspector = {**inspector, "photo": {"url": _PHOTO_MARKER.format(len(photo_keys))}}
            photo_keys.append((inspector["pk"], inspector["photo_name"]))
        inspectors.append((inspector, certificate))
    html = render_to_string(
        "portal/_scan_card.html", {**card.details, "inspectors": inspectors, "task": card.code.task}
    )
    # Alternating text and photo numbers: ["<section>…<img src=\"", 0, "\" alt=…", …].
    parts: list = _PHOTO_SPLIT.split(html)
    for index in range(1, len(parts), 2):
        parts[index] = photo_keys[int(parts[index])]
    card.page["card_parts"] = parts


def card_html(card: scan_card.Card) -> SafeString:
    """The task's section, with fresh photo links."""
    if "card_parts" not in card.page:
        if card.details is None:
            card.details = scan_card.details(card.code.task, timezone.localdate())
        prepare(card)
    parts = card.page["card_parts"]
    if len(parts) == 1:
        return mark_safe(parts[0])
    return mark_safe(
        "".join(
            part if index % 2 == 0 else escape(photos.public_url(*part)) for index, part in enumerate(parts)
        )
    )


def conduct_html() -> SafeString:
    return _kept(_conduct_html)


def _kept(function):
    return function.__wrapped__() if settings.DEBUG else function()


@functools.cache
def _conduct_html() -> SafeString:
    return mark_safe(
        render_to_string(
            "portal/_scan_conduct.html",
            {
                "prohibitions": conduct.FIVE_PROHIBITIONS,
                "donts": conduct.EIGHT_DONTS,
                "conduct_source": conduct.SOURCE,
                "rights": services.RIGHTS_TEXT,
            },
        )
    )


_SLOT = "@@scan-page-{}@@"
_SLOT_SPLIT = re.compile(r"@@scan-page-(\w+)@@")


def genuine_page(*, csp_nonce: str, card_html: str, scanned_at: str) -> str:
    """The page of a genuine scan that starts nothing: `portal/scan.html` as it renders it."""
    values = {"csp_nonce": escape(csp_nonce), "card_html": card_html, "scanned_at": escape(scanned_at)}
    parts = _kept(_genuine_shell)
    return "".join(part if index % 2 == 0 else values[part] for index, part in enumerate(parts))


@functools.cache
def _genuine_shell() -> list[str]:
    html = render_to_string(
        "portal/scan.html",
        {
            "outcome": Scan.Outcome.GENUINE,
            "O": Scan.Outcome,
            "started": False,
            "conduct_html": _kept(_conduct_html),
            **{name: mark_safe(_SLOT.format(name)) for name in ("csp_nonce", "card_html", "scanned_at")},
        },
    )
    return _SLOT_SPLIT.split(html)
