"""inspections/0021 marks what existed before its two links: the tasks cancelled by joining another body's task,
from the reason `frequency.join_task` wrote (the joint task of that number on the same enterprise; nothing for a
reason naming no such task), and the joint inspections that carried out an accepted proposal to merge plans, by
the test `services.create_task` now applies at drafting. The test ends with the schema migrated to the latest
state again."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from jianchama.inspections import frequency
from jianchama.inspections.models import Task
from jianchama.plans.models import CoordinationProposal
from tests.factories import filed_plan
from tests.inspections.conftest import inspector_with_account
from tests.inspections.test_frequency import partner_task

BEFORE = ("inspections", "0020_taskbody_task_status")


def migrate_back_and_forth() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])  # the columns dropped
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_migration_marks_the_tasks_cancelled_by_joining(s):
    target, joined, unknown, elsewhere, own = (s.draft() for _ in range(5))
    other = s.draft(enterprise=s.other_enterprise)
    cancelled = {
        joined: f"已并入联合检查任务{target.number}",
        unknown: "已并入联合检查任务JC20009999999",  # no such task
        elsewhere: f"已并入联合检查任务{other.number}",  # another enterprise's
        own: "企业已停产",
    }
    for task, reason in cancelled.items():
        Task.objects.filter(pk=task.pk).update(
            status="cancelled", cancel_reason=reason, cancelled_at=timezone.now()
        )

    migrate_back_and_forth()

    marked = dict(Task.objects.filter(joined_into__isnull=False).values_list("pk", "joined_into_id"))
    assert marked == {joined.pk: target.pk}


@pytest.mark.django_db(transaction=True)
def test_the_migration_links_the_joint_inspections_that_carried_out_a_proposal(s):
    s.partner_inspector2 = inspector_with_account(s.partner, "钱七")
    today = timezone.localdate()
    gas_plan = filed_plan(s.body, items=[s.item])
    market_plan = filed_plan(s.partner, items=[s.partner_item])
    proposal = CoordinationProposal.objects.create(
        region=s.jinshan,
        period_start=today,
        period_end=today + datetime.timedelta(days=60),
        status=CoordinationProposal.Status.ACCEPTED,
        proposed_by=s.supervisor,
    )
    proposal.plans.set([gas_plan, market_plan])
    proposal.enterprises.set([s.enterprise, s.other_enterprise])
    together = {"plan": gas_plan, "partner_plans": [market_plan]}
    carried_out = s.joint_draft(**together)
    alone = s.draft(plan=gas_plan, enterprise=s.other_enterprise)  # the partner joins it afterwards
    frequency.join_task(
        s.partner_inspector_user, task=partner_task(s, enterprise=s.other_enterprise), into=alone
    )
    later = today + datetime.timedelta(days=61)  # after the proposal's period
    outside = s.joint_draft(**together, window_start=later, window_end=later + datetime.timedelta(days=5))
    assert [t.coordination_proposal_id for t in (carried_out, alone, outside)] == [proposal.pk, None, None]

    migrate_back_and_forth()

    linked = dict(
        Task.objects.filter(coordination_proposal__isnull=False).values_list("pk", "coordination_proposal_id")
    )
    assert linked == {carried_out.pk: proposal.pk}
