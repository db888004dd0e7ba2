"""Registry pages: who sees what, who may write, and what a refused form says."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from jianchama.core.models import AuditEvent, User
from jianchama.core.roles import Role
from jianchama.registry import services
from jianchama.registry.models import (
    Certificate,
    EnforcementBody,
    Enterprise,
    EnterpriseContact,
    InspectionItem,
)
from tests.factories import ContactFactory, EnterpriseFactory, make_uscc, user_for
from tests.registry.test_scoping import build_world

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)


@pytest.fixture
def w():
    return build_world()


def login(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def timeline(response) -> str:
    page = text(response)
    assert "变更记录" in page
    return page.split("变更记录", 1)[1]


@pytest.fixture
def as_role(client, w):
    def make(role, **kwargs):
        if role in (Role.INSPECTOR, Role.BODY_ADMIN, Role.CITY_REVIEWER):
            kwargs.setdefault("body", w.js_body)
        if role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT, Role.COMPLAINT_INTAKE, Role.OBSERVER):
            kwargs.setdefault("region", w.jinshan)
        if role == Role.ENTERPRISE_CONTACT:
            kwargs.setdefault("enterprise", w.js_enterprise)
        return login(client, user_for(role, **kwargs))

    return make


# --- Reading ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [r for r in Role.values if r != Role.ENTERPRISE_CONTACT])
def test_every_staff_role_can_open_the_lists(as_role, role):
    client = as_role(role)
    for name in ("body_list", "inspector_list", "enterprise_list", "item_list"):
        response = client.get(reverse(f"registry:{name}"))
        assert response.status_code == 200, name


def test_lists_need_a_login(client):
    response = client.get(reverse("registry:enterprise_list"))
    assert response.status_code == 302
    assert reverse("core:login") in response["Location"]


def main_text(response) -> str:
    """The page without its frame (the header names the user's own body)."""
    return text(response).split('<main class="page" id="main">', 1)[1].split("</main>", 1)[0]


def test_body_list_searches_and_filters(as_role, w):
    client = as_role(Role.INSPECTOR)
    text = main_text
    page = text(client.get(reverse("registry:body_list"), {"q": "金山"}))
    assert "金山区建设和管理委员会" in page and "闵行区建设和管理委员会" not in page
    page = text(client.get(reverse("registry:body_list"), {"level": "city"}))
    assert "上海市燃气管理处" in page and "金山区建设和管理委员会" not in page
    page = text(client.get(reverse("registry:body_list"), {"region": w.jinshan.pk}))
    assert "朱泾镇综合行政执法队" in page and "闵行区建设和管理委员会" not in page
    page = text(client.get(reverse("registry:body_list"), {"field": w.transport.pk}))
    assert "没有符合条件的执法单位" in page


def test_body_detail_shows_counterpart_items_and_timeline(as_role, w):
    admin = user_for(Role.PLATFORM_ADMIN)
    services.update_body(admin, body=w.js_body, head_name="张主任")
    client = as_role(Role.BODY_ADMIN)
    response = client.get(reverse("registry:body_detail", args=[w.js_body.pk]))
    page = text(response)
    assert "上海市燃气管理处" in page  # city counterpart
    assert w.item.name in page and w.item2.name in page
    assert "修改执法单位信息" in timeline(response) and "张主任" in timeline(response)
    assert reverse("registry:body_edit", args=[w.js_body.pk]) not in page  # body admins don't edit bodies
    assert "新增执法人员" in page


def test_inspector_list_shows_only_the_body_and_certificate_badges(as_role, w):
    certificate = w.certificates[w.js_inspector2.pk]
    certificate.valid_until = TODAY - DAY
    certificate.save()
    client = as_role(Role.INSPECTOR)
    page = text(client.get(reverse("registry:inspector_list")))
    assert "金山执法员" in page and "闵行执法员" not in page and "市执法员" not in page
    assert '<span class="badge expired">已过期</span>' in page
    assert "新增执法人员" not in page  # an inspector may not add colleagues
    page = text(client.get(reverse("registry:inspector_list"), {"status": "expired"}))
    assert "金山执法员二" in page and ">金山执法员<" not in page
    page = text(client.get(reverse("registry:inspector_list"), {"q": certificate.number}))
    assert "金山执法员二" in page and ">金山执法员<" not in page


def test_inspector_detail_shows_status_and_days_to_expiry(as_role, w):
    certificate = w.certificates[w.js_inspector.pk]
    certificate.valid_until = TODAY + 20 * DAY
    certificate.save()
    page = text(as_role(Role.BODY_ADMIN).get(reverse("registry:inspector_detail", args=[w.js_inspector.pk])))
    assert certificate.number in page
    assert '<span class="badge valid">有效</span>' in page
    assert "20 天" in page and "即将到期" in page
    assert "登记执法证件" in page
    assert "变更状态" not in page  # only the platform admin


def test_out_of_scope_objects_are_not_found(as_role, w):
    client = as_role(Role.SUPERVISOR)  # Jinshan
    assert client.get(reverse("registry:enterprise_detail", args=[w.mh_enterprise.pk])).status_code == 404
    assert client.get(reverse("registry:inspector_detail", args=[w.mh_inspector.pk])).status_code == 404
    assert client.get(reverse("registry:enterprise_detail", args=[w.js_enterprise.pk])).status_code == 200
    assert client.get(reverse("registry:item_detail", args=[w.draft.pk])).status_code == 404
    client = as_role(Role.INSPECTOR)
    assert client.get(reverse("registry:inspector_detail", args=[w.city_inspector.pk])).status_code == 404
    cert = w.certificates[w.mh_inspector.pk]
    assert client.get(reverse("registry:certificate_edit", args=[cert.pk])).status_code == 404


def test_enterprise_contact_sees_its_own_enterprise_only(as_role, w):
    ContactFactory(enterprise=w.js_enterprise, name="王经理")
    client = as_role(Role.ENTERPRISE_CONTACT)
    response = client.get(reverse("registry:enterprise_detail_own"))
    page = text(response)
    assert response.status_code == 200
    assert "金山燃气" in page and "王经理" in page
    assert "变更记录" not in page  # the log is for staff
    assert "添加联系人" not in page
    assert client.get(reverse("registry:enterprise_detail", args=[w.mh_enterprise.pk])).status_code == 404
    page = text(client.get(reverse("registry:enterprise_list")))
    assert "金山燃气" in page and "闵行燃气" not in page
    assert client.get(reverse("registry:inspector_detail", args=[w.js_inspector.pk])).status_code == 404


def test_enterprise_list_searches_by_uscc_filters_and_paginates(as_role, w):
    client = as_role(Role.PLATFORM_ADMIN)
    page = text(client.get(reverse("registry:enterprise_list"), {"q": w.mh_enterprise.uscc.lower()}))
    assert "闵行燃气" in page and "金山燃气" not in page
    w.js_enterprise.risk_grade = "D"
    w.js_enterprise.save()
    page = text(client.get(reverse("registry:enterprise_list"), {"risk_grade": "D"}))
    assert "金山燃气" in page and "闵行燃气" not in page
    page = text(client.get(reverse("registry:enterprise_list"), {"region": w.jinshan.pk}))
    assert "朱泾燃气" in page and "闵行燃气" not in page
    EnterpriseFactory.create_batch(50, region=w.minhang)
    response = client.get(reverse("registry:enterprise_list"), {"region": w.minhang.pk})
    assert len(response.context["page"].object_list) == 50
    page = text(response)
    assert "第 1 / 2 页，共 51 条" in page
    assert f"region={w.minhang.pk}" in page and "page=2" in page
    response = client.get(reverse("registry:enterprise_list"), {"region": w.minhang.pk, "page": 2})
    assert len(response.context["page"].object_list) == 1


def test_item_pages_show_checklist_and_hide_drafts(as_role, w):
    client = as_role(Role.OBSERVER)
    page = text(client.get(reverse("registry:item_list")))
    assert w.item.name in page and w.draft.name not in page
    assert "新增检查事项" not in page
    page = text(client.get(reverse("registry:item_detail", args=[w.item.pk])))
    assert "<li>是否取得燃气经营许可证</li>" in page
    assert "金山区建设和管理委员会" in page
    page = text(as_role(Role.PLATFORM_ADMIN).get(reverse("registry:item_list")))
    assert w.draft.name in page and "未公布" in page and "新增检查事项" in page


# --- Writing ------------------------------------------------------------------------------------------


def test_platform_admin_creates_a_body_through_the_form(as_role, w):
    client = as_role(Role.PLATFORM_ADMIN)
    assert "新增执法单位" in text(client.get(reverse("registry:body_list")))
    response = client.post(
        reverse("registry:body_create"),
        {
            "code": "MH-SAFE",
            "name": "闵行区应急管理局",
            "body_type": "organ",
            "level": "district",
            "region": w.minhang.pk,
            "fields": [w.gas.pk],
            "city_counterpart": w.city_body.pk,
            "is_active": "on",
        },
    )
    body = EnforcementBody.objects.get(code="MH-SAFE")
    assert response.status_code == 302
    assert response["Location"] == reverse("registry:body_detail", args=[body.pk])
    response = client.get(response["Location"])
    assert "已新增执法单位“闵行区应急管理局”" in text(response)
    assert "登记执法单位" in timeline(response)


def test_body_form_shows_service_refusals_in_chinese(as_role, w):
    client = as_role(Role.PLATFORM_ADMIN)
    response = client.post(
        reverse("registry:body_create"),
        {
            "code": "MH-X",
            "name": "某受委托组织",
            "body_type": "entrusted",
            "level": "district",
            "region": w.minhang.pk,
            "fields": [w.gas.pk],
            "entrustment_start": "2026-06-01",
            "entrustment_end": "2026-01-01",
        },
    )
    page = text(response)
    assert response.status_code == 200
    assert "受委托组织必须登记委托机关" in page
    assert "委托期限起（2026年6月1日）晚于委托期限止（2026年1月1日）" in page
    response = client.post(reverse("registry:body_create"), {"code": "", "name": ""})
    assert "这个字段是必填项" in text(response)
    assert not EnforcementBody.objects.filter(code="MH-X").exists()


def test_edit_form_is_prefilled_and_saves(as_role, w):
    client = as_role(Role.PLATFORM_ADMIN)
    page = text(client.get(reverse("registry:body_edit", args=[w.js_body.pk])))
    assert f'value="{w.js_body.code}"' in page
    data = {
        "code": w.js_body.code,
        "name": w.js_body.name,
        "body_type": "organ",
        "level": "district",
        "region": w.jinshan.pk,
        "fields": [w.gas.pk],
        "city_counterpart": w.city_body.pk,
        "phone": "021-1",
    }
    response = client.post(reverse("registry:body_edit", args=[w.js_body.pk]), data)
    assert response.status_code == 302
    w.js_body.refresh_from_db()
    assert (w.js_body.phone, w.js_body.is_active) == ("021-1", False)


@pytest.mark.parametrize("role", [Role.BODY_ADMIN, Role.INSPECTOR, Role.SUPERVISOR])
def test_body_writes_by_other_roles_are_forbidden(as_role, w, role):
    client = as_role(role)
    response = client.get(reverse("registry:body_create"))
    assert response.status_code == 403
    assert "只有平台管理员可以新增执法单位" in text(response)
    response = client.post(reverse("registry:body_edit", args=[w.js_body.pk]), {"code": "X", "name": "X"})
    assert response.status_code == 403
    w.js_body.refresh_from_db()
    assert w.js_body.code != "X"


def test_body_admin_adds_an_inspector_and_certificate(as_role, w):
    client = as_role(Role.BODY_ADMIN)
    response = client.post(
        reverse("registry:inspector_create"),
        {
            "body": w.js_body.pk,
            "name": "孙七",
            "employee_number": "JS-100",
            "phone": "13700000000",
            "is_active": "on",
        },
    )
    inspector = w.js_body.inspectors.get(name="孙七")
    assert response["Location"] == reverse("registry:inspector_detail", args=[inspector.pk])
    response = client.post(
        reverse("registry:certificate_create", args=[inspector.pk]),
        {
            "number": "31011688888",
            "fields": [w.gas.pk],
            "valid_from": TODAY.isoformat(),
            "valid_until": (TODAY + 100 * DAY).isoformat(),
        },
    )
    assert response.status_code == 302
    response = client.get(reverse("registry:inspector_detail", args=[inspector.pk]))
    page = text(response)
    assert "31011688888" in page and '<span class="badge valid">有效</span>' in page and "100 天" in page
    assert "登记执法人员" in timeline(response)
    assert "登记执法证件</strong> · 31011688888" in timeline(response)


def test_certificate_form_errors_are_in_chinese(as_role, w):
    client = as_role(Role.BODY_ADMIN)
    response = client.post(
        reverse("registry:certificate_create", args=[w.js_inspector.pk]),
        {
            "number": "X-1",
            "fields": [w.gas.pk],
            "valid_from": TODAY.isoformat(),
            "valid_until": (TODAY - DAY).isoformat(),
        },
    )
    assert "晚于有效期止" in text(response)
    response = client.post(
        reverse("registry:certificate_create", args=[w.js_inspector.pk]),
        {
            "number": "X-1",
            "fields": [w.transport.pk],
            "valid_from": "明天",
            "valid_until": "",
        },
    )
    page = text(response)
    assert "输入一个有效的日期" in page
    assert "选择一个有效的选项" in page  # a field outside the body's is not even offered
    assert not Certificate.objects.filter(number="X-1").exists()


def test_inspector_may_not_manage_certificates(as_role, w):
    client = as_role(Role.INSPECTOR)
    url = reverse("registry:certificate_create", args=[w.js_inspector.pk])
    assert client.get(url).status_code == 403
    response = client.post(
        url, {"number": "Y", "fields": [w.gas.pk], "valid_from": "2026-01-01", "valid_until": "2027-01-01"}
    )
    assert response.status_code == 403
    assert not Certificate.objects.filter(number="Y").exists()
    assert client.get(reverse("registry:inspector_create")).status_code == 403


def test_platform_admin_suspends_a_certificate_through_the_page(as_role, w):
    client = as_role(Role.PLATFORM_ADMIN)
    certificate = w.certificates[w.js_inspector.pk]
    assert "变更状态" in text(client.get(reverse("registry:inspector_detail", args=[w.js_inspector.pk])))
    url = reverse("registry:certificate_status", args=[certificate.pk])
    assert "请填写暂停使用的理由" in text(client.post(url, {"status": "suspended", "reason": ""}))
    client.post(url, {"status": "suspended", "reason": "约谈期间暂停"})
    page = text(client.get(reverse("registry:inspector_detail", args=[w.js_inspector.pk])))
    assert '<span class="badge suspended">暂停使用</span>' in page and "约谈期间暂停" in page


def test_body_admin_may_not_suspend_certificates(as_role, w):
    client = as_role(Role.BODY_ADMIN)
    certificate = w.certificates[w.js_inspector.pk]
    response = client.post(
        reverse("registry:certificate_status", args=[certificate.pk]), {"status": "suspended", "reason": "x"}
    )
    assert response.status_code == 403
    certificate.refresh_from_db()
    assert certificate.status == Certificate.Status.VALID


def test_body_admin_registers_an_enterprise_and_the_platform_admin_its_contact(client, as_role, w):
    client = as_role(Role.BODY_ADMIN)
    assert "登记企业" in text(client.get(reverse("registry:enterprise_list")))
    code = make_uscc(7001)
    response = client.post(
        reverse("registry:enterprise_create"),
        {
            "uscc": code,
            "name": "金山化工有限公司",
            "region": w.jinshan.pk,
            "risk_grade": "C",
        },
    )
    enterprise = Enterprise.objects.get(uscc=code)
    assert response["Location"] == reverse("registry:enterprise_detail", args=[enterprise.pk])
    # The body registers the enterprise, never its logins (issue 10, item 1).
    page = text(client.get(reverse("registry:enterprise_detail", args=[enterprise.pk])))
    assert "添加联系人" not in page and "只能由企业本人（经法定代表人短信验证）或平台管理员维护" in page
    contact_form = {"kind": "legal_representative", "name": "周总", "phone": "13600000001"}
    response = client.post(reverse("registry:contact_create", args=[enterprise.pk]), contact_form)
    assert response.status_code == 403 and "执法单位人员不能添加、修改或移除" in text(response)
    assert not EnterpriseContact.objects.exists() and not User.objects.filter(phone="13600000001").exists()

    login(client, user_for(Role.PLATFORM_ADMIN))
    assert "添加联系人" in text(client.get(reverse("registry:enterprise_detail", args=[enterprise.pk])))
    response = client.post(reverse("registry:contact_create", args=[enterprise.pk]), contact_form)
    assert response.status_code == 302
    response = client.get(reverse("registry:enterprise_detail", args=[enterprise.pk]))
    page = text(response)
    assert "周总" in page and "13600000001" in page and "添加企业联系人" in timeline(response)
    assert User.objects.get(phone="13600000001").enterprise == enterprise
    contact = EnterpriseContact.objects.get(phone="13600000001")
    client.post(reverse("registry:contact_remove", args=[contact.pk]))
    assert not EnterpriseContact.objects.filter(pk=contact.pk).exists()
    response = client.get(reverse("registry:enterprise_detail", args=[enterprise.pk]))
    assert "已移除联系人周总" in text(response) and "移除企业联系人" in timeline(response)


def test_enterprise_form_explains_a_bad_uscc(as_role, w):
    client = as_role(Role.PLATFORM_ADMIN)
    code = make_uscc(7002)
    wrong = code[:17] + ("1" if code[17] != "1" else "2")
    page = text(
        client.post(
            reverse("registry:enterprise_create"),
            {
                "uscc": wrong,
                "name": "某公司",
                "region": w.jinshan.pk,
                "risk_grade": "B",
            },
        )
    )
    assert f"校验码不符：第18位应为“{code[17]}”" in page
    page = text(
        client.post(
            reverse("registry:enterprise_create"),
            {
                "uscc": "91310116MA1234567O",
                "name": "某公司",
                "region": w.jinshan.pk,
                "risk_grade": "B",
            },
        )
    )
    assert "不使用字母 I、O、S、V、Z" in page
    assert not Enterprise.objects.filter(name="某公司").exists()


def test_district_body_admin_cannot_register_enterprises_elsewhere(as_role, w):
    client = as_role(Role.BODY_ADMIN)
    # The form only offers its district's regions ...
    page = text(client.get(reverse("registry:enterprise_create")))
    assert "朱泾镇" in page and "闵行区" not in page
    # ... and a forged choice is refused.
    response = client.post(
        reverse("registry:enterprise_create"),
        {
            "uscc": make_uscc(7003),
            "name": "闵行某公司",
            "region": w.minhang.pk,
            "risk_grade": "B",
        },
    )
    assert "选择一个有效的选项" in text(response)
    response = client.get(reverse("registry:enterprise_edit", args=[w.mh_enterprise.pk]))
    assert response.status_code == 404  # not even visible


@pytest.mark.parametrize("role", [Role.INSPECTOR, Role.SUPERVISOR, Role.COMPLAINT_INTAKE])
def test_enterprise_writes_by_other_roles_are_forbidden(as_role, w, role):
    client = as_role(role)
    assert "登记企业" not in text(client.get(reverse("registry:enterprise_list")))
    assert client.get(reverse("registry:enterprise_create")).status_code == 403
    assert client.get(reverse("registry:enterprise_edit", args=[w.js_enterprise.pk])).status_code == 403
    response = client.post(
        reverse("registry:contact_create", args=[w.js_enterprise.pk]),
        {"kind": "on_site", "name": "x", "phone": "13600000002"},
    )
    assert response.status_code == 403
    contact = ContactFactory(enterprise=w.js_enterprise)
    assert client.post(reverse("registry:contact_remove", args=[contact.pk])).status_code == 403
    assert EnterpriseContact.objects.filter(pk=contact.pk).exists()


def test_enterprise_contact_may_not_edit_its_enterprise(as_role, w):
    client = as_role(Role.ENTERPRISE_CONTACT)
    assert client.get(reverse("registry:enterprise_edit", args=[w.js_enterprise.pk])).status_code == 403
    contact = ContactFactory(enterprise=w.js_enterprise)
    assert client.post(reverse("registry:contact_remove", args=[contact.pk])).status_code == 403


def test_platform_admin_creates_and_edits_an_item(as_role, w):
    client = as_role(Role.PLATFORM_ADMIN)
    response = client.post(
        reverse("registry:item_create"),
        {
            "code": "GAS-200",
            "name": "燃气用户安全检查",
            "field": w.gas.pk,
            "legal_basis": "《上海市燃气管理条例》",
            "checklist": "是否安装报警器\r\n\r\n是否定期检查软管\r\n",
            "bodies": [w.js_body.pk],
            "is_published": "on",
        },
    )
    item = InspectionItem.objects.get(code="GAS-200")
    assert response["Location"] == reverse("registry:item_detail", args=[item.pk])
    assert item.checklist == ["是否安装报警器", "是否定期检查软管"]
    edit_page = client.get(reverse("registry:item_edit", args=[item.pk])).content.decode()
    assert "是否安装报警器\n是否定期检查软管</textarea>" in edit_page
    response = client.post(
        reverse("registry:item_edit", args=[item.pk]),
        {
            "code": "GAS-200",
            "name": "燃气用户安全检查",
            "field": w.gas.pk,
            "legal_basis": "《上海市燃气管理条例》",
            "checklist": "是否安装报警器",
            "bodies": [w.js_body.pk],  # "is_published" unticked
        },
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.is_published is False and item.checklist == ["是否安装报警器"]
    assert AuditEvent.objects.filter(action="item.update", object_id=str(item.pk)).exists()


def test_item_form_shows_refusals(as_role, w):
    client = as_role(Role.PLATFORM_ADMIN)
    transport_body = EnforcementBody.objects.create(
        code="T1", name="金山区交通执法大队", body_type="organ", level="district", region=w.jinshan
    )
    transport_body.fields.set([w.transport])
    page = text(
        client.post(
            reverse("registry:item_create"),
            {
                "code": w.item.code,
                "name": "x",
                "field": w.gas.pk,
                "legal_basis": "y",
                "bodies": [transport_body.pk],
            },
        )
    )
    assert "已被事项" in page
    assert "金山区交通执法大队”的执法领域不含“燃气管理”" in page


def test_items_are_managed_by_the_platform_admin_only(as_role, w):
    client = as_role(Role.BODY_ADMIN)
    assert client.get(reverse("registry:item_create")).status_code == 403
    assert client.post(reverse("registry:item_edit", args=[w.item.pk]), {"code": "Z"}).status_code == 403


def test_django_admin_lists_the_registry_read_only(client, w):
    superuser = user_for(Role.PLATFORM_ADMIN, is_staff=True, is_superuser=True)
    login(client, superuser)
    for model in (
        "enforcementbody",
        "inspector",
        "certificate",
        "enterprise",
        "enterprisecontact",
        "inspectionitem",
        "region",
        "field",
    ):
        assert client.get(reverse(f"admin:registry_{model}_changelist"), {"q": "金山"}).status_code == 200
    page = text(client.get(reverse("admin:registry_enterprise_change", args=[w.js_enterprise.pk])))
    assert "金山燃气" in page and 'name="_save"' not in page  # view only: writes go through the services
    assert client.get(reverse("admin:registry_enterprise_add")).status_code == 403
    assert client.get(reverse("admin:registry_region_add")).status_code == 200


@pytest.mark.parametrize(("role", "offered"), [(Role.BODY_ADMIN, True), (Role.INSPECTOR, False)])
def test_import_is_offered_to_who_may_import(as_role, role, offered):
    client = as_role(role)
    for name, target in (
        ("enterprise_list", "registry_import:enterprises"),
        ("inspector_list", "registry_import:inspectors"),
    ):
        page = text(client.get(reverse(f"registry:{name}")))
        assert ("批量导入" in page) is offered, name
        assert (reverse(target) in page) is offered, name
    assert client.get(reverse("registry_import:enterprises")).status_code == (200 if offered else 403)


def test_the_enterprise_s_position_is_set_on_its_edit_page_both_or_neither(as_role, w):
    """亮码即定位 (F-44) compares the inspector's position with the enterprise's registered one: a body's
    administrator sets or corrects it on the enterprise's page, not only by import; both degrees or none,
    within range, each refusal in Chinese and nothing saved."""
    client = as_role(Role.BODY_ADMIN)
    url = reverse("registry:enterprise_edit", args=[w.js_enterprise.pk])
    enterprise = w.js_enterprise
    base = {
        "uscc": enterprise.uscc,
        "name": enterprise.name,
        "region": enterprise.region_id,
        "risk_grade": enterprise.risk_grade,
    }
    page = text(client.get(url))
    assert "纬度" in page and "经度" in page
    response = client.post(url, {**base, "latitude": "30.7412", "longitude": ""})
    assert "纬度和经度须一并填写，或都不填" in text(response)
    response = client.post(url, {**base, "latitude": "95", "longitude": "121.3"})
    assert response.status_code == 200 and "90" in text(response)
    enterprise.refresh_from_db()
    assert enterprise.latitude is None and enterprise.longitude is None
    response = client.post(url, {**base, "latitude": "30.741200", "longitude": "121.341200"})
    assert response.status_code == 302
    enterprise.refresh_from_db()
    assert (str(enterprise.latitude), str(enterprise.longitude)) == ("30.741200", "121.341200")
    # Cleared again: no position registered, so no distance is computed.
    client.post(url, {**base, "latitude": "", "longitude": ""})
    enterprise.refresh_from_db()
    assert enterprise.latitude is None and enterprise.longitude is None
