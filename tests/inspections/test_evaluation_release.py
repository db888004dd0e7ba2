"""Evaluation anonymity (F-26) in the aggregates: a body sees its evaluations only as released figures, each
release at least five ratings after the one before, so that comparing two readings never isolates one
enterprise's rating (the differencing attack: 6 ratings averaging 3.5, then 7 averaging 3.14, means the new one
is 1). Supervisors keep the live figures."""

from __future__ import annotations

import itertools
import re

from jianchama.inspections import jobs, services
from jianchama.inspections.models import Evaluation, EvaluationRelease


def scores(overall: int) -> dict[str, int]:
    return {"overall": overall, **{name: 4 for name, _ in Evaluation.DIMENSIONS}}


def rate(s, overall: int) -> None:
    services.evaluate(s.contact, task=s.recorded(), scores=scores(overall))


def body_reads(client, s) -> tuple[int, float] | None:
    """What the body's administrator reads on the task list: (count, overall average), or None."""
    client.force_login(s.head)
    page = client.get("/tasks/").content.decode()
    found = re.search(r"（(\d+)条，5分制）：总体 ([\d.]+)", page)
    return (int(found[1]), float(found[2])) if found else None


def test_the_differencing_attack_learns_nothing(client, s):
    for overall in (4, 3, 4, 3):
        rate(s, overall)
    assert body_reads(client, s) is None  # fewer than five ratings: nothing at all
    rate(s, 3)
    rate(s, 4)
    first = body_reads(client, s)
    assert first is not None and first[0] >= 5
    # The attack: read, let one more enterprise rate, read again.
    readings = [first]
    for overall in (1, 5, 2, 1, 5, 1, 3):
        rate(s, overall)
        readings.append(body_reads(client, s))
    for before, after in itertools.pairwise(readings):
        # Unchanged, or changed by a whole batch: never by the one rating just given.
        assert after == before or after[0] - before[0] >= 5
    assert readings[-1][0] > first[0]  # the batch was released in the end
    # The supervisor sees the live figures, every rating.
    live = services.evaluation_summary(s.supervisor, body=s.body)
    assert live["count"] == Evaluation.objects.count() == 13


def test_a_release_needs_five_new_ratings_and_the_body_sees_its_history(client, s, settings):
    for overall in (5, 4, 3, 5, 4):
        rate(s, overall)
    assert jobs.release_evaluations() == 1  # the monthly job
    assert jobs.release_evaluations() == 0  # nothing new: nothing released
    release = EvaluationRelease.objects.get(body=s.body)
    assert (release.count, release.new_count, float(release.overall)) == (5, 5, 4.2)
    for overall in (1, 1, 1, 1):
        rate(s, overall)
    assert jobs.release_evaluations() == 0
    summary = services.evaluation_summary(s.head, body=s.body)
    assert (summary["count"], summary["overall"]) == (5, 4.2)
    rate(s, 1)
    summary = services.evaluation_summary(s.head, body=s.body)  # released at read time
    assert (summary["count"], summary["overall"]) == (10, 2.6)
    assert [r.count for r in services.evaluation_releases(s.head, body=s.body)] == [10, 5]
    client.force_login(s.head)
    page = client.get("/tasks/").content.decode()
    assert "（10条，5分制）：总体 2.6" in page and "历次发布" in page


def test_the_batch_size_is_a_setting_never_below_five(s, settings):
    settings.EVALUATION_RELEASE_MIN_RATINGS = 2
    for overall in (5, 4, 3, 5):
        rate(s, overall)
    assert services.evaluation_summary(s.head, body=s.body) is None
    settings.EVALUATION_RELEASE_MIN_RATINGS = 7
    rate(s, 4)
    rate(s, 4)
    assert services.evaluation_summary(s.head, body=s.body) is None
    rate(s, 4)
    assert services.evaluation_summary(s.head, body=s.body)["count"] == 7


def test_a_release_is_pushed_to_the_body_s_system_as_its_page_shows_it(s, settings):
    """evaluation.released (F-29's webhooks) carries the release's figures and nothing finer: no rating, no
    enterprise, no task; nothing is pushed while fewer than five ratings have come."""
    from jianchama.integrations import services as integrations
    from jianchama.integrations.models import WebhookDelivery

    settings.API_WEBHOOK_ALLOW_HTTP = True
    client, _key = integrations.register_client(
        s.head, name="本单位执法系统", vendor="某公司", contact="李工 13800000000", scopes=["webhooks:manage"]
    )
    integrations.register_webhook(client, url="http://127.0.0.1:9/hook", events=["evaluation.released"])
    for overall in (4, 3, 4, 3):
        rate(s, overall)
    assert services.release_evaluations("系统", body=s.body) is None
    assert not WebhookDelivery.objects.exists()
    rate(s, 5)
    release = services.release_evaluations("系统", body=s.body)
    assert release is not None
    [delivery] = WebhookDelivery.objects.all()
    payload = delivery.payload
    assert delivery.event == payload["event"] == "evaluation.released"
    assert payload["subject"] == {"type": "evaluation_release", "id": release.pk}
    assert payload["data"]["count"] == 5 and payload["data"]["overall"] == 3.8
    assert set(payload["data"]) == {
        "count",
        "new_count",
        "period_start",
        "period_end",
        *(name for name, _ in Evaluation.DIMENSIONS),
        "overall",
    }
