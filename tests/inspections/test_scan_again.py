"""Seed 000's "scan again": 结果录入后，企业法定代表人或现场负责人再次扫码，可查看检查结果并进行评价 — by the services."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from jianchama.core import sms
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.models import User
from jianchama.core.roles import Role
from jianchama.inspections import services
from jianchama.inspections.models import Evaluation, InspectionRecord, Task
from jianchama.registry.models import EnterpriseContact

pytestmark = pytest.mark.django_db

ONSITE_PHONE = "13700000007"


def scores(value: int = 4) -> dict[str, int]:
    return {name: value for name in services.EVALUATION_FIGURES}


def recorded_with_onsite(s, task=None, **overrides) -> Task:
    task = s.in_progress(task, **overrides)
    services.record_result(
        s.inspector_user,
        task=task,
        outcome=InspectionRecord.Outcome.NO_PROBLEM,
        summary="现场检查燃气经营许可证，未发现问题",
        findings=s.findings(task),
        onsite_person_name=" 陈现场 ",
        onsite_person_phone=ONSITE_PHONE,
    )
    return Task.objects.get(pk=task.pk)


def sent_code(phone: str) -> str:
    [message] = [m for m in sms.outbox if m.phone == phone]
    return re.search(r"\b(\d{6})\b", message.text).group(1)


def verified(s, task, phone=ONSITE_PHONE, django_capture_on_commit_callbacks=None) -> services.ResultViewer:
    sms.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.request_result_code(task=task, phone=phone)
    return services.check_result_code(task=task, phone=phone, code=sent_code(phone))


def test_the_inspector_records_the_onsite_person_with_the_result(s):
    """ "检查人员录入检查结果时登记现场负责人姓名和手机号"（现场负责人 may scan again）."""
    task = recorded_with_onsite(s)
    assert (task.record.onsite_person_name, task.record.onsite_person_phone) == ("陈现场", ONSITE_PHONE)


@pytest.mark.parametrize(
    ("name", "phone", "message"),
    [
        ("陈现场", "12345", "现场负责人手机号请填写11位"),
        ("陈现场", "1370000000７", "现场负责人手机号请填写11位"),
        ("陈现场", "", "姓名和手机号请一并填写"),
        ("", ONSITE_PHONE, "姓名和手机号请一并填写"),
    ],
)
def test_the_onsite_persons_phone_is_validated_and_nothing_is_half_saved(s, name, phone, message):
    """The on-site person's phone is a valid mainland mobile number, given with the name; a bad one saves nothing."""
    task = s.in_progress()
    with pytest.raises(DomainError) as refusal:
        services.record_result(
            s.inspector_user,
            task=task,
            outcome=InspectionRecord.Outcome.NO_PROBLEM,
            summary="未发现问题",
            findings=s.findings(task),
            onsite_person_name=name,
            onsite_person_phone=phone,
        )
    assert any(message in problem for problem in refusal.value.problems)
    assert not InspectionRecord.objects.exists()
    assert Task.objects.get(pk=task.pk).status == Task.Status.IN_PROGRESS


def test_the_code_can_be_shown_again_after_the_result_for_the_settable_period(s, settings):
    """ "The code the enterprise scans stays valid for this second purpose for a settable period": the
    inspector's phone shows it again after the result, until SCAN_AGAIN_DAYS have passed."""
    settings.SCAN_AGAIN_DAYS = 30
    task = recorded_with_onsite(s)
    assert services.can_show_code(s.inspector_user, task)
    assert services.current_token(s.inspector_user, task=task)
    assert not services.can_show_code(s.other_inspector_user, task)
    Task.objects.filter(pk=task.pk).update(result_recorded_at=timezone.now() - datetime.timedelta(days=31))
    task = Task.objects.get(pk=task.pk)
    assert not services.scan_again_open(task)
    assert not services.can_show_code(s.inspector_user, task)
    settings.SCAN_AGAIN_DAYS = 40
    assert services.scan_again_open(task)


def test_the_onsite_phone_verified_by_sms_sees_the_result_and_evaluates_once(
    s, django_capture_on_commit_callbacks
):
    """ "That phone, verified by an SMS code, may see that one task's result and evaluate it once, without
    becoming a contact of the enterprise"; the evaluation says it was the on-site person's."""
    task = recorded_with_onsite(s)
    users_before = User.objects.count()
    viewer = verified(s, task, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    assert viewer == services.ResultViewer(task.pk, ONSITE_PHONE, Evaluation.GivenAs.ONSITE_PERSON, "陈现场")
    evaluation = services.evaluate_by_phone(viewer, task=task, scores=scores(3), comment="态度很好")
    assert (evaluation.given_by, evaluation.given_as, evaluation.giver_name) == (
        None,
        Evaluation.GivenAs.ONSITE_PERSON,
        "陈现场",
    )
    with pytest.raises(DomainError, match="只能评议一次"):
        services.evaluate_by_phone(viewer, task=task, scores=scores(1))
    with pytest.raises(DomainError, match="只能评议一次"):
        services.evaluate(s.contact, task=task, scores=scores(1))
    assert Evaluation.objects.get().overall == 3
    # No account, no contact of the enterprise.
    assert User.objects.count() == users_before
    assert not EnterpriseContact.objects.filter(phone=ONSITE_PHONE).exists()


def test_the_legal_representative_may_scan_again_too(s, django_capture_on_commit_callbacks):
    """ "The legal representative or the person in charge on site scans the code and sees the result and
    evaluates": the enterprise's registered legal representative's phone is verified the same way."""
    task = recorded_with_onsite(s)
    representative = EnterpriseContact.objects.get(
        enterprise=s.enterprise, kind=EnterpriseContact.Kind.LEGAL_REPRESENTATIVE
    )
    viewer = verified(
        s, task, representative.phone, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks
    )
    assert viewer.given_as == Evaluation.GivenAs.LEGAL_REPRESENTATIVE
    assert services.evaluate_by_phone(viewer, task=task, scores=scores()).given_as == "legal_representative"


def test_a_contact_evaluating_in_the_portal_is_recorded_as_contact(s):
    """ "The evaluation records who gave it (legal representative / contact / on-site person)"."""
    task = recorded_with_onsite(s)
    plain = User.objects.create(
        username="c2", role=Role.ENTERPRISE_CONTACT, enterprise=s.enterprise, phone="13600000002"
    )
    evaluation = services.evaluate(plain, task=task, scores=scores())
    assert (evaluation.given_as, evaluation.given_by) == (Evaluation.GivenAs.CONTACT, plain)


def test_any_other_phone_gets_the_same_answer_and_no_sms(s, django_capture_on_commit_callbacks):
    """A phone that is neither the on-site person's nor the legal representative's is told the same and gets no
    code; whatever it types is refused."""
    task = recorded_with_onsite(s)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_result_code(task=task, phone="13611112222")
    assert sms.outbox == []
    with pytest.raises(DomainError, match="验证码不正确"):
        services.check_result_code(task=task, phone="13611112222", code="000000")


def test_the_sms_limits_of_the_login_codes_apply(s, django_capture_on_commit_callbacks):
    """Reuses core's login-code machinery: one code a minute per phone."""
    task = recorded_with_onsite(s)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_result_code(task=task, phone=ONSITE_PHONE)
    with pytest.raises(DomainError, match="过于频繁"):
        services.request_result_code(task=task, phone=ONSITE_PHONE)


def test_a_code_is_single_use_and_bound_to_its_task(s, django_capture_on_commit_callbacks):
    """The SMS code is spent once and opens only the task it was sent for."""
    task = recorded_with_onsite(s)
    other = recorded_with_onsite(s, enterprise=s.other_enterprise)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_result_code(task=task, phone=ONSITE_PHONE)
    code = sent_code(ONSITE_PHONE)
    with pytest.raises(DomainError):
        services.check_result_code(task=other, phone=ONSITE_PHONE, code=code)
    viewer = services.check_result_code(task=task, phone=ONSITE_PHONE, code=code)
    with pytest.raises(DomainError, match="已使用过"):
        services.check_result_code(task=task, phone=ONSITE_PHONE, code=code)
    with pytest.raises(PermissionDenied, match="另一次检查"):
        services.evaluate_by_phone(viewer, task=other, scores=scores())


def test_no_scan_again_before_the_result_or_after_the_period(s, settings, django_capture_on_commit_callbacks):
    """Only "after the result is recorded", and only for the settable period."""
    task = s.in_progress()
    with pytest.raises(InvalidTransition, match="期限已过"):
        services.request_result_code(task=task, phone=ONSITE_PHONE)
    task = recorded_with_onsite(s, task)
    viewer = verified(s, task, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    settings.SCAN_AGAIN_DAYS = 0
    with pytest.raises(InvalidTransition, match="期限已过"):
        services.request_result_code(task=task, phone=ONSITE_PHONE)
    with pytest.raises(InvalidTransition, match="期限已过"):
        services.evaluate_by_phone(viewer, task=task, scores=scores())
    assert not Evaluation.objects.exists()


def test_who_gave_a_rating_is_for_supervisors_only(s):
    """ "The evaluation says who gave it ... to supervisors only": never the inspected body."""
    assert services.may_see_evaluation_giver(s.supervisor)
    for user in (s.inspector_user, s.head, s.contact, s.city_reviewer, s.observer):
        assert not services.may_see_evaluation_giver(user)
