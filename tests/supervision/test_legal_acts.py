"""Who may perform each legal act (issue 17): the table in `registry.legal_acts`, over every role and over the
body's own district, another district and the city.

Seed 003: 区司法局……制发行政执法监督建议书; 对拒不整改的，报请区政府制发行政执法监督决定书. The bureau's
acts are the body's district bureau's, the decision the body's district government's; the platform
administrator configures and performs no legal act."""

from __future__ import annotations

import pytest

from jianchama.core.errors import PermissionDenied
from jianchama.core.roles import Role
from jianchama.plans import services as plan_services
from jianchama.registry.legal_acts import ACTORS, BUREAU, LegalAct, may_perform, require
from jianchama.registry.models import EnforcementBody
from tests.factories import BodyFactory, user_for
from tests.inspections.conftest import build_scenario

pytestmark = pytest.mark.django_db

ROLES = [role for role in Role if role != Role.ENTERPRISE_CONTACT]


def people(s, role: str) -> dict[str, object]:
    """A user of `role` attached to the body's district, another district and the city (or to a body)."""
    if role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT, Role.COMPLAINT_INTAKE, Role.OBSERVER):
        return {
            "own district": user_for(role, region=s.jinshan),
            "other district": user_for(role, region=s.minhang),
            "city": user_for(role, region=s.city),
        }
    if role in (Role.INSPECTOR, Role.BODY_ADMIN, Role.CITY_REVIEWER):
        return {"own body": user_for(role, body=s.body), "city body": user_for(role, body=s.city_body)}
    return {"platform": user_for(role)}


@pytest.mark.parametrize("act", list(LegalAct))
@pytest.mark.parametrize("role", ROLES)
def test_each_legal_act_is_performed_only_by_the_actor_the_documents_name(act, role):
    """金山区's body: only 金山区司法局's supervisors perform the bureau's acts, only 金山区人民政府 decides;
    the city, Minhang, the bodies and the platform administrator perform none of them in Jinshan's name."""
    s = build_scenario()
    expected_role = Role.SUPERVISOR if ACTORS[act] == BUREAU else Role.DISTRICT_GOVERNMENT
    for where, user in people(s, role).items():
        allowed = role == expected_role and where == "own district"
        assert may_perform(user, act, s.body) is allowed, (act, role, where)
        if not allowed:
            with pytest.raises(PermissionDenied) as refusal:
                require(user, act, s.body)
            who = "金山区司法局执法监督人员" if ACTORS[act] == BUREAU else "金山区人民政府"
            assert refusal.value.message.startswith(f"只有{who}可以")


def test_a_city_bodys_acts_are_the_citys():
    """A city-level body is supervised in the city's name: the city's supervisors and government act."""
    s = build_scenario()
    assert s.city_body.level == EnforcementBody.Level.CITY
    assert may_perform(user_for(Role.SUPERVISOR, region=s.city), LegalAct.RECOMMEND, s.city_body)
    assert may_perform(user_for(Role.DISTRICT_GOVERNMENT, region=s.city), LegalAct.DECIDE, s.city_body)
    assert not may_perform(user_for(Role.SUPERVISOR, region=s.jinshan), LegalAct.RECOMMEND, s.city_body)


def test_a_town_body_is_the_districts():
    """A town's body belongs to its district: the district bureau acts; a supervisor attached to the town itself
    (within the district, containing the body) may too; a neighbouring town's may not."""
    from tests.factories import RegionFactory

    s = build_scenario()
    town = RegionFactory(code="310116101", name="朱泾镇", level="town", parent=s.jinshan)
    other_town = RegionFactory(code="310116102", name="枫泾镇", level="town", parent=s.jinshan)
    body = BodyFactory(name="朱泾镇综合行政执法队", region=town, level=EnforcementBody.Level.TOWN)
    assert may_perform(user_for(Role.SUPERVISOR, region=s.jinshan), LegalAct.WARN, body)
    assert may_perform(user_for(Role.SUPERVISOR, region=town), LegalAct.WARN, body)
    assert not may_perform(user_for(Role.SUPERVISOR, region=other_town), LegalAct.WARN, body)
    assert not may_perform(user_for(Role.SUPERVISOR, region=s.city), LegalAct.WARN, body)


def test_the_city_supervisor_cannot_act_in_a_district_plans_filing_step():
    """报区司法局备案: the bureau's filing step of a district body's plan is the district bureau's."""
    s = build_scenario()
    plan = type("PlanStub", (), {"body": s.body})()  # reviewer_step reads only the plan's body
    assert plan_services.reviewer_step(user_for(Role.SUPERVISOR, region=s.jinshan), plan) == "bureau"
    assert plan_services.reviewer_step(user_for(Role.SUPERVISOR, region=s.city), plan) is None
    assert plan_services.reviewer_step(user_for(Role.SUPERVISOR, region=s.minhang), plan) is None
    assert plan_services.reviewer_step(user_for(Role.PLATFORM_ADMIN), plan) is None
