"""Timelines in Chinese (issue 14): every audit event the demo story writes — tasks, codes, scans, results,
plans, draws, findings, the three steps, complaints — rendered through the timeline template shows no raw key:
no action code, no snake_case field or value, no setting's name."""

import re

import pytest
from django.template.loader import render_to_string

from jianchama.core import audit
from jianchama.core.models import AuditEvent
from jianchama.demo import story

pytestmark = pytest.mark.django_db

RAW_KEY = re.compile(
    r"(?<![\w./-])(?:[a-z][a-z0-9]*(?:_[a-z0-9]+)+|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[a-z]+\.[a-z_]+)(?![\w/.-])"
)


def visible_text(html: str) -> str:
    text = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", text)


def test_every_event_of_the_demo_story_reads_in_chinese():
    story.load()
    events = list(AuditEvent.objects.order_by("sequence"))
    actions = {e.action for e in events}
    assert len(actions) >= 30, sorted(actions)  # the story touches most of the platform
    raw: dict[str, set[str]] = {}
    for event in events:
        html = render_to_string("core/_timeline.html", {"events": [event], "show_object": True})
        for token in RAW_KEY.findall(visible_text(html)):
            raw.setdefault(event.action, set()).add(token)
    assert not raw, "\n".join(
        f"{action}: {', '.join(sorted(tokens))}" for action, tokens in sorted(raw.items())
    )


def test_every_action_code_in_the_code_has_a_label():
    unlabelled = sorted(a for a in audit.ACTION_LABELS if audit.action_label(a) == a)
    assert not unlabelled
