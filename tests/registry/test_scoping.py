"""Each role sees its own part of the registry and nothing else: `visible_to` for every model and role."""

import datetime
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from jianchama.core.roles import Role
from jianchama.registry.models import (
    Certificate,
    EnforcementBody,
    Enterprise,
    InspectionItem,
    Inspector,
    Region,
)
from tests.factories import (
    BodyFactory,
    CertificateFactory,
    EnterpriseFactory,
    FieldFactory,
    InspectorFactory,
    ItemFactory,
    RegionFactory,
    user_for,
)

pytestmark = pytest.mark.django_db


def build_world() -> SimpleNamespace:
    """Shanghai with two districts (Jinshan with a town, Minhang), a city gas body and its counterparts."""
    w = SimpleNamespace()
    w.city = RegionFactory()
    w.jinshan = RegionFactory(code="310116", name="金山区", level=Region.Level.DISTRICT, parent=w.city)
    w.zhujing = RegionFactory(code="310116101", name="朱泾镇", level=Region.Level.TOWN, parent=w.jinshan)
    w.minhang = RegionFactory(code="310112", name="闵行区", level=Region.Level.DISTRICT, parent=w.city)
    w.gas = FieldFactory()
    w.transport = FieldFactory(code="transport", name="道路运输")
    w.city_body = BodyFactory(
        name="上海市燃气管理处", level=EnforcementBody.Level.CITY, region=w.city, fields=[w.gas]
    )
    w.js_body = BodyFactory(
        name="金山区建设和管理委员会", region=w.jinshan, fields=[w.gas], city_counterpart=w.city_body
    )
    w.mh_body = BodyFactory(
        name="闵行区建设和管理委员会", region=w.minhang, fields=[w.gas], city_counterpart=w.city_body
    )
    w.town_body = BodyFactory(
        name="朱泾镇综合行政执法队", level=EnforcementBody.Level.TOWN, region=w.zhujing, fields=[w.gas]
    )
    w.city_inspector = InspectorFactory(name="市执法员", body=w.city_body)
    w.js_inspector = InspectorFactory(name="金山执法员", body=w.js_body)
    w.js_inspector2 = InspectorFactory(name="金山执法员二", body=w.js_body)
    w.mh_inspector = InspectorFactory(name="闵行执法员", body=w.mh_body)
    w.town_inspector = InspectorFactory(name="朱泾执法员", body=w.town_body)
    w.certificates = {
        i.pk: CertificateFactory(inspector=i)
        for i in (w.city_inspector, w.js_inspector, w.js_inspector2, w.mh_inspector, w.town_inspector)
    }
    w.js_enterprise = EnterpriseFactory(name="金山燃气", region=w.jinshan)
    w.town_enterprise = EnterpriseFactory(name="朱泾燃气", region=w.zhujing)
    w.mh_enterprise = EnterpriseFactory(name="闵行燃气", region=w.minhang)
    w.city_enterprise = EnterpriseFactory(name="市属燃气集团", region=w.city)
    w.item = ItemFactory(field=w.gas, bodies=[w.city_body, w.js_body, w.mh_body, w.town_body])
    w.item2 = ItemFactory(field=w.gas, bodies=[w.js_body])
    w.draft = ItemFactory(field=w.gas, is_published=False)
    return w


@pytest.fixture
def world():
    return build_world()


def names(queryset) -> set[str]:
    return {str(obj) for obj in queryset}


def visible(model, user) -> set[str]:
    return names(model.objects.visible_to(user))


def certificate_holders(user) -> set[str]:
    return {c.inspector.name for c in Certificate.objects.visible_to(user).select_related("inspector")}


ALL_BODIES = {"上海市燃气管理处", "金山区建设和管理委员会", "闵行区建设和管理委员会", "朱泾镇综合行政执法队"}
ALL_INSPECTORS = {"市执法员", "金山执法员", "金山执法员二", "闵行执法员", "朱泾执法员"}
ALL_ENTERPRISES = {"金山燃气", "朱泾燃气", "闵行燃气", "市属燃气集团"}


def every_body() -> set[str]:
    # Not ALL_BODIES: tests.factories.user_for creates a spare body even when given one.
    bodies = names(EnforcementBody.objects.all())
    assert bodies >= ALL_BODIES
    return bodies


def published(w) -> set[str]:
    return {str(w.item), str(w.item2)}


@pytest.mark.parametrize("role", [Role.INSPECTOR, Role.BODY_ADMIN])
def test_district_body_staff_see_their_body_and_their_district(world, role):
    user = user_for(role, body=world.js_body)
    assert visible(EnforcementBody, user) == every_body()  # bodies are public
    assert visible(Inspector, user) == {"金山执法员", "金山执法员二"}
    assert certificate_holders(user) == {"金山执法员", "金山执法员二"}
    assert visible(Enterprise, user) == {"金山燃气", "朱泾燃气"}
    assert visible(InspectionItem, user) == published(world)


def test_town_body_staff_work_within_their_district(world):
    user = user_for(Role.INSPECTOR, body=world.town_body)
    assert visible(Inspector, user) == {"朱泾执法员"}
    assert visible(Enterprise, user) == {"金山燃气", "朱泾燃气"}


def test_city_body_staff_see_enterprises_of_the_whole_city(world):
    user = user_for(Role.BODY_ADMIN, body=world.city_body)
    assert visible(Inspector, user) == {"市执法员"}
    assert visible(Enterprise, user) == ALL_ENTERPRISES


def test_city_reviewer_sees_its_body_and_its_district_counterparts(world):
    user = user_for(Role.CITY_REVIEWER, body=world.city_body)
    assert visible(EnforcementBody, user) == every_body()
    # The town body has no city counterpart: not the reviewer's.
    assert visible(Inspector, user) == {"市执法员", "金山执法员", "金山执法员二", "闵行执法员"}
    assert certificate_holders(user) == {"市执法员", "金山执法员", "金山执法员二", "闵行执法员"}
    assert visible(Enterprise, user) == ALL_ENTERPRISES
    assert visible(InspectionItem, user) == published(world)


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT])
def test_jinshan_supervision_sees_jinshan_only(world, role):
    user = user_for(role, region=world.jinshan)
    assert visible(Inspector, user) == {"金山执法员", "金山执法员二", "朱泾执法员"}
    assert certificate_holders(user) == {"金山执法员", "金山执法员二", "朱泾执法员"}
    assert visible(Enterprise, user) == {"金山燃气", "朱泾燃气"}
    assert "闵行燃气" not in visible(Enterprise, user)
    assert visible(InspectionItem, user) == published(world)


def test_minhang_district_government_sees_minhang_only(world):
    user = user_for(Role.DISTRICT_GOVERNMENT, region=world.minhang)
    assert visible(Inspector, user) == {"闵行执法员"}
    assert visible(Enterprise, user) == {"闵行燃气"}


def test_enterprise_contact_sees_only_its_enterprise(world):
    user = user_for(Role.ENTERPRISE_CONTACT, enterprise=world.js_enterprise)
    assert visible(Enterprise, user) == {"金山燃气"}
    assert visible(Inspector, user) == set()
    assert certificate_holders(user) == set()
    assert visible(EnforcementBody, user) == every_body()
    assert visible(InspectionItem, user) == published(world)


def test_complaint_intake_sees_enterprises_of_its_region_but_no_inspectors(world):
    user = user_for(Role.COMPLAINT_INTAKE, region=world.jinshan)
    assert visible(Enterprise, user) == {"金山燃气", "朱泾燃气"}
    assert visible(Inspector, user) == set()
    assert certificate_holders(user) == set()


def test_observer_sees_public_lists_only(world):
    user = user_for(Role.OBSERVER, region=world.jinshan)
    assert visible(EnforcementBody, user) == every_body()
    assert visible(InspectionItem, user) == published(world)
    assert visible(Enterprise, user) == set()
    assert visible(Inspector, user) == set()
    assert certificate_holders(user) == set()


def test_platform_admin_sees_everything_including_draft_items(world):
    user = user_for(Role.PLATFORM_ADMIN)
    assert visible(EnforcementBody, user) == every_body()
    assert visible(Inspector, user) == ALL_INSPECTORS
    assert certificate_holders(user) == ALL_INSPECTORS
    assert visible(Enterprise, user) == ALL_ENTERPRISES
    assert visible(InspectionItem, user) == published(world) | {str(world.draft)}


def test_anonymous_sees_published_items_and_nothing_else(world):
    anonymous = AnonymousUser()
    assert visible(EnforcementBody, anonymous) == set()
    assert visible(Inspector, anonymous) == set()
    assert visible(Enterprise, anonymous) == set()
    assert visible(InspectionItem, anonymous) == published(world)


def test_a_misconfigured_account_sees_nothing_rather_than_failing(world):
    # A supervisor without a region, an inspector without a body: neither should see the whole registry.
    supervisor = user_for(Role.SUPERVISOR, region=world.jinshan)
    supervisor.region = None
    inspector = user_for(Role.INSPECTOR, body=world.js_body)
    inspector.body = None
    for user in (supervisor, inspector):
        assert visible(Inspector, user) == set()
        assert visible(Enterprise, user) == set()


def test_manageable_by_body_admin_is_its_own_body_and_district(world):
    admin = user_for(Role.BODY_ADMIN, body=world.js_body)
    assert names(EnforcementBody.objects.manageable_by(admin)) == {"金山区建设和管理委员会"}
    assert names(Inspector.objects.manageable_by(admin)) == {"金山执法员", "金山执法员二"}
    assert names(Enterprise.objects.manageable_by(admin)) == {"金山燃气", "朱泾燃气"}
    assert not InspectionItem.objects.manageable_by(admin).exists()
    inspector = user_for(Role.INSPECTOR, body=world.js_body)
    assert not Inspector.objects.manageable_by(inspector).exists()
    assert not Enterprise.objects.manageable_by(inspector).exists()


def test_expired_certificate_stays_visible_with_its_effective_status(world):
    certificate = world.certificates[world.js_inspector.pk]
    certificate.valid_until = timezone.localdate() - datetime.timedelta(days=1)
    certificate.save()
    user = user_for(Role.BODY_ADMIN, body=world.js_body)
    shown = Certificate.objects.visible_to(user).get(pk=certificate.pk)
    assert shown.effective_status == Certificate.Status.EXPIRED
