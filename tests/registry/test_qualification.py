"""The qualification gate (F-05): every broken rule is returned, each naming who and why."""

import datetime

import pytest

from jianchama.registry.models import Certificate, EnforcementBody
from jianchama.registry.qualification import Rule, check_qualification
from tests.factories import BodyFactory, CertificateFactory, FieldFactory, InspectorFactory, ItemFactory

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 6, 1)


@pytest.fixture
def gas():
    return FieldFactory(code="gas", name="燃气管理")


@pytest.fixture
def safety():
    return FieldFactory(code="safety", name="安全生产")


@pytest.fixture
def body(gas):
    return BodyFactory(name="金山区建设和管理委员会", fields=[gas])


@pytest.fixture
def item(gas, body):
    return ItemFactory(name="燃气经营许可情况", field=gas, bodies=[body])


def inspector(body, name, **certificate):
    person = InspectorFactory(body=body, name=name)
    certificate.setdefault("valid_from", DAY - datetime.timedelta(days=365))
    certificate.setdefault("valid_until", DAY + datetime.timedelta(days=365))
    CertificateFactory(inspector=person, **certificate)
    return person


def rules(problems):
    return sorted(p.rule for p in problems)


def test_qualified_task_passes(body, item):
    team = [inspector(body, "张三"), inspector(body, "李四")]
    assert check_qualification(bodies=[body], inspectors=team, items=[item], on=DAY) == []


def test_fewer_than_two_inspectors(body, item):
    problems = check_qualification(bodies=[body], inspectors=[inspector(body, "张三")], items=[item], on=DAY)
    assert [p.message for p in problems] == ["现场检查的执法人员不得少于2人，当前只有1人"]


def test_same_inspector_twice_counts_once(body, item):
    zhang = inspector(body, "张三")
    problems = check_qualification(bodies=[body], inspectors=[zhang, zhang], items=[item], on=DAY)
    assert rules(problems) == [Rule.TOO_FEW_INSPECTORS]


def test_body_not_authorised_for_item(body, item, safety):
    other_item = ItemFactory(name="危险化学品储存检查", field=safety)
    team = [inspector(body, "张三"), inspector(body, "李四")]
    problems = check_qualification(bodies=[body], inspectors=team, items=[item, other_item], on=DAY)
    assert [p.message for p in problems] == [
        "执法单位“金山区建设和管理委员会”无权检查事项“危险化学品储存检查”（安全生产）"
    ]


def test_unpublished_item_refused(body, item):
    item.is_published = False
    item.save()
    team = [inspector(body, "张三"), inspector(body, "李四")]
    problems = check_qualification(bodies=[body], inspectors=team, items=[item], on=DAY)
    assert rules(problems) == [Rule.ITEM_NOT_PUBLISHED]
    assert "无事项不检查" in problems[0].message


def test_expired_certificate_named_with_its_date(body, item):
    expired = inspector(body, "张三", number="3101160000001", valid_until=datetime.date(2026, 3, 1))
    problems = check_qualification(
        bodies=[body], inspectors=[expired, inspector(body, "李四")], items=[item], on=DAY
    )
    assert [p.message for p in problems] == [
        "执法人员张三的执法证3101160000001已于2026年3月1日过期，不能实施检查"
    ]
    # The stored status still says valid: expiry is derived from the date, not from a job having run.
    assert Certificate.objects.get(number="3101160000001").status == Certificate.Status.VALID


def test_certificate_not_yet_valid(body, item):
    early = inspector(body, "张三", valid_from=datetime.date(2026, 7, 1))
    problems = check_qualification(
        bodies=[body], inspectors=[early, inspector(body, "李四")], items=[item], on=DAY
    )
    assert rules(problems) == [Rule.CERTIFICATE_EXPIRED]
    assert "2026年7月1日起生效" in problems[0].message


@pytest.mark.parametrize(
    ("status", "rule", "words"),
    [
        (Certificate.Status.SUSPENDED, Rule.CERTIFICATE_SUSPENDED, "已被暂停使用（执法监督决定书）"),
        (Certificate.Status.REVOKED, Rule.CERTIFICATE_REVOKED, "已被收回（执法监督决定书）"),
    ],
)
def test_suspended_or_revoked_certificate(body, item, status, rule, words):
    person = inspector(body, "张三", status=status, status_reason="执法监督决定书")
    problems = check_qualification(
        bodies=[body], inspectors=[person, inspector(body, "李四")], items=[item], on=DAY
    )
    assert rules(problems) == [rule]
    assert words in problems[0].message and "张三" in problems[0].message


def test_missing_certificate(body, item):
    without = InspectorFactory(body=body, name="王五")
    problems = check_qualification(
        bodies=[body], inspectors=[without, inspector(body, "李四")], items=[item], on=DAY
    )
    assert [p.message for p in problems] == ["执法人员王五没有行政执法证件，不能实施检查"]


def test_certificate_for_another_field(body, item, safety):
    person = inspector(body, "张三", fields=[safety])
    problems = check_qualification(
        bodies=[body], inspectors=[person, inspector(body, "李四")], items=[item], on=DAY
    )
    assert rules(problems) == [Rule.CERTIFICATE_WRONG_FIELD]
    assert "不含执法领域“燃气管理”" in problems[0].message


def test_inspector_of_another_body(body, item, gas):
    stranger = inspector(BodyFactory(name="闵行区建设和管理委员会", fields=[gas]), "赵六")
    problems = check_qualification(
        bodies=[body], inspectors=[stranger, inspector(body, "李四")], items=[item], on=DAY
    )
    assert rules(problems) == [Rule.INSPECTOR_NOT_OF_BODY]
    assert "赵六" in problems[0].message and "闵行区建设和管理委员会" in problems[0].message


@pytest.fixture
def entrusted(gas, body, item):
    agency = BodyFactory(
        name="金山区燃气安全检查所",
        body_type=EnforcementBody.Type.ENTRUSTED,
        entrusting_organ=body,
        entrustment_start=datetime.date(2026, 1, 1),
        entrustment_end=datetime.date(2026, 12, 31),
        fields=[gas],
    )
    agency.entrusted_items.set([item])
    item.bodies.add(agency)
    return agency


def test_entrusted_within_scope_and_period(entrusted, item):
    team = [inspector(entrusted, "张三"), inspector(entrusted, "李四")]
    assert check_qualification(bodies=[entrusted], inspectors=team, items=[item], on=DAY) == []


def test_entrustment_out_of_scope(entrusted, gas, body):
    outside = ItemFactory(name="燃气器具安装维修检查", field=gas, bodies=[body, entrusted])
    team = [inspector(entrusted, "张三"), inspector(entrusted, "李四")]
    problems = check_qualification(bodies=[entrusted], inspectors=team, items=[outside], on=DAY)
    assert [p.message for p in problems] == [
        "受委托组织“金山区燃气安全检查所”的委托权限不含事项“燃气器具安装维修检查”（委托机关：金山区建设和管理委员会）"
    ]


def test_entrustment_expired(entrusted, item):
    team = [inspector(entrusted, "张三"), inspector(entrusted, "李四")]
    later = datetime.date(2027, 1, 4)
    problems = check_qualification(bodies=[entrusted], inspectors=team, items=[item], on=later)
    assert rules(problems) == [Rule.ENTRUSTMENT_EXPIRED]
    assert (
        problems[0].message
        == "受委托组织“金山区燃气安全检查所”委托期限已于2026年12月31日届满，2027年1月4日不能以委托名义实施检查"
    )


def test_every_broken_rule_is_returned_at_once(body, item, safety):
    other_item = ItemFactory(name="危险化学品储存检查", field=safety)
    expired = inspector(body, "张三", valid_until=datetime.date(2026, 1, 31))
    problems = check_qualification(bodies=[body], inspectors=[expired], items=[item, other_item], on=DAY)
    assert rules(problems) == sorted(
        [Rule.BODY_NOT_AUTHORISED, Rule.TOO_FEW_INSPECTORS, Rule.CERTIFICATE_EXPIRED]
    )


def test_joint_inspection_each_body_with_its_items(body, item, safety):
    emergency = BodyFactory(name="金山区应急管理局", fields=[safety])
    safety_item = ItemFactory(name="安全生产责任制落实情况", field=safety, bodies=[emergency])
    team = [inspector(body, "张三"), inspector(emergency, "钱七")]
    assignments = {body: [item], emergency: [safety_item]}
    assert check_qualification(bodies=assignments, inspectors=team, on=DAY) == []
    # The same team with the items swapped: each body is refused the other's item.
    swapped = {body: [safety_item], emergency: [item]}
    problems = check_qualification(bodies=swapped, inspectors=team, on=DAY)
    assert Rule.BODY_NOT_AUTHORISED in rules(problems)
    assert len([p for p in problems if p.rule == Rule.BODY_NOT_AUTHORISED]) == 2


def test_inspector_off_duty(body, item):
    away = inspector(body, "孙八")
    away.is_active = False
    away.save()
    problems = check_qualification(
        bodies=[body], inspectors=[away, inspector(body, "李四")], items=[item], on=DAY
    )
    assert [p.message for p in problems] == ["执法人员孙八已不在岗（离岗），不能安排实施检查"]
