"""Each role's view of plans (`Plan.objects.visible_to`) and of coordination proposals."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from jianchama.core.roles import Role
from jianchama.plans import services
from jianchama.plans.models import CoordinationProposal, Plan
from tests.factories import BodyFactory, user_for

pytestmark = pytest.mark.django_db


def seen(user) -> set[str]:
    return set(Plan.objects.visible_to(user).values_list("title", flat=True))


@pytest.fixture
def plans(s):
    """One plan of Jinshan's gas body in each state, a town body's plan at the bureau, Minhang's filed plan."""
    s.draft(title="草稿")
    s.submitted(title="市级审核中")
    plan = s.submitted(title="区司法局备案中")
    services.approve_plan(s.city_reviewer, plan=plan)
    s.filed(title="已备案")
    s.published(title="已公告")
    returned = s.submitted(title="退回修改")
    services.return_plan(s.city_reviewer, plan=returned, comment="请补充")
    s.submitted(s.draft(s.town_inspector, title="街镇计划"))
    s.filed(s.draft(s.other_head, title="闵行计划"))
    s.published(s.draft(s.other_head, title="闵行已公告"))
    return s


ALL_JINSHAN = {"草稿", "市级审核中", "区司法局备案中", "已备案", "已公告", "退回修改"}


@pytest.mark.parametrize("who", ["inspector_user", "head"])
def test_the_body_sees_all_its_plans_and_published_ones(plans, who):
    assert seen(getattr(plans, who)) == ALL_JINSHAN | {"闵行已公告"}


def test_another_body_sees_only_published_plans(plans):
    assert seen(plans.partner_head) == {"已公告", "闵行已公告"}
    assert seen(plans.town_head) == {"街镇计划", "已公告", "闵行已公告"}


def test_the_city_counterpart_sees_its_district_bodies_plans_once_submitted(plans):
    assert seen(plans.city_reviewer) == (ALL_JINSHAN - {"草稿"}) | {"闵行计划", "闵行已公告"}
    assert seen(plans.city_market_reviewer) == {"已公告", "闵行已公告"}


def test_the_supervisor_sees_its_regions_plans_once_they_reach_the_bureau(plans):
    assert seen(plans.supervisor) == {"区司法局备案中", "已备案", "已公告", "街镇计划", "闵行已公告"}
    assert seen(plans.mh_supervisor) == {"闵行计划", "闵行已公告", "已公告"}
    assert seen(plans.city_supervisor) == {
        "区司法局备案中",
        "已备案",
        "已公告",
        "街镇计划",
        "闵行计划",
        "闵行已公告",
    }


@pytest.mark.parametrize("who", ["observer", "contact"])
def test_others_and_the_public_see_published_plans(plans, who):
    assert seen(getattr(plans, who)) == {"已公告", "闵行已公告"}
    assert seen(AnonymousUser()) == {"已公告", "闵行已公告"}


def test_the_platform_admin_sees_everything(plans):
    assert len(seen(plans.admin)) == Plan.objects.count()


def test_a_new_body_of_the_district_sees_no_drafts(plans):
    neighbour = BodyFactory(name="金山区生态环境局", region=plans.jinshan, fields=[plans.gas])
    assert seen(user_for(Role.BODY_ADMIN, body=neighbour)) == {"已公告", "闵行已公告"}


def test_proposals_are_seen_by_the_bodies_concerned_and_the_regions_supervisors(s):
    body_plan = s.published()
    partner_plan = s.published(s.draft(s.partner_head, items=[s.partner_item]))
    proposal = services.propose_merge(
        s.supervisor,
        region=s.jinshan,
        start=body_plan.period_start,
        end=body_plan.period_end,
        plans=[body_plan, partner_plan],
    )
    for who in ("head", "inspector_user", "partner_head", "supervisor", "city_supervisor", "admin"):
        assert CoordinationProposal.objects.visible_to(getattr(s, who)).filter(pk=proposal.pk).count() == 1, (
            who
        )
    for who in ("town_head", "mh_supervisor", "observer", "contact", "city_market_reviewer"):
        assert not CoordinationProposal.objects.visible_to(getattr(s, who)).exists(), who
    assert not CoordinationProposal.objects.visible_to(AnonymousUser()).exists()
