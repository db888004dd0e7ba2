"""Factories for the registry and users. Every enterprise gets a USCC with a correct check character."""

import datetime
import itertools

import factory
from django.utils import timezone

from jianchama.core.models import User
from jianchama.core.roles import Role
from jianchama.registry import uscc
from jianchama.registry.models import (
    Certificate,
    EnforcementBody,
    Enterprise,
    EnterpriseContact,
    Field,
    InspectionItem,
    Inspector,
    Region,
)

_serial = itertools.count(1)


def make_uscc(n: int, region_code: str = "310116") -> str:
    body = f"91{region_code}{'MA' + format(n, '07d')}"
    return body + uscc.check_character(body)


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    code = "310000"
    name = "上海市"
    level = Region.Level.CITY
    parent = None


class DistrictFactory(RegionFactory):
    code = "310116"
    name = "金山区"
    level = Region.Level.DISTRICT
    parent = factory.SubFactory(RegionFactory)


class FieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Field
        django_get_or_create = ("code",)

    code = "gas"
    name = "燃气管理"


class BodyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EnforcementBody
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"B{n:04d}")
    name = factory.Sequence(lambda n: f"金山区测试执法单位{n}")
    body_type = EnforcementBody.Type.ORGAN
    level = EnforcementBody.Level.DISTRICT
    region = factory.SubFactory(DistrictFactory)

    @factory.post_generation
    def fields(self, create, extracted, **kwargs):
        if create:
            self.fields.set(extracted if extracted is not None else [FieldFactory()])


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InspectionItem
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"I{n:05d}")
    name = factory.Sequence(lambda n: f"燃气经营许可情况检查{n}")
    field = factory.SubFactory(FieldFactory)
    legal_basis = "《城镇燃气管理条例》第十五条"
    checklist = ["是否取得燃气经营许可证", "是否按许可范围经营"]

    @factory.post_generation
    def bodies(self, create, extracted, **kwargs):
        if create and extracted:
            self.bodies.set(extracted)


class InspectorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Inspector

    name = factory.Sequence(lambda n: f"执法员{n}")
    body = factory.SubFactory(BodyFactory)


class CertificateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Certificate
        skip_postgeneration_save = True

    number = factory.Sequence(lambda n: f"31011600{n:05d}")
    inspector = factory.SubFactory(InspectorFactory)
    valid_from = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=365))
    valid_until = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=365))
    status = Certificate.Status.VALID

    @factory.post_generation
    def fields(self, create, extracted, **kwargs):
        if create:
            self.fields.set(extracted if extracted is not None else list(self.inspector.body.fields.all()))


class EnterpriseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enterprise

    uscc = factory.LazyFunction(lambda: make_uscc(next(_serial)))
    name = factory.Sequence(lambda n: f"上海测试燃气有限公司{n}")
    region = factory.SubFactory(DistrictFactory)
    industry = "燃气生产和供应业"


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EnterpriseContact

    enterprise = factory.SubFactory(EnterpriseFactory)
    kind = EnterpriseContact.Kind.LEGAL_REPRESENTATIVE
    name = "王经理"
    phone = factory.Sequence(lambda n: f"139{n:08d}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Sequence(lambda n: f"用户{n}")
    role = Role.PLATFORM_ADMIN
    password = factory.PostGenerationMethodCall("set_password", "demo-pass-123")

    @factory.post_generation
    def _save(self, create, extracted, **kwargs):
        if create:
            self.save()


def user_for(role: str, **kwargs) -> User:
    """A user of `role`, attached to what that role needs."""
    if role in (Role.INSPECTOR, Role.BODY_ADMIN, Role.CITY_REVIEWER) and "body" not in kwargs:
        kwargs["body"] = BodyFactory()
    region_roles = (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT, Role.COMPLAINT_INTAKE, Role.OBSERVER)
    if role in region_roles and "region" not in kwargs:
        kwargs["region"] = DistrictFactory()
    if role == Role.ENTERPRISE_CONTACT:
        if "enterprise" not in kwargs:
            kwargs["enterprise"] = EnterpriseFactory()
        kwargs.setdefault("phone", f"138{next(_serial):08d}")
    return UserFactory(role=role, **kwargs)


_plan_serial = itertools.count(1)


def filed_plan(body, *, items, method: str = "routine", start=None, end=None, **kwargs):
    """A plan of `body` already through filing, for tests of what cites a plan (filing itself is tested in
    tests/plans)."""
    import datetime as _datetime

    from django.utils import timezone

    from jianchama.plans.models import Plan

    today = timezone.localdate()
    plan = Plan.objects.create(
        number=f"测试计划〔{today.year}〕{next(_plan_serial)}号",
        body=body,
        title=kwargs.pop("title", f"{body.name}{today.year}年度检查计划"),
        period_start=start or today - _datetime.timedelta(days=30),
        period_end=end or today + _datetime.timedelta(days=365),
        method=method,
        expected_count=kwargs.pop("expected_count", 100),
        status=kwargs.pop("status", Plan.Status.FILED),
        created_by=kwargs.pop("created_by", None) or user_for(Role.BODY_ADMIN, body=body),
        **kwargs,
    )
    plan.items.set(items)
    return plan


def valid_since_yesterday(task):
    """The task's window and its code's validity moved to start yesterday, as for a task told a day ahead: an
    act backdated a few hours (offline app, API backfill) then falls within them at any hour. Between 00:00 and
    03:00 in Shanghai, "three hours ago" is yesterday, before a code valid from today, and the check-in is
    rightly refused."""
    from jianchama.inspections.models import InspectionCode, Task

    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    Task.objects.filter(pk=task.pk).update(window_start=yesterday)
    InspectionCode.objects.filter(task_id=task.pk).update(valid_from=yesterday)
    return Task.objects.get(pk=task.pk)
