"""Plan coordination (F-13): the overlap of different bodies' plans on the same enterprises, the proposal to
inspect them jointly, each body's answer, and what the task workflow gets from an accepted proposal."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from jianchama.core import audit
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.inspections import services as task_services
from jianchama.inspections.models import Task
from jianchama.plans import services
from jianchama.plans.models import CoordinationProposal, CoordinationResponse, Plan
from tests.factories import CertificateFactory, InspectorFactory
from tests.plans.conftest import names

pytestmark = pytest.mark.django_db

D = datetime.date
YEAR = timezone.localdate().year
START, END = D(YEAR, 1, 1), D(YEAR, 12, 31)


@pytest.fixture
def world(s):
    """Three Jinshan bodies' filed plans for this year:
    the gas body: gas enterprises of the district (甲, 丙, 丁); the market body: risk grades C and D (丙, 丁);
    the town body: everything in Zhujing (丙, the restaurant). And a Minhang plan, a draft of the gas body."""
    s.gas_plan = s.filed(title="燃气日常检查", target_industries=["燃气生产和供应业"])
    s.market_plan = s.filed(
        s.draft(s.partner_head, title="燃气器具抽查", items=[s.partner_item], target_risk_grades=["C", "D"])
    )
    s.town_plan = s.filed(s.draft(s.town_inspector, title="朱泾镇日常检查", target_regions=[s.zhujing]))
    s.filed(s.draft(s.other_head, title="闵行燃气检查"))
    s.draft(title="草稿不参与统筹")
    return s


def groups(overlaps) -> list[tuple[set[str], set[str]]]:
    return [({p.title for p in o.plans}, names(o.enterprises)) for o in overlaps]


def test_enterprises_in_two_or_more_bodies_plans_are_found(world):
    s = world
    overlaps = services.find_overlaps(s.supervisor, region=s.jinshan, start=START, end=END)
    assert sorted(groups(overlaps), key=lambda g: len(g[0])) == [
        ({"燃气日常检查", "燃气器具抽查"}, {"金山燃气丁公司"}),
        ({"燃气日常检查", "燃气器具抽查", "朱泾镇日常检查"}, {"金山燃气丙公司"}),
    ]
    three = next(o for o in overlaps if len(o.plans) == 3)
    assert {b.name for b in three.bodies} == {
        "金山区建设和管理委员会",
        "金山区市场监督管理局",
        "朱泾镇综合行政执法队",
    }
    assert (three.start, three.end) == (START, END) and three.proposal is None


def test_a_smaller_region_limits_the_enterprises(world):
    s = world
    overlaps = services.find_overlaps(s.supervisor, region=s.fengjing, start=START, end=END)
    assert groups(overlaps) == [({"燃气日常检查", "燃气器具抽查"}, {"金山燃气丁公司"})]


def test_plans_must_overlap_in_time(world):
    s = world
    # The market body's plan runs in the second half of the year only; the town's in the first quarter.
    Plan.objects.filter(pk=s.market_plan.pk).update(period_start=D(YEAR, 7, 1))
    Plan.objects.filter(pk=s.town_plan.pk).update(period_end=D(YEAR, 3, 31))
    overlaps = services.find_overlaps(s.supervisor, region=s.jinshan, start=START, end=END)
    # 丙 is in all three plans, but the market and town plans never run at the same time.
    assert sorted(groups(overlaps), key=lambda g: sorted(g[0])) == [
        ({"燃气日常检查", "朱泾镇日常检查"}, {"金山燃气丙公司"}),
        ({"燃气日常检查", "燃气器具抽查"}, {"金山燃气丙公司", "金山燃气丁公司"}),
    ]
    town = next(o for o in overlaps if len(o.enterprises) == 1)
    assert (town.start, town.end) == (START, D(YEAR, 3, 31))
    # A window in the second quarter finds no plans running together.
    assert (
        services.find_overlaps(s.supervisor, region=s.jinshan, start=D(YEAR, 4, 1), end=D(YEAR, 6, 30)) == []
    )


def test_two_plans_of_one_body_are_no_overlap(s):
    s.filed(title="上半年")
    s.filed(title="下半年")
    assert services.find_overlaps(s.supervisor, region=s.jinshan, start=START, end=END) == []


def test_a_body_sees_overlaps_with_published_plans_only(world):
    s = world
    assert services.find_overlaps(s.head, region=s.jinshan, start=START, end=END) == []
    services.publish_plan(s.partner_head, plan=s.market_plan)
    overlaps = services.find_overlaps(s.head, region=s.jinshan, start=START, end=END)
    assert groups(overlaps) == [({"燃气日常检查", "燃气器具抽查"}, {"金山燃气丙公司", "金山燃气丁公司"})]


def test_who_may_look_and_where(world):
    s = world
    with pytest.raises(PermissionDenied, match="只能查看本辖区（闵行区）内"):
        services.find_overlaps(s.mh_supervisor, region=s.jinshan, start=START, end=END)
    for who in (s.observer, s.contact, s.government):
        with pytest.raises(PermissionDenied):
            services.find_overlaps(who, region=s.jinshan, start=START, end=END)
    with pytest.raises(DomainError, match=r"期间止.*不能早于期间起"):
        services.find_overlaps(s.supervisor, region=s.jinshan, start=END, end=START)


def test_a_supervisor_proposes_and_every_body_accepts(world):
    s = world
    overlap = next(
        o
        for o in services.find_overlaps(s.supervisor, region=s.jinshan, start=START, end=END)
        if len(o.plans) == 3
    )
    proposal = services.propose_merge(
        s.supervisor,
        region=s.jinshan,
        start=START,
        end=END,
        plans=overlap.plans,
        enterprises=overlap.enterprises,
        comment="三家单位同期检查金山燃气丙公司，建议一次入企",
    )
    assert proposal.status == CoordinationProposal.Status.PROPOSED
    assert names(proposal.enterprises.all()) == {"金山燃气丙公司"}
    assert set(proposal.responses.values_list("decision", flat=True)) == {"pending"}
    assert proposal.responses.count() == 3
    again = services.find_overlaps(s.supervisor, region=s.jinshan, start=START, end=END)
    assert next(o for o in again if len(o.plans) == 3).proposal == proposal

    services.accept_proposal(s.head, proposal=proposal)
    proposal = services.accept_proposal(s.partner_head, proposal=proposal, comment="同意")
    assert proposal.status == CoordinationProposal.Status.PROPOSED
    proposal = services.accept_proposal(s.town_head, proposal=proposal)
    assert proposal.status == CoordinationProposal.Status.ACCEPTED and proposal.decided_at is not None
    assert list(audit.history(proposal).values_list("action", flat=True)) == [
        "coordination.proposed",
        "coordination.accepted",
        "coordination.accepted",
        "coordination.accepted",
    ]
    assert audit.history(proposal).last().after["status"] == "accepted"


def test_the_proposing_bodys_own_answer_is_yes(world):
    s = world
    services.publish_plan(s.partner_head, plan=s.market_plan)
    proposal = services.propose_merge(
        s.head, region=s.jinshan, start=START, end=END, plans=[s.gas_plan, s.market_plan]
    )
    assert names(proposal.enterprises.all()) == {"金山燃气丙公司", "金山燃气丁公司"}
    mine = proposal.responses.get(body=s.body)
    assert (mine.decision, mine.responder) == ("accepted", s.head)
    proposal = services.accept_proposal(s.partner_head, proposal=proposal)
    assert proposal.status == CoordinationProposal.Status.ACCEPTED


def test_one_body_declining_with_a_reason_declines_the_proposal(world):
    s = world
    proposal = services.propose_merge(
        s.supervisor, region=s.jinshan, start=START, end=END, plans=[s.gas_plan, s.market_plan]
    )
    with pytest.raises(DomainError, match="不接受联合检查建议须写明理由"):
        services.decline_proposal(s.partner_head, proposal=proposal, comment="")
    proposal = services.decline_proposal(s.partner_head, proposal=proposal, comment="本单位已于上月检查过")
    assert proposal.status == CoordinationProposal.Status.DECLINED
    assert proposal.responses.get(body=s.partner).decision == CoordinationResponse.Decision.DECLINED
    with pytest.raises(InvalidTransition, match="当前状态为「有单位不接受」，不能再确认"):
        services.accept_proposal(s.head, proposal=proposal)
    # A declined proposal does not stand in the way of a new one.
    assert services.propose_merge(
        s.supervisor, region=s.jinshan, start=START, end=END, plans=[s.gas_plan, s.market_plan]
    )


def test_who_may_answer(world):
    s = world
    proposal = services.propose_merge(
        s.supervisor, region=s.jinshan, start=START, end=END, plans=[s.gas_plan, s.market_plan]
    )
    with pytest.raises(PermissionDenied, match="只有涉及的执法单位管理员"):
        services.accept_proposal(s.inspector_user, proposal=proposal)
    with pytest.raises(PermissionDenied, match="朱泾镇综合行政执法队不是"):
        services.accept_proposal(s.town_head, proposal=proposal)
    with pytest.raises(PermissionDenied):
        services.accept_proposal(s.supervisor, proposal=proposal)
    services.accept_proposal(s.head, proposal=proposal)
    with pytest.raises(DomainError, match=r"金山区建设和管理委员会已于.*表示「接受」"):
        services.accept_proposal(s.head, proposal=proposal)


def test_bad_proposals_are_refused_and_nothing_is_saved(world):
    s = world
    args = {"region": s.jinshan, "start": START, "end": END}
    with pytest.raises(DomainError, match="须涉及两个以上执法单位"):
        services.propose_merge(s.supervisor, plans=[s.gas_plan], **args)
    with pytest.raises(DomainError, match="企业「金山燃气甲公司」不在所选各计划共同的检查范围内"):
        services.propose_merge(s.supervisor, plans=[s.gas_plan, s.market_plan], enterprises=[s.gas_a], **args)
    draft = Plan.objects.get(title="草稿不参与统筹")
    with pytest.raises(DomainError, match="未备案"):
        services.propose_merge(s.supervisor, plans=[draft, s.market_plan], **args)
    with pytest.raises(DomainError, match="所选检查计划在枫泾镇没有共同的检查对象"):
        # The town body's plan reaches Zhujing only.
        services.propose_merge(
            s.supervisor,
            plans=[s.gas_plan, s.town_plan],
            region=s.fengjing,
            start=START,
            end=END,
        )
    with pytest.raises(PermissionDenied, match="只有辖区司法局执法监督人员或涉及计划的执法单位管理员"):
        services.propose_merge(s.town_head, plans=[s.gas_plan, s.market_plan], **args)
    assert not CoordinationProposal.objects.exists()
    services.propose_merge(s.supervisor, plans=[s.gas_plan, s.market_plan], **args)
    with pytest.raises(DomainError, match="已有涉及相同检查计划的联合检查建议"):
        services.propose_merge(s.supervisor, plans=[s.market_plan, s.gas_plan], **args)
    assert CoordinationProposal.objects.count() == 1


def test_joint_task_args_from_an_accepted_proposal(world):
    s = world
    proposal = services.propose_merge(
        s.supervisor, region=s.jinshan, start=START, end=END, plans=[s.gas_plan, s.market_plan]
    )
    with pytest.raises(DomainError, match="尚未被各执法单位接受"):
        services.joint_task_args(proposal, s.gas_c)
    services.accept_proposal(s.head, proposal=proposal)
    services.accept_proposal(s.partner_head, proposal=proposal)
    proposal.refresh_from_db()
    args = services.joint_task_args(proposal, s.gas_c, lead=s.body)
    assert args["enterprise"] == s.gas_c
    assert args["joint_bodies"] == [s.partner]
    assert set(args["items"]) == {s.item, s.partner_item}
    assert (args["plan"], args["kind"]) == (s.gas_plan, Plan.Method.ROUTINE)
    assert START <= args["window_start"] <= args["window_end"] <= END
    led_by_partner = services.joint_task_args(proposal, s.gas_c, lead=s.partner)
    assert led_by_partner["joint_bodies"] == [s.body] and led_by_partner["plan"] == s.market_plan
    with pytest.raises(DomainError, match="企业金山燃气甲公司不在"):
        services.joint_task_args(proposal, s.gas_a)
    with pytest.raises(DomainError, match="朱泾镇综合行政执法队不是"):
        services.joint_task_args(proposal, s.gas_c, lead=s.town_body)


def _with_certificate(body, name):
    inspector = InspectorFactory(name=name, body=body)
    CertificateFactory(inspector=inspector)
    return inspector


def test_create_task_accepts_the_joint_task_args(world):
    s = world
    proposal = services.propose_merge(
        s.supervisor, region=s.jinshan, start=START, end=END, plans=[s.gas_plan, s.market_plan]
    )
    services.accept_proposal(s.head, proposal=proposal)
    proposal = services.accept_proposal(s.partner_head, proposal=proposal)
    args = services.joint_task_args(proposal, s.gas_c, lead=s.body)
    inspectors = [
        _with_certificate(s.body, "张三"),
        _with_certificate(s.body, "李四"),
        _with_certificate(s.partner, "王五"),
    ]
    task = task_services.create_task(
        s.head, inspectors=inspectors, legal_basis="《城镇燃气管理条例》", **args
    )
    assert task.kind == Task.Kind.ROUTINE and task.task_bodies.count() == 2


def test_the_proposals_link_opens_a_prefilled_form_that_creates_the_joint_task(world, client):
    import html
    import re

    s = world
    proposal = services.propose_merge(
        s.supervisor, region=s.jinshan, start=START, end=END, plans=[s.gas_plan, s.market_plan]
    )
    services.accept_proposal(s.head, proposal=proposal)
    proposal = services.accept_proposal(s.partner_head, proposal=proposal)
    client.force_login(s.head)
    page = client.get(f"/plans/coordination/{proposal.pk}/").content.decode()
    link = html.unescape(re.search(rf'href="(/tasks/new/\?uscc={s.gas_c.uscc}[^"]*)"', page).group(1))
    form = client.get(link).content.decode()
    assert f'value="{s.gas_c.uscc}"' in form and f'value="{s.gas_plan.number}"' in form
    inspectors = [
        _with_certificate(s.body, "张三"),
        _with_certificate(s.body, "李四"),
        _with_certificate(s.partner, "王五"),
    ]
    args = services.joint_task_args(proposal, s.gas_c, lead=s.body)
    response = client.post(
        "/tasks/new/",
        {
            "enterprise_uscc": s.gas_c.uscc,
            "kind": args["kind"],
            "plan_number": s.gas_plan.number,
            "mode": "on_site",
            "joint_bodies": [s.partner.pk],
            "items": [item.pk for item in args["items"]],
            "inspectors": [i.pk for i in inspectors],
            "legal_basis": "《城镇燃气管理条例》",
            "window_start": args["window_start"].isoformat(),
            "window_end": args["window_end"].isoformat(),
        },
    )
    assert response.status_code == 302, re.findall(
        r'class="errorlist[^"]*"><li>(.*?)</li>', response.content.decode()
    )
    task = Task.objects.get()
    assert task.task_bodies.count() == 2 and task.plan == s.gas_plan
