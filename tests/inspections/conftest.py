"""A ready-made inspection scenario: Jinshan's gas body with its people, a partner body for joint inspections,
a Minhang body outside, enterprises with contact accounts, and helpers that take a task through its states
by the real services."""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest
from django.utils import timezone

from jianchama.core.roles import Role
from jianchama.inspections import services
from jianchama.inspections.models import Finding, InspectionRecord, Task
from jianchama.registry.models import EnforcementBody, Region
from tests.factories import (
    BodyFactory,
    CertificateFactory,
    ContactFactory,
    EnterpriseFactory,
    FieldFactory,
    InspectorFactory,
    ItemFactory,
    RegionFactory,
    filed_plan,
    user_for,
)

DAY = datetime.timedelta(days=1)


def inspector_with_account(body: EnforcementBody, name: str):
    """An inspector of `body` with a valid certificate in the body's fields and a login (role inspector)."""
    user = user_for(Role.INSPECTOR, body=body, full_name=name)
    inspector = InspectorFactory(name=name, body=body, user=user)
    inspector.certificate = CertificateFactory(inspector=inspector)
    return inspector


class Scenario(SimpleNamespace):
    """The world of one district, and shortcuts that move a task through its workflow by the services."""

    def draft(self, actor=None, **overrides) -> Task:
        today = timezone.localdate()
        args = {
            "enterprise": self.enterprise,
            "items": [self.item],
            "inspectors": [self.inspector, self.inspector2],
            "legal_basis": "《城镇燃气管理条例》第十五条",
            "kind": Task.Kind.ROUTINE,
            "window_start": today,
            "window_end": today + 10 * DAY,
        }
        args = {**args, **overrides}
        actor = actor or self.inspector_user
        if "plan" not in args and args["kind"] in Task.PLANNED_KINDS and actor.body is not None:
            # A planned inspection cites a filed plan of its lead body covering its items (F-10).
            args["plan"] = filed_plan(actor.body, items=args["items"], method=args["kind"])
        return services.create_task(actor, **args)

    def joint_draft(self, **overrides) -> Task:
        args = {
            "joint_bodies": [self.partner],
            "items": [self.item, self.partner_item],
            "inspectors": [self.inspector, self.inspector2, self.partner_inspector],
        }
        return self.draft(**{**args, **overrides})

    # Each step takes a task (or makes a draft from `overrides`) and moves it on only as far as needed, so
    # `s.recorded(task)` works for a draft as well as for a task already under way.

    def submitted(self, task: Task | None = None, **overrides) -> Task:
        task = Task.objects.get(pk=(task or self.draft(**overrides)).pk)
        if task.status == Task.Status.DRAFT:
            task = services.submit_task(self.inspector_user, task=task)
        return task

    def notified(self, task: Task | None = None, **overrides) -> Task:
        """Approved by the head of every participating body, so the enterprise is told."""
        task = self.submitted(task, **overrides)
        heads = {self.body: self.head, self.partner: self.partner_head, self.other_body: self.other_head}
        for part in task.task_bodies.filter(approved_at__isnull=True).select_related("body"):
            task = services.approve_task(heads[part.body], task=task)
        return task

    def told_yesterday(self, task: Task | None = None, **overrides) -> Task:
        """Notified, its window and code valid since yesterday (tests.factories.valid_since_yesterday)."""
        from tests.factories import valid_since_yesterday

        return valid_since_yesterday(self.notified(task, **overrides))

    def in_progress(self, task: Task | None = None, **overrides) -> Task:
        task = self.notified(task, **overrides)
        if task.status == Task.Status.NOTIFIED:
            task = services.check_in(self.inspector_user, task=task)
        return task

    def findings(self, task: Task, result: str = Finding.Result.COMPLIANT) -> list[services.FindingInput]:
        return [
            services.FindingInput(item=item, entry=entry, result=result, note="")
            for item in task.items.all()
            for entry in item.checklist
        ]

    def recorded(self, task: Task | None = None, **overrides) -> Task:
        task = self.in_progress(task, **overrides)
        if task.status == Task.Status.IN_PROGRESS:
            services.record_result(
                self.inspector_user,
                task=task,
                outcome=InspectionRecord.Outcome.NO_PROBLEM,
                summary="现场检查燃气经营许可证及经营范围，未发现问题",
                findings=self.findings(task),
            )
        return Task.objects.get(pk=task.pk)

    def closed(self, task: Task | None = None, **overrides) -> Task:
        task = self.recorded(task, **overrides)
        return services.close_task(self.head, task=task)


def build_scenario() -> Scenario:
    s = Scenario()
    s.city = RegionFactory()
    s.jinshan = RegionFactory(code="310116", name="金山区", level=Region.Level.DISTRICT, parent=s.city)
    s.minhang = RegionFactory(code="310112", name="闵行区", level=Region.Level.DISTRICT, parent=s.city)
    s.gas = FieldFactory()
    s.market = FieldFactory(code="market", name="市场监管")

    s.city_body = BodyFactory(
        name="上海市燃气管理处", level=EnforcementBody.Level.CITY, region=s.city, fields=[s.gas]
    )
    s.body = BodyFactory(
        name="金山区建设和管理委员会", region=s.jinshan, fields=[s.gas], city_counterpart=s.city_body
    )
    s.partner = BodyFactory(name="金山区市场监督管理局", region=s.jinshan, fields=[s.market])
    s.other_body = BodyFactory(name="闵行区建设和管理委员会", region=s.minhang, fields=[s.gas])

    s.item = ItemFactory(name="燃气经营许可情况检查", field=s.gas, bodies=[s.body, s.other_body])
    s.partner_item = ItemFactory(
        name="燃气器具产品质量检查",
        field=s.market,
        bodies=[s.partner],
        checklist=["燃气器具是否有合格证明"],
    )
    s.unpublished_item = ItemFactory(
        name="燃气安全评价报告检查", field=s.gas, bodies=[s.body], is_published=False
    )

    s.inspector = inspector_with_account(s.body, "张三")
    s.inspector2 = inspector_with_account(s.body, "李四")
    s.inspector_user = s.inspector.user
    s.inspector2_user = s.inspector2.user
    s.head = user_for(Role.BODY_ADMIN, body=s.body, full_name="金山建管委负责人")
    s.partner_inspector = inspector_with_account(s.partner, "王五")
    s.partner_head = user_for(Role.BODY_ADMIN, body=s.partner, full_name="金山市场监管局负责人")
    s.other_inspector = inspector_with_account(s.other_body, "赵六")
    s.other_inspector_user = s.other_inspector.user
    s.partner_inspector_user = s.partner_inspector.user
    s.other_head = user_for(Role.BODY_ADMIN, body=s.other_body, full_name="闵行建管委负责人")

    s.enterprise = EnterpriseFactory(name="金山燃气有限公司", region=s.jinshan)
    ContactFactory(enterprise=s.enterprise, phone="13900000001")
    s.contact = user_for(Role.ENTERPRISE_CONTACT, enterprise=s.enterprise, phone="13900000001")
    s.other_enterprise = EnterpriseFactory(name="金山另一燃气公司", region=s.jinshan)
    s.other_contact = user_for(Role.ENTERPRISE_CONTACT, enterprise=s.other_enterprise)
    s.mh_enterprise = EnterpriseFactory(name="闵行燃气有限公司", region=s.minhang)

    s.supervisor = user_for(Role.SUPERVISOR, region=s.jinshan)
    s.mh_supervisor = user_for(Role.SUPERVISOR, region=s.minhang)
    s.city_reviewer = user_for(Role.CITY_REVIEWER, body=s.city_body)
    s.observer = user_for(Role.OBSERVER, region=s.jinshan)
    return s


@pytest.fixture
def s(db) -> Scenario:
    return build_scenario()
