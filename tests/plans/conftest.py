"""A ready-made planning scenario: Jinshan's bodies (district, town, entrusted) with their city-level
counterparts, Minhang's gas body outside, the justice bureaus, enterprises of different industries and risk
grades, and helpers that take a plan through filing by the real services."""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest
from django.utils import timezone

from jianchama.core.roles import Role
from jianchama.plans import services
from jianchama.plans.models import Plan
from jianchama.registry.models import EnforcementBody, Region
from tests.factories import (
    BodyFactory,
    EnterpriseFactory,
    FieldFactory,
    ItemFactory,
    RegionFactory,
    user_for,
)

D = datetime.date


class Scenario(SimpleNamespace):
    def plan_args(self, **overrides) -> dict:
        year = timezone.localdate().year
        args = {
            "title": f"{year}年度燃气经营单位日常检查计划",
            "period_start": D(year, 1, 1),
            "period_end": D(year, 12, 31),
            "method": Plan.Method.ROUTINE,
            "items": [self.item],
            "expected_count": 20,
        }
        return {**args, **overrides}

    def draft(self, actor=None, **overrides) -> Plan:
        return services.create_plan(actor or self.inspector_user, **self.plan_args(**overrides))

    def submitted(self, plan: Plan | None = None, actor=None, **overrides) -> Plan:
        plan = plan or self.draft(actor, **overrides)
        return services.submit_plan(actor or self.head_of(plan.body), plan=plan)

    def head_of(self, body: EnforcementBody):
        return {
            self.body.pk: self.head,
            self.partner.pk: self.partner_head,
            self.town_body.pk: self.town_head,
            self.other_body.pk: self.other_head,
            self.city_body.pk: self.city_head,
            self.entrusted.pk: self.entrusted_head,
        }[body.pk]

    def reviewer_of(self, plan: Plan):
        if plan.status == Plan.Status.CITY_REVIEW:
            return {self.city_body.pk: self.city_reviewer, self.city_market.pk: self.city_market_reviewer}[
                plan.body.city_counterpart_id
            ]
        region = plan.body.region
        for supervisor in (self.supervisor, self.mh_supervisor, self.city_supervisor):
            if supervisor.region.contains(region):
                return supervisor
        raise AssertionError(f"no supervisor for {region}")

    def filed(self, plan: Plan | None = None, **overrides) -> Plan:
        """Through every step of its route, each approved by the step's reviewer."""
        plan = Plan.objects.get(pk=(plan or self.draft(**overrides)).pk)
        if plan.status in (Plan.Status.DRAFT, Plan.Status.RETURNED):
            plan = self.submitted(plan)
        while plan.status in (Plan.Status.CITY_REVIEW, Plan.Status.BUREAU_REVIEW):
            plan = services.approve_plan(self.reviewer_of(plan), plan=plan)
        return plan

    def published(self, plan: Plan | None = None, **overrides) -> Plan:
        plan = self.filed(plan, **overrides)
        return services.publish_plan(self.head_of(plan.body), plan=plan)


def build_scenario() -> Scenario:
    s = Scenario()
    s.city = RegionFactory()
    s.jinshan = RegionFactory(code="310116", name="金山区", level=Region.Level.DISTRICT, parent=s.city)
    s.zhujing = RegionFactory(code="310116101", name="朱泾镇", level=Region.Level.TOWN, parent=s.jinshan)
    s.fengjing = RegionFactory(code="310116102", name="枫泾镇", level=Region.Level.TOWN, parent=s.jinshan)
    s.minhang = RegionFactory(code="310112", name="闵行区", level=Region.Level.DISTRICT, parent=s.city)
    s.gas = FieldFactory()
    s.market = FieldFactory(code="market", name="市场监管")

    s.city_body = BodyFactory(
        name="上海市燃气管理处", level=EnforcementBody.Level.CITY, region=s.city, fields=[s.gas]
    )
    s.city_market = BodyFactory(
        name="上海市市场监督管理局", level=EnforcementBody.Level.CITY, region=s.city, fields=[s.market]
    )
    s.body = BodyFactory(
        name="金山区建设和管理委员会", region=s.jinshan, fields=[s.gas], city_counterpart=s.city_body
    )
    s.partner = BodyFactory(
        name="金山区市场监督管理局", region=s.jinshan, fields=[s.market], city_counterpart=s.city_market
    )
    s.town_body = BodyFactory(
        name="朱泾镇综合行政执法队", level=EnforcementBody.Level.TOWN, region=s.zhujing, fields=[s.gas]
    )
    s.other_body = BodyFactory(
        name="闵行区建设和管理委员会", region=s.minhang, fields=[s.gas], city_counterpart=s.city_body
    )
    today = timezone.localdate()
    s.entrusted = BodyFactory(
        name="金山区燃气安全执法大队",
        body_type=EnforcementBody.Type.ENTRUSTED,
        level=EnforcementBody.Level.TOWN,
        region=s.fengjing,
        fields=[s.gas],
        entrusting_organ=s.body,
        entrustment_start=D(today.year, 1, 1),
        entrustment_end=D(today.year, 12, 31),
    )

    s.item = ItemFactory(
        name="燃气经营许可情况检查",
        field=s.gas,
        bodies=[s.body, s.town_body, s.other_body, s.city_body],
    )
    s.second_item = ItemFactory(name="燃气设施安全检查", field=s.gas, bodies=[s.body])
    s.partner_item = ItemFactory(
        name="燃气器具产品质量检查", field=s.market, bodies=[s.partner], checklist=["燃气器具是否有合格证明"]
    )
    s.unpublished_item = ItemFactory(
        name="燃气安全评价报告检查", field=s.gas, bodies=[s.body], is_published=False
    )
    s.entrusted.entrusted_items.set([s.item])

    s.inspector_user = user_for(Role.INSPECTOR, body=s.body, full_name="张三")
    s.head = user_for(Role.BODY_ADMIN, body=s.body, full_name="金山建管委负责人")
    s.partner_head = user_for(Role.BODY_ADMIN, body=s.partner, full_name="金山市场监管局负责人")
    s.partner_inspector = user_for(Role.INSPECTOR, body=s.partner, full_name="王五")
    s.town_head = user_for(Role.BODY_ADMIN, body=s.town_body, full_name="朱泾执法队负责人")
    s.town_inspector = user_for(Role.INSPECTOR, body=s.town_body, full_name="朱泾执法员")
    s.other_head = user_for(Role.BODY_ADMIN, body=s.other_body, full_name="闵行建管委负责人")
    s.city_head = user_for(Role.BODY_ADMIN, body=s.city_body, full_name="市燃气处管理员")
    s.entrusted_head = user_for(Role.BODY_ADMIN, body=s.entrusted, full_name="燃气执法大队负责人")
    s.city_reviewer = user_for(Role.CITY_REVIEWER, body=s.city_body, full_name="市燃气处审核人")
    s.city_market_reviewer = user_for(Role.CITY_REVIEWER, body=s.city_market, full_name="市市场监管局审核人")
    s.supervisor = user_for(Role.SUPERVISOR, region=s.jinshan, full_name="金山区司法局监督员")
    s.mh_supervisor = user_for(Role.SUPERVISOR, region=s.minhang, full_name="闵行区司法局监督员")
    s.city_supervisor = user_for(Role.SUPERVISOR, region=s.city, full_name="市司法局监督员")
    s.government = user_for(Role.DISTRICT_GOVERNMENT, region=s.jinshan)
    s.observer = user_for(Role.OBSERVER, region=s.jinshan)
    s.admin = user_for(Role.PLATFORM_ADMIN)

    gas, food = "燃气生产和供应业", "餐饮业"
    s.gas_a = EnterpriseFactory(name="金山燃气甲公司", region=s.jinshan, industry=gas, risk_grade="A")
    s.gas_c = EnterpriseFactory(name="金山燃气丙公司", region=s.zhujing, industry=gas, risk_grade="C")
    s.gas_d = EnterpriseFactory(name="金山燃气丁公司", region=s.fengjing, industry=gas, risk_grade="D")
    s.restaurant = EnterpriseFactory(name="金山某餐饮店", region=s.zhujing, industry=food, risk_grade="B")
    s.mh_gas = EnterpriseFactory(name="闵行燃气有限公司", region=s.minhang, industry=gas, risk_grade="C")
    s.contact = user_for(Role.ENTERPRISE_CONTACT, enterprise=s.gas_a)
    return s


@pytest.fixture
def s(db) -> Scenario:
    return build_scenario()


@pytest.fixture
def at(monkeypatch):
    """Fix the clock: `at(2025, 9, 30, 10)` makes every `timezone.now()` that moment (Shanghai time)."""

    def set_clock(*args) -> datetime.datetime:
        moment = timezone.make_aware(datetime.datetime(*args))
        monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment

    return set_clock


def names(enterprises) -> set[str]:
    return {e.name for e in enterprises}
