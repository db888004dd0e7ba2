"""The qualification check page (F-05): pick bodies, inspectors, items and a day; see every rule broken."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from jianchama.core.roles import Role
from jianchama.registry import services
from jianchama.registry.models import Certificate
from tests.factories import user_for
from tests.registry.test_scoping import build_world

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)
URL = reverse("registry:qualification_check")


@pytest.fixture
def w():
    return build_world()


def login(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def check(client, *, bodies, inspectors, items=(), on=TODAY):
    return client.get(
        URL,
        {
            "bodies": [b.pk for b in bodies],
            "inspectors": [i.pk for i in inspectors],
            "items": [i.pk for i in items],
            "on": on.isoformat(),
        },
    )


def test_body_admin_sees_the_form_with_its_own_inspectors(client, w):
    login(client, user_for(Role.BODY_ADMIN, body=w.js_body))
    response = client.get(URL)
    page = text(response)
    assert response.status_code == 200
    assert "资格核验" in page
    assert "金山执法员（金山区建设和管理委员会）" in page
    assert "闵行执法员" not in page  # only the inspectors it may see
    assert f'value="{TODAY.isoformat()}"' in page
    assert "全部规则均已通过" not in page


def test_a_qualified_team_passes(client, w):
    login(client, user_for(Role.BODY_ADMIN, body=w.js_body))
    page = text(
        check(
            client, bodies=[w.js_body], inspectors=[w.js_inspector, w.js_inspector2], items=[w.item, w.item2]
        )
    )
    assert "全部规则均已通过" in page
    assert "不符合资格要求" not in page


def test_every_broken_rule_is_listed(client, w):
    admin = user_for(Role.PLATFORM_ADMIN)
    expired = w.certificates[w.js_inspector.pk]
    expired.valid_until = TODAY - 10 * DAY
    expired.save()
    services.set_certificate_status(
        admin,
        certificate=w.certificates[w.js_inspector2.pk],
        status=Certificate.Status.SUSPENDED,
        reason="金司决〔2026〕5号",
    )
    login(client, user_for(Role.BODY_ADMIN, body=w.js_body))
    page = text(
        check(client, bodies=[w.js_body], inspectors=[w.js_inspector, w.js_inspector2], items=[w.item])
    )
    assert "不符合资格要求（2 项）" in page
    assert f"执法人员金山执法员的执法证{expired.number}已于" in page and "过期" in page
    assert "已被暂停使用（金司决〔2026〕5号）" in page
    assert "全部规则均已通过" not in page


def test_platform_admin_checks_a_single_inspector_for_an_unauthorised_item(client, w):
    login(client, user_for(Role.PLATFORM_ADMIN))
    page = text(check(client, bodies=[w.mh_body], inspectors=[w.mh_inspector], items=[w.item2]))
    assert "现场检查的执法人员不得少于2人，当前只有1人" in page
    assert f"执法单位“闵行区建设和管理委员会”无权检查事项“{w.item2.name}”" in page


def test_the_check_day_matters(client, w):
    login(client, user_for(Role.BODY_ADMIN, body=w.js_body))
    later = w.certificates[w.js_inspector.pk].valid_until + DAY
    page = text(
        check(
            client, bodies=[w.js_body], inspectors=[w.js_inspector, w.js_inspector2], items=[w.item], on=later
        )
    )
    assert "不符合资格要求（2 项）" in page


def test_missing_choices_are_explained_in_chinese(client, w):
    login(client, user_for(Role.BODY_ADMIN, body=w.js_body))
    page = text(client.get(URL, {"on": "2026-13-01"}))
    assert "这个字段是必填项" in page
    assert "输入一个有效的日期" in page
    assert "全部规则均已通过" not in page
    # An inspector of another body cannot be slipped in.
    page = text(
        client.get(
            URL, {"bodies": [w.js_body.pk], "inspectors": [w.mh_inspector.pk], "on": TODAY.isoformat()}
        )
    )
    assert "选择一个有效的选项" in page


@pytest.mark.parametrize("role", [Role.INSPECTOR, Role.SUPERVISOR, Role.ENTERPRISE_CONTACT])
def test_other_roles_are_refused(client, w, role):
    kwargs = {
        Role.INSPECTOR: {"body": w.js_body},
        Role.SUPERVISOR: {"region": w.jinshan},
        Role.ENTERPRISE_CONTACT: {"enterprise": w.js_enterprise},
    }[role]
    login(client, user_for(role, **kwargs))
    response = client.get(URL)
    assert response.status_code == 403
    assert "只有执法单位管理员或平台管理员可以进行资格核验" in text(response)


def test_login_is_required(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("core:login") in response["Location"]
