"""Registry services: what each does, and what each refuses."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from jianchama.core import sms
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.models import AuditEvent, User
from jianchama.core.roles import Role
from jianchama.core.services import request_login_code
from jianchama.registry import services
from jianchama.registry.models import (
    Certificate,
    EnforcementBody,
    Enterprise,
    EnterpriseContact,
    InspectionItem,
    Inspector,
)
from jianchama.registry.qualification import Rule, check_qualification
from tests.factories import (
    BodyFactory,
    CertificateFactory,
    ContactFactory,
    InspectorFactory,
    ItemFactory,
    UserFactory,
    make_uscc,
    user_for,
)
from tests.registry.test_scoping import build_world

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)


@pytest.fixture
def w():
    return build_world()


@pytest.fixture
def admin():
    return user_for(Role.PLATFORM_ADMIN)


def events(action: str, obj=None):
    found = AuditEvent.objects.filter(action=action)
    if obj is not None:
        found = found.filter(object_type=obj._meta.label, object_id=str(obj.pk))
    return list(found)


# --- Bodies -------------------------------------------------------------------------------------------


def body_args(w, **overrides):
    args = {
        "code": "JS-SAFETY",
        "name": "金山区应急管理局",
        "body_type": EnforcementBody.Type.ORGAN,
        "level": EnforcementBody.Level.DISTRICT,
        "region": w.jinshan,
        "fields": [w.gas],
    }
    return {**args, **overrides}


def test_platform_admin_creates_a_body_with_an_audit_event(w, admin):
    body = services.create_body(admin, **body_args(w, city_counterpart=w.city_body, head_name=" 张局长 "))
    assert body.head_name == "张局长"
    assert list(body.fields.all()) == [w.gas]
    [event] = events("body.create", body)
    assert event.before is None
    assert event.after["code"] == "JS-SAFETY"
    assert event.after["fields"] == [w.gas.pk]
    assert event.actor == admin


@pytest.mark.parametrize("role", [Role.BODY_ADMIN, Role.SUPERVISOR, Role.INSPECTOR])
def test_only_the_platform_admin_creates_or_changes_bodies(w, role):
    user = user_for(role, body=w.js_body) if role != Role.SUPERVISOR else user_for(role, region=w.jinshan)
    with pytest.raises(PermissionDenied, match="只有平台管理员"):
        services.create_body(user, **body_args(w))
    with pytest.raises(PermissionDenied):
        services.update_body(user, body=w.js_body, name="改名")
    assert not EnforcementBody.objects.filter(code="JS-SAFETY").exists()


def test_body_refuses_duplicates_empty_fields_and_wrong_region_level(w, admin):
    with pytest.raises(DomainError) as refused:
        services.create_body(
            admin,
            **body_args(
                w,
                code=w.js_body.code,
                name=w.mh_body.name,
                fields=[],
                level=EnforcementBody.Level.CITY,
            ),
        )
    text = refused.value.message
    assert f"单位编码“{w.js_body.code}”已被“{w.js_body}”使用" in text
    assert "已有执法单位使用" in text
    assert "执法领域不能为空" in text
    assert "所在区域应为市级区域" in text
    assert len(refused.value.problems) == 4
    assert not EnforcementBody.objects.filter(name="金山区应急管理局").exists()


def test_city_counterpart_must_be_city_level_and_share_a_field(w, admin):
    with pytest.raises(DomainError, match="不是市级执法单位"):
        services.create_body(admin, **body_args(w, city_counterpart=w.mh_body))
    transport_city = BodyFactory(
        name="上海市交通执法总队", level=EnforcementBody.Level.CITY, region=w.city, fields=[w.transport]
    )
    with pytest.raises(DomainError, match="没有共同的执法领域"):
        services.create_body(admin, **body_args(w, city_counterpart=transport_city))
    with pytest.raises(DomainError, match="市级执法单位没有市级对口单位"):
        services.update_body(admin, body=w.city_body, city_counterpart=transport_city)


def test_entrusted_body_needs_organ_items_and_a_period(w, admin):
    with pytest.raises(DomainError) as refused:
        services.create_body(admin, **body_args(w, body_type=EnforcementBody.Type.ENTRUSTED))
    text = refused.value.message
    assert "必须登记委托机关" in text
    assert "必须登记委托事项" in text
    assert "必须登记委托期限" in text
    with pytest.raises(DomainError, match=r"委托期限起（.*）晚于委托期限止"):
        services.create_body(
            admin,
            **body_args(
                w,
                body_type=EnforcementBody.Type.ENTRUSTED,
                entrusting_organ=w.js_body,
                entrusted_items=[w.item],
                entrustment_start=TODAY,
                entrustment_end=TODAY - DAY,
            ),
        )


def test_entrusted_body_may_only_receive_items_within_the_organs_authority(w, admin):
    foreign = ItemFactory(field=w.gas, bodies=[w.mh_body])
    with pytest.raises(DomainError, match=r"不在委托机关.*的检查事项内"):
        services.create_body(
            admin,
            **body_args(
                w,
                body_type=EnforcementBody.Type.ENTRUSTED,
                entrusting_organ=w.js_body,
                entrusted_items=[foreign],
                entrustment_start=TODAY,
                entrustment_end=TODAY + 365 * DAY,
            ),
        )
    body = services.create_body(
        admin,
        **body_args(
            w,
            body_type=EnforcementBody.Type.ENTRUSTED,
            entrusting_organ=w.js_body,
            entrusted_items=[w.item2],
            entrustment_start=TODAY,
            entrustment_end=TODAY + 365 * DAY,
        ),
    )
    assert list(body.entrusted_items.all()) == [w.item2]
    assert body.entrustment_covers(TODAY)


def test_entrusting_organ_must_be_an_administrative_organ(w, admin):
    authorised = BodyFactory(body_type=EnforcementBody.Type.AUTHORISED, region=w.jinshan, fields=[w.gas])
    with pytest.raises(DomainError, match="不是行政机关"):
        services.create_body(
            admin,
            **body_args(
                w,
                body_type=EnforcementBody.Type.ENTRUSTED,
                entrusting_organ=authorised,
                entrusted_items=[w.item],
                entrustment_start=TODAY,
                entrustment_end=TODAY + DAY,
            ),
        )


def test_only_an_entrusted_body_carries_entrustment(w, admin):
    with pytest.raises(DomainError, match="只有受委托组织登记委托机关"):
        services.update_body(admin, body=w.mh_body, entrusting_organ=w.js_body)


def test_update_body_records_before_and_after(w, admin):
    services.update_body(admin, body=w.js_body, phone="021-57921234", fields=[w.gas, w.transport])
    w.js_body.refresh_from_db()
    assert w.js_body.phone == "021-57921234"
    [event] = events("body.update", w.js_body)
    assert event.before["phone"] == ""
    assert event.after["phone"] == "021-57921234"
    assert sorted(event.after["fields"]) == sorted([w.gas.pk, w.transport.pk])


def test_update_body_rejects_unknown_attributes(w, admin):
    with pytest.raises(TypeError):
        services.update_body(admin, body=w.js_body, colour="red")


# --- Inspectors ---------------------------------------------------------------------------------------


def test_body_admin_adds_and_edits_its_own_inspectors(w):
    body_admin = user_for(Role.BODY_ADMIN, body=w.js_body)
    inspector = services.create_inspector(
        body_admin, body=w.js_body, name=" 李四 ", employee_number="JS-07", phone="13800000007"
    )
    assert inspector.name == "李四"
    assert events("inspector.create", inspector)
    services.update_inspector(body_admin, inspector=inspector, is_active=False)
    inspector.refresh_from_db()
    assert inspector.is_active is False
    [event] = events("inspector.update", inspector)
    assert (event.before["is_active"], event.after["is_active"]) == (True, False)


def test_body_admin_may_not_touch_another_bodys_inspectors(w):
    body_admin = user_for(Role.BODY_ADMIN, body=w.js_body)
    with pytest.raises(PermissionDenied, match="闵行区建设和管理委员会"):
        services.create_inspector(body_admin, body=w.mh_body, name="王五")
    with pytest.raises(PermissionDenied):
        services.update_inspector(body_admin, inspector=w.mh_inspector, name="改名")
    with pytest.raises(PermissionDenied):
        services.update_inspector(body_admin, inspector=w.js_inspector, body=w.mh_body)
    w.js_inspector.refresh_from_db()
    assert w.js_inspector.body == w.js_body


def test_an_inspector_may_not_manage_inspectors(w):
    inspector_user = user_for(Role.INSPECTOR, body=w.js_body)
    with pytest.raises(PermissionDenied):
        services.create_inspector(inspector_user, body=w.js_body, name="王五")


def test_inspector_refuses_bad_phone_and_duplicate_employee_number(w, admin):
    services.create_inspector(admin, body=w.js_body, name="甲", employee_number="E1")
    with pytest.raises(DomainError) as refused:
        services.create_inspector(admin, body=w.js_body, name="", employee_number="E1", phone="12345")
    text = refused.value.message
    assert "姓名不能为空" in text
    assert "不是11位中国大陆手机号码" in text
    assert "工号“E1”已被本单位执法人员甲使用" in text
    # The same number in another body is fine.
    services.create_inspector(admin, body=w.mh_body, name="乙", employee_number="E1")


def test_inspector_is_linked_to_an_inspector_account_of_its_body_only(w):
    body_admin = user_for(Role.BODY_ADMIN, body=w.js_body)
    account = user_for(Role.INSPECTOR, body=w.js_body)
    services.update_inspector(body_admin, inspector=w.js_inspector, user=account)
    assert Inspector.objects.get(user=account) == w.js_inspector
    with pytest.raises(DomainError, match="已关联执法人员金山执法员"):
        services.update_inspector(body_admin, inspector=w.js_inspector2, user=account)
    with pytest.raises(DomainError, match="不是“金山区建设和管理委员会”的执法人员账号"):
        services.create_inspector(
            body_admin, body=w.js_body, name="丙", user=user_for(Role.INSPECTOR, body=w.mh_body)
        )
    with pytest.raises(DomainError, match="不是“金山区建设和管理委员会”的执法人员账号"):
        services.update_inspector(body_admin, inspector=w.js_inspector2, user=body_admin)


# --- Certificates -------------------------------------------------------------------------------------


def test_body_admin_adds_a_certificate_that_qualifies_the_inspector(w):
    body_admin = user_for(Role.BODY_ADMIN, body=w.js_body)
    inspector = services.create_inspector(body_admin, body=w.js_body, name="新人")
    certificate = services.add_certificate(
        body_admin,
        inspector=inspector,
        number="3101160099",
        fields=[w.gas],
        valid_from=TODAY - DAY,
        valid_until=TODAY + 365 * DAY,
    )
    assert certificate.status == Certificate.Status.VALID
    assert events("certificate.create", certificate)[0].after["number"] == "3101160099"
    assert (
        check_qualification(
            bodies=[w.js_body], inspectors=[inspector, w.js_inspector], items=[w.item], on=TODAY
        )
        == []
    )


def test_certificate_refuses_foreign_fields_reversed_dates_and_duplicate_numbers(w, admin):
    existing = w.certificates[w.mh_inspector.pk]
    with pytest.raises(DomainError) as refused:
        services.add_certificate(
            admin,
            inspector=w.js_inspector,
            number=existing.number,
            fields=[w.transport],
            valid_from=TODAY,
            valid_until=TODAY - DAY,
        )
    text = refused.value.message
    assert f"证件编号“{existing.number}”已登记在执法人员闵行执法员名下" in text
    assert "有效期起" in text and "晚于有效期止" in text
    assert "执法领域“道路运输”不属于所属单位“金山区建设和管理委员会”的执法领域" in text
    assert w.js_inspector.certificates.count() == 1


def test_certificate_of_another_body_is_refused_to_a_body_admin(w):
    body_admin = user_for(Role.BODY_ADMIN, body=w.js_body)
    with pytest.raises(PermissionDenied):
        services.add_certificate(
            body_admin,
            inspector=w.mh_inspector,
            number="X1",
            fields=[w.gas],
            valid_from=TODAY,
            valid_until=TODAY + DAY,
        )
    with pytest.raises(PermissionDenied):
        services.update_certificate(
            body_admin, certificate=w.certificates[w.mh_inspector.pk], valid_until=TODAY + 900 * DAY
        )


def test_correcting_the_validity_of_an_expired_certificate_makes_it_valid_again(w, admin):
    certificate = w.certificates[w.js_inspector.pk]
    certificate.valid_until = TODAY - DAY
    certificate.save()
    services.expire_certificates()
    certificate = services.update_certificate(admin, certificate=certificate, valid_until=TODAY + 30 * DAY)
    assert certificate.status == Certificate.Status.VALID
    [event] = events("certificate.update", certificate)
    assert (event.before["status"], event.after["status"]) == ("expired", "valid")


def test_platform_admin_suspends_then_reinstates_a_certificate(w, admin):
    certificate = w.certificates[w.js_inspector.pk]
    services.set_certificate_status(
        admin, certificate=certificate, status=Certificate.Status.SUSPENDED, reason="金司决〔2026〕3号"
    )
    problems = check_qualification(
        bodies=[w.js_body], inspectors=[w.js_inspector, w.js_inspector2], items=[w.item], on=TODAY
    )
    assert [p.rule for p in problems] == [Rule.CERTIFICATE_SUSPENDED]
    assert "金司决〔2026〕3号" in problems[0].message
    services.set_certificate_status(
        admin, certificate=certificate, status=Certificate.Status.VALID, reason=""
    )
    certificate.refresh_from_db()
    assert certificate.status == Certificate.Status.VALID
    assert [
        e.action
        for e in AuditEvent.objects.filter(object_id=str(certificate.pk), object_type="registry.Certificate")
    ] == [
        "certificate.suspend",
        "certificate.reinstate",
    ]


def test_suspension_needs_a_reason_and_a_revoked_certificate_stays_revoked(w, admin):
    certificate = w.certificates[w.js_inspector.pk]
    with pytest.raises(DomainError, match="请填写暂停使用的理由"):
        services.set_certificate_status(admin, certificate=certificate, status="suspended", reason=" ")
    services.set_certificate_status(admin, certificate=certificate, status="revoked", reason="问责决定")
    with pytest.raises(InvalidTransition, match="当前为“已收回”，不能改为“有效”"):
        services.set_certificate_status(admin, certificate=certificate, status="valid", reason="")
    with pytest.raises(InvalidTransition):
        services.set_certificate_status(admin, certificate=certificate, status="expired", reason="x")


@pytest.mark.parametrize("role", [Role.BODY_ADMIN, Role.SUPERVISOR])
def test_only_the_platform_admin_changes_certificate_status_for_now(w, role):
    user = user_for(role, body=w.js_body) if role == Role.BODY_ADMIN else user_for(role, region=w.jinshan)
    certificate = w.certificates[w.js_inspector.pk]
    with pytest.raises(PermissionDenied):
        services.set_certificate_status(user, certificate=certificate, status="suspended", reason="x")
    certificate.refresh_from_db()
    assert certificate.status == Certificate.Status.VALID


def test_expire_certificates_marks_each_past_one_once(w):
    past = [w.certificates[w.js_inspector.pk], w.certificates[w.mh_inspector.pk]]
    for certificate in past:
        certificate.valid_until = TODAY - DAY
        certificate.save()
    today_last = w.certificates[w.city_inspector.pk]
    today_last.valid_until = TODAY
    today_last.save()
    suspended = CertificateFactory(
        inspector=w.js_inspector2, valid_until=TODAY - 10 * DAY, status=Certificate.Status.SUSPENDED
    )
    assert services.expire_certificates() == 2
    assert services.expire_certificates() == 0
    for certificate in past:
        certificate.refresh_from_db()
        assert certificate.status == Certificate.Status.EXPIRED
        assert "有效期已于" in certificate.status_reason
    today_last.refresh_from_db()
    suspended.refresh_from_db()
    assert today_last.status == Certificate.Status.VALID  # still valid on its last day
    assert suspended.status == Certificate.Status.SUSPENDED
    assert len(events("certificate.expire")) == 2
    assert events("certificate.expire")[0].actor_label == "系统"


def test_expire_certificates_uses_the_given_time(w):
    in_a_year = timezone.now() + 400 * DAY
    assert services.expire_certificates(now=in_a_year) == len(w.certificates)


def test_expire_certificates_command_prints_how_many(w):
    certificate = w.certificates[w.js_inspector.pk]
    certificate.valid_until = TODAY - DAY
    certificate.save()
    out = io.StringIO()
    call_command("expire_certificates", stdout=out)
    assert "已将 1 本执法证件标记为已过期" in out.getvalue()
    out = io.StringIO()
    call_command("expire_certificates", stdout=out)
    assert "已将 0 本" in out.getvalue()


# --- Enterprises and contacts -------------------------------------------------------------------------


def test_platform_admin_registers_an_enterprise_forgiving_case_and_spaces(w, admin):
    code = make_uscc(9001)
    enterprise = services.create_enterprise(
        admin, uscc=f" {code.lower()} ", name="金山新材料有限公司", region=w.jinshan, risk_grade="C"
    )
    assert enterprise.uscc == code
    assert events("enterprise.create", enterprise)[0].after["uscc"] == code


def test_enterprise_refuses_a_wrong_check_character_and_duplicates(w, admin):
    code = make_uscc(9002)
    wrong = code[:17] + ("1" if code[17] != "1" else "2")
    with pytest.raises(DomainError, match=f"校验码不符：第18位应为“{code[17]}”"):
        services.create_enterprise(admin, uscc=wrong, name="甲公司", region=w.jinshan)
    with pytest.raises(DomainError, match="已登记为企业“金山燃气”，请勿重复登记"):
        services.create_enterprise(admin, uscc=w.js_enterprise.uscc, name="甲公司", region=w.jinshan)
    with pytest.raises(DomainError, match="风险等级无效"):
        services.create_enterprise(admin, uscc=code, name="甲公司", region=w.jinshan, risk_grade="E")
    assert not Enterprise.objects.filter(name="甲公司").exists()


def test_district_body_admin_registers_enterprises_in_its_district_only(w):
    body_admin = user_for(Role.BODY_ADMIN, body=w.js_body)
    services.create_enterprise(body_admin, uscc=make_uscc(9003), name="朱泾新企业", region=w.zhujing)
    with pytest.raises(PermissionDenied, match="只能登记和修改金山区范围内的企业"):
        services.create_enterprise(body_admin, uscc=make_uscc(9004), name="闵行新企业", region=w.minhang)
    with pytest.raises(PermissionDenied):
        services.update_enterprise(body_admin, enterprise=w.mh_enterprise, name="改名")
    with pytest.raises(PermissionDenied):
        services.update_enterprise(body_admin, enterprise=w.js_enterprise, region=w.minhang)
    w.js_enterprise.refresh_from_db()
    assert w.js_enterprise.region == w.jinshan


def test_city_body_admin_registers_enterprises_anywhere(w):
    body_admin = user_for(Role.BODY_ADMIN, body=w.city_body)
    enterprise = services.create_enterprise(
        body_admin, uscc=make_uscc(9005), name="闵行新企业", region=w.minhang
    )
    services.update_enterprise(body_admin, enterprise=enterprise, industry="燃气生产和供应业")
    [event] = events("enterprise.update", enterprise)
    assert (event.before["industry"], event.after["industry"]) == ("", "燃气生产和供应业")


@pytest.mark.parametrize("role", [Role.INSPECTOR, Role.SUPERVISOR, Role.ENTERPRISE_CONTACT])
def test_other_roles_may_not_register_or_change_enterprises(w, role):
    user = {
        Role.INSPECTOR: lambda: user_for(role, body=w.js_body),
        Role.SUPERVISOR: lambda: user_for(role, region=w.jinshan),
        Role.ENTERPRISE_CONTACT: lambda: user_for(role, enterprise=w.js_enterprise),
    }[role]()
    with pytest.raises(PermissionDenied):
        services.create_enterprise(user, uscc=make_uscc(9006), name="某公司", region=w.jinshan)
    with pytest.raises(PermissionDenied):
        services.update_enterprise(user, enterprise=w.js_enterprise, name="改名")


def test_adding_a_contact_opens_a_phone_login(w, admin, django_capture_on_commit_callbacks):
    contact = services.add_contact(
        admin, enterprise=w.js_enterprise, kind="on_site", name="赵经理", phone="13912345678"
    )
    account = User.objects.get(phone="13912345678")
    assert (account.username, account.role, account.enterprise) == (
        "13912345678",
        Role.ENTERPRISE_CONTACT,
        w.js_enterprise,
    )
    assert not account.has_usable_password()
    assert contact.account == account
    assert events("contact.add", contact)
    assert "password" not in events("user.create_contact", account)[0].after
    with django_capture_on_commit_callbacks(execute=True):
        request_login_code(phone="13912345678")
    assert len(sms.outbox) == 1


def test_contact_refuses_bad_phone_and_duplicates(w, admin):
    with pytest.raises(DomainError, match="不是11位中国大陆手机号码"):
        services.add_contact(admin, enterprise=w.js_enterprise, kind="on_site", name="赵", phone="021-1234")
    services.add_contact(admin, enterprise=w.js_enterprise, kind="on_site", name="赵", phone="13912345678")
    with pytest.raises(DomainError, match="已是本企业的联系人赵"):
        services.add_contact(
            admin, enterprise=w.js_enterprise, kind="legal_representative", name="钱", phone="13912345678"
        )
    with pytest.raises(DomainError, match="联系人类型无效"):
        services.add_contact(admin, enterprise=w.js_enterprise, kind="boss", name="钱", phone="13912345679")


def test_one_phone_logs_in_to_one_enterprise(w, admin):
    first = services.add_contact(
        admin, enterprise=w.js_enterprise, kind="on_site", name="赵", phone="13912345678"
    )
    with pytest.raises(DomainError, match="已是企业“金山燃气”的联系人，一个手机号只能登录一家企业"):
        services.add_contact(
            admin, enterprise=w.mh_enterprise, kind="on_site", name="赵", phone="13912345678"
        )
    assert not EnterpriseContact.objects.filter(enterprise=w.mh_enterprise).exists()
    # Once removed from the first enterprise, the same person can be named by another.
    services.remove_contact(admin, contact=first)
    services.add_contact(admin, enterprise=w.mh_enterprise, kind="on_site", name="赵", phone="13912345678")
    account = User.objects.get(phone="13912345678")
    assert (account.enterprise, account.is_active) == (w.mh_enterprise, True)
    assert User.objects.filter(phone="13912345678").count() == 1


def test_contact_refused_when_the_username_is_taken_by_staff(w, admin):
    UserFactory(username="13912345678", role=Role.SUPERVISOR, region=w.jinshan)
    with pytest.raises(DomainError, match="用户名13912345678已被其他账号占用"):
        services.add_contact(
            admin, enterprise=w.js_enterprise, kind="on_site", name="赵", phone="13912345678"
        )
    assert not EnterpriseContact.objects.filter(phone="13912345678").exists()


def test_removing_a_contact_switches_off_their_login(w, admin, django_capture_on_commit_callbacks):
    contact = services.add_contact(
        admin, enterprise=w.js_enterprise, kind="on_site", name="赵", phone="13912345678"
    )
    services.remove_contact(admin, contact=contact)
    assert not EnterpriseContact.objects.filter(pk=contact.pk).exists()
    account = User.objects.get(phone="13912345678")
    assert account.is_active is False
    assert events("contact.remove")[0].before["phone"] == "13912345678"
    assert events("user.deactivate_contact", account)
    with django_capture_on_commit_callbacks(execute=True):
        request_login_code(phone="13912345678")
    assert sms.outbox == []


def test_contacts_of_enterprises_out_of_reach_are_refused(w):
    body_admin = user_for(Role.BODY_ADMIN, body=w.js_body)
    contact = ContactFactory(enterprise=w.mh_enterprise)
    with pytest.raises(PermissionDenied):
        services.add_contact(
            body_admin, enterprise=w.mh_enterprise, kind="on_site", name="赵", phone="13912345678"
        )
    with pytest.raises(PermissionDenied):
        services.remove_contact(body_admin, contact=contact)
    inspector_user = user_for(Role.INSPECTOR, body=w.js_body)
    with pytest.raises(PermissionDenied):
        services.add_contact(
            inspector_user, enterprise=w.js_enterprise, kind="on_site", name="赵", phone="13912345678"
        )
    assert not User.objects.filter(phone="13912345678").exists()


# --- Items --------------------------------------------------------------------------------------------


def test_platform_admin_creates_an_item_with_a_checklist(w, admin):
    item = services.create_item(
        admin,
        code="GAS-010",
        name="瓶装燃气供应站安全检查",
        field=w.gas,
        legal_basis="《城镇燃气管理条例》第十八条",
        checklist="是否设置安全警示标志\n\n  是否配备消防器材  \n",
        bodies=[w.js_body, w.town_body],
    )
    assert item.checklist == ["是否设置安全警示标志", "是否配备消防器材"]
    assert set(item.bodies.all()) == {w.js_body, w.town_body}
    [event] = events("item.create", item)
    assert event.after["checklist"] == ["是否设置安全警示标志", "是否配备消防器材"]
    services.update_item(admin, item=item, is_published=False)
    [event] = events("item.update", item)
    assert (event.before["is_published"], event.after["is_published"]) == (True, False)


def test_item_refuses_missing_basis_duplicate_code_and_bodies_outside_the_field(w, admin):
    transport_body = BodyFactory(region=w.jinshan, fields=[w.transport])
    with pytest.raises(DomainError) as refused:
        services.create_item(
            admin, code=w.item.code, name="x", field=w.gas, legal_basis=" ", bodies=[transport_body]
        )
    text = refused.value.message
    assert "已被事项" in text
    assert "检查依据不能为空" in text
    assert f"执法单位“{transport_body}”的执法领域不含“燃气管理”" in text
    assert InspectionItem.objects.filter(code=w.item.code).count() == 1


def test_only_the_platform_admin_manages_items(w):
    body_admin = user_for(Role.BODY_ADMIN, body=w.js_body)
    with pytest.raises(PermissionDenied, match="只有平台管理员可以新增检查事项"):
        services.create_item(body_admin, code="X", name="x", field=w.gas, legal_basis="y")
    with pytest.raises(PermissionDenied):
        services.update_item(body_admin, item=w.item, name="改名")


def test_a_failed_write_leaves_no_trace_in_the_audit_log(w, admin):
    before = AuditEvent.objects.count()
    with pytest.raises(DomainError):
        services.create_body(admin, **body_args(w, fields=[]))
    with pytest.raises(DomainError):
        services.add_certificate(
            admin,
            inspector=InspectorFactory(body=w.js_body),
            number="",
            fields=[w.gas],
            valid_from=TODAY,
            valid_until=TODAY,
        )
    assert AuditEvent.objects.count() == before
    assert not EnforcementBody.objects.filter(code="JS-SAFETY").exists()
    assert not Certificate.objects.filter(number="").exists()
