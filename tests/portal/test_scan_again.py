"""Seed 000's "scan again" through the scan page: 结果录入后，企业法定代表人或现场负责人再次扫码，可查看检查结果并进行评价."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from jianchama.core import sms
from jianchama.inspections import signing
from jianchama.inspections.models import Evaluation, Task
from tests.inspections.conftest import build_scenario
from tests.inspections.test_scan_again import ONSITE_PHONE, recorded_with_onsite

pytestmark = pytest.mark.django_db


@pytest.fixture
def s(db):
    return build_scenario()


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def scan_url(task: Task) -> str:
    return "/C/" + signing.issue_token(task.code.public_id)


def result_link(client, task: Task) -> str:
    page = client.get(scan_url(task)).content.decode()
    match = re.search(r'href="(/c/result/[^"]+/)"', page)
    assert match, "the scan page after the result offers the scan-again path"
    return match.group(1)


def verify_phone(client, link: str, phone: str, django_capture_on_commit_callbacks) -> None:
    sms.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(link, {"form": "phone", "phone": phone})
    assert "将收到短信验证码" in text(sent)
    codes = [re.search(r"\b(\d{6})\b", m.text).group(1) for m in sms.outbox if m.phone == phone]
    client.post(link, {"form": "code", "phone": phone, "code": codes[0] if codes else "000000"})


EVALUATION = {"form": "evaluation", "overall": "4", "certificate_shown": "5", "rights_told": "5"}
EVALUATION |= {"conduct": "4", "efficiency": "3", "integrity": "5", "comment": "现场负责人的意见"}


def test_the_scan_page_after_the_result_shows_the_result_and_evaluate_path(
    client, s, django_capture_on_commit_callbacks
):
    """ "After the result is recorded, the legal representative or the person in charge on site scans the code
    and sees the result and evaluates" — by the code, without any account."""
    task = recorded_with_onsite(s)
    page = text(client.get(scan_url(task)))
    assert "本次检查已完成" in page and "现场负责人、法定代表人：验证手机号查看结果并评议" in page
    link = result_link(client, task)
    before = text(client.get(link))
    assert "获取验证码" in before and "现场检查燃气经营许可证" not in before  # nothing before the SMS code
    verify_phone(client, link, ONSITE_PHONE, django_capture_on_commit_callbacks)
    after = text(client.get(link))
    assert "现场检查燃气经营许可证，未发现问题" in after and "未发现问题" in after
    assert "评议本次检查" in after
    done = client.post(link, EVALUATION, follow=True)
    assert "感谢您的评议" in text(done) and "本次检查已评议" in text(done)
    evaluation = Evaluation.objects.get(task=task)
    assert (evaluation.overall, evaluation.given_as, evaluation.given_by) == (4, "onsite_person", None)
    again = client.post(link, {**EVALUATION, "overall": "1"})
    assert "只能评议一次" in text(again)
    assert Evaluation.objects.get(task=task).overall == 4


def test_a_wrong_code_or_another_phone_opens_nothing(client, s, django_capture_on_commit_callbacks):
    """Only the phone named with the result (or the legal representative's), verified by SMS."""
    task = recorded_with_onsite(s)
    link = result_link(client, task)
    verify_phone(client, link, "13611112222", django_capture_on_commit_callbacks)
    assert sms.outbox == []
    page = text(client.get(link))
    assert "现场检查燃气经营许可证" not in page and "获取验证码" in page
    bad = text(client.post(link, {"form": "phone", "phone": "12345"}))
    assert "请输入11位中国大陆手机号码" in bad


def test_the_onsite_phone_reaches_no_other_task_or_portal_page(client, s, django_capture_on_commit_callbacks):
    """ "That phone ... may see that one task's result ... without any other access"."""
    task = recorded_with_onsite(s)
    other = recorded_with_onsite(s, enterprise=s.other_enterprise)
    link = result_link(client, task)
    other_link = result_link(client, other)
    verify_phone(client, link, ONSITE_PHONE, django_capture_on_commit_callbacks)
    assert "现场检查燃气经营许可证" in text(client.get(link))
    # The other task's result stays closed: its page asks for a phone again.
    other_page = text(client.get(other_link))
    assert "获取验证码" in other_page and "现场检查燃气经营许可证" not in other_page
    assert client.post(other_link, EVALUATION).status_code == 200
    assert not Evaluation.objects.filter(task=other).exists()
    # No portal: every portal page sends to the login.
    for url in (
        reverse("portal:home"),
        reverse("portal:task_detail", args=[task.pk]),
        reverse("portal:task_detail", args=[other.pk]),
        reverse("portal:complaint_list"),
        reverse("portal:contacts"),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"], url
    assert "_auth_user_id" not in client.session


def test_after_the_period_the_scan_page_offers_no_scan_again(
    client, s, settings, django_capture_on_commit_callbacks
):
    """ "Stays valid for this second purpose for a settable period" (SCAN_AGAIN_DAYS)."""
    task = recorded_with_onsite(s)
    link = result_link(client, task)
    settings.SCAN_AGAIN_DAYS = 0
    page = text(client.get(scan_url(task)))
    assert "本次检查已完成" in page and "/c/result/" not in page
    assert client.get(link).status_code == 410


def test_a_forged_result_link_is_refused(client, s):
    assert client.get("/c/result/forged/").status_code == 404


def test_only_supervisors_see_who_gave_the_rating(client, s, django_capture_on_commit_callbacks):
    """ "The evaluation says who gave it (representative, contact, on-site person) to supervisors only" — a staff
    role of the inspected body never sees who gave which rating."""
    task = recorded_with_onsite(s)
    link = result_link(client, task)
    verify_phone(client, link, ONSITE_PHONE, django_capture_on_commit_callbacks)
    client.post(link, EVALUATION)
    detail = reverse("inspections:task_detail", args=[task.pk])
    client.force_login(s.supervisor)
    page = text(client.get(detail))
    assert "评议人：现场负责人 陈现场" in page
    for user in (s.head, s.inspector_user):
        client.force_login(user)
        page = text(client.get(detail))
        assert "评议人" not in page and "现场负责人的意见" not in page
    client.force_login(s.contact)
    page = text(client.get(reverse("portal:task_detail", args=[task.pk])))
    assert "评议人" not in page
