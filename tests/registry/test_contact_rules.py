"""Registry side of issue 10, item 1: no enforcement body manages an enterprise's logins, whatever its
relation to the enterprise; the platform administrator does, from the registry pages."""

import re

import pytest
from django.urls import reverse

from jianchama.core.errors import PermissionDenied
from jianchama.core.models import User
from jianchama.core.roles import Role
from jianchama.registry import services
from jianchama.registry.models import EnterpriseContact
from tests.factories import ContactFactory, user_for
from tests.registry.test_scoping import build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    return build_world()


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


STAFF = {
    "district_body_admin": lambda w: user_for(Role.BODY_ADMIN, body=w.js_body),
    "town_body_admin": lambda w: user_for(Role.BODY_ADMIN, body=w.town_body),
    "city_body_admin": lambda w: user_for(Role.BODY_ADMIN, body=w.city_body),
    "inspector": lambda w: user_for(Role.INSPECTOR, body=w.js_body),
    "city_reviewer": lambda w: user_for(Role.CITY_REVIEWER, body=w.city_body),
    "supervisor": lambda w: user_for(Role.SUPERVISOR, region=w.jinshan),
    "complaint_intake": lambda w: user_for(Role.COMPLAINT_INTAKE, region=w.jinshan),
}


@pytest.mark.parametrize("who", STAFF)
def test_staff_never_add_or_remove_an_enterprises_contacts(client, w, who):
    actor = STAFF[who](w)
    contact = ContactFactory(enterprise=w.js_enterprise, kind="on_site", phone="13900000002")
    with pytest.raises(PermissionDenied) as refused:
        services.add_contact(
            actor, enterprise=w.js_enterprise, kind="on_site", name="赵", phone="13912345678"
        )
    assert "只有平台管理员或企业本人可以维护企业“金山燃气”的联系人" in refused.value.message
    with pytest.raises(PermissionDenied):
        services.remove_contact(actor, contact=contact)

    client.force_login(actor)
    detail = client.get(reverse("registry:enterprise_detail", args=[w.js_enterprise.pk]))
    if detail.status_code == 200:  # the enterprise is in the user's scope
        assert "添加联系人" not in text(detail) and "移除</button>" not in text(detail)
    response = client.post(
        reverse("registry:contact_create", args=[w.js_enterprise.pk]),
        {"kind": "on_site", "name": "赵", "phone": "13912345678"},
    )
    assert response.status_code in (403, 404)
    assert client.post(reverse("registry:contact_remove", args=[contact.pk])).status_code in (403, 404)
    assert not User.objects.filter(phone="13912345678").exists()
    assert list(EnterpriseContact.objects.values_list("phone", flat=True)) == ["13900000002"]


def test_a_second_legal_representative_is_refused(w):
    admin = user_for(Role.PLATFORM_ADMIN)
    services.add_contact(
        admin, enterprise=w.js_enterprise, kind="legal_representative", name="王", phone="13900000001"
    )
    with pytest.raises(
        services.DomainError, match="企业已登记法定代表人王（手机号139\\*\\*\\*\\*0001），如需更换"
    ):
        services.add_contact(
            admin, enterprise=w.js_enterprise, kind="legal_representative", name="钱", phone="13900000002"
        )
