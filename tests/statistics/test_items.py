"""The per-item figure (issue 13): the field → item drill-down, its counts equal to the raw records after the
refresh and the nightly rebuild, an item's findings its own, a body's page listing its own items."""

from __future__ import annotations

import datetime

from django.utils import timezone

from jianchama.core.roles import Role
from jianchama.inspections import services
from jianchama.inspections.models import Finding, InspectionRecord
from jianchama.statistics import build, figures
from jianchama.statistics.models import ItemFact
from jianchama.statistics.scope import Filters, Period, scope_for
from tests.factories import ItemFactory, user_for
from tests.statistics.test_aggregates import snapshot
from tests.statistics.test_views import table

DAY = datetime.timedelta(days=1)


def rows_of(scope, period, filters) -> dict[str, list]:
    """Per item: inspections, results, inspections finding a problem, their share of results, findings."""
    return {row[0]: row[1:] for row in figures.FIGURES["by_item"].compute(scope, period, filters).rows}


def record_with_one_problem(s, task, item):
    """The task's result with the first point of `item`'s checklist not compliant, every other compliant."""
    task = s.in_progress(task)
    findings = [
        services.FindingInput(
            item=listed,
            entry=entry,
            result=Finding.Result.NOT_COMPLIANT
            if listed == item and number == 0
            else Finding.Result.COMPLIANT,
            note="未按许可范围经营" if listed == item and number == 0 else "",
        )
        for listed in task.items.all()
        for number, entry in enumerate(listed.checklist)
    ]
    return services.record_result(
        s.inspector_user,
        task=task,
        outcome=InspectionRecord.Outcome.RECTIFY,
        summary="发现一处问题，责令整改",
        rectify_working_days=10,
        findings=findings,
    )


def test_items_count_their_own_findings_and_follow_edits_and_cancellations(s):
    s.admin = user_for(Role.PLATFORM_ADMIN)
    storage = ItemFactory(name="燃气储存场所检查", field=s.gas, bodies=[s.body])
    build.rebuild_all()
    both = s.draft(items=[s.item, storage])
    record_with_one_problem(s, both, storage)
    s.closed()  # s.item alone, no problem
    s.submitted(s.draft(items=[storage]))  # not yet inspected: counted, no result
    build.refresh()
    today = timezone.localdate()
    city = scope_for(s.admin), Period.of("month", today), Filters(field_id=s.gas.pk)
    expected = {
        s.item.name: [2, 2, 0, 0, 0],
        storage.name: [2, 1, 1, 100, 1],
    }
    assert rows_of(*city) == expected
    # A custom range: its days outside whole months read from ParticipationFact's items.
    custom = Period(today - 3 * DAY, today + 40 * DAY, "custom")
    assert rows_of(scope_for(s.admin), custom, Filters(field_id=s.gas.pk)) == expected
    # The body sees the same; another body of the field its own item only, and none of the gas body's work.
    assert rows_of(scope_for(s.head), city[1], Filters(field_id=s.gas.pk)) == expected
    assert rows_of(scope_for(s.other_head), city[1], Filters(field_id=s.gas.pk)) == {
        s.item.name: [0, 0, 0, None, 0]
    }
    # The unpublished item of the field is not listed; with no field chosen the table asks for one.
    assert s.unpublished_item.name not in rows_of(*city)
    assert figures.FIGURES["by_item"].compute(city[0], city[1], Filters()).empty == figures.CHOOSE_A_FIELD
    assert ItemFact.objects.filter(field_id=s.gas.pk, findings=1, failed=1).count() == 1

    services.cancel_task(s.head, task=both, reason="计划调整，取消本次检查")
    assert build.refresh()["tasks"] == 1
    assert rows_of(*city) == {s.item.name: [1, 1, 0, 0, 0], storage.name: [1, 0, 0, None, 0]}
    refreshed = snapshot()
    build.rebuild_all()
    assert snapshot() == refreshed


def test_the_field_table_links_to_its_items(client, world):
    client.force_login(world.supervisor)
    page = client.get("/statistics/").content.decode()
    assert table(page, "by_item") == [[figures.CHOOSE_A_FIELD]]
    assert f'href="?field={world.gas.pk}"' in page
    page = client.get(f"/statistics/?field={world.gas.pk}").content.decode()
    # Jinshan's three inspections of the gas item (its closed two recorded) and the way back to every field.
    assert table(page, "by_item")[0][:3] == [world.item.name, "3", "2"]
    assert 'id="all-fields"' in page
