"""The notices of the task workflow (issue 14): the enterprise when its result is recorded, the body's heads
when a statement is filed, the inspectors when their task is approved or returned. Each is written in the
service's transaction and its sending queued on commit, through the existing channels (inbox, SMS)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from jianchama.core.errors import DomainError
from jianchama.core.models import User
from jianchama.core.roles import Role
from jianchama.inspections import services
from jianchama.inspections.models import InspectionRecord
from jianchama.notifications.models import Delivery, Notification
from tests.inspections.conftest import build_scenario


@pytest.fixture
def s(db, no_webhook):
    return build_scenario()


def test_enterprise_is_told_of_its_result_and_the_link_leads_to_evaluation(
    client, s, django_capture_on_commit_callbacks
):
    task = s.in_progress()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.record_result(
            s.inspector_user,
            task=task,
            outcome=InspectionRecord.Outcome.RECTIFY,
            summary="燃气瓶存放不规范",
            findings=s.findings(task),
            rectify_working_days=10,
        )
    notice = Notification.objects.get(event="task.result_recorded")
    assert notice.enterprise == s.enterprise
    assert "责令限期整改" in notice.subject
    assert "整改期限" in notice.body and "评议" in notice.body and "陈述申辩" in notice.body
    portal_path = reverse("portal:task_detail", args=[task.pk])
    assert portal_path in notice.body  # the full address, for the SMS
    # Through the existing channels: an SMS to the enterprise's contact, sent after commit.
    sms = Delivery.objects.get(notification=notice, channel="sms")
    assert sms.target == "13900000001"
    assert len([c for c in callbacks if "enqueue_delivery" in repr(c)]) >= 1

    client.force_login(s.contact)
    page = client.get(reverse("notifications:detail", args=[notice.pk])).content.decode()
    assert f'href="{portal_path}"' in page and "查看详情" in page
    task_page = client.get(portal_path).content.decode()
    assert "燃气瓶存放不规范" in task_page
    assert 'name="overall"' in task_page  # the evaluation form is open


def test_no_result_no_notice(s):
    task = s.in_progress()
    with pytest.raises(DomainError):
        services.record_result(s.inspector_user, task=task, outcome="no_problem", summary="", findings=[])
    assert not Notification.objects.filter(event="task.result_recorded").exists()


def test_heads_are_told_of_a_statement(client, s):
    task = s.recorded()
    services.file_statement(s.contact, task=task, text="整改期限过短，申请延长")
    # Every administrator of the body is told (the scenario's plan was drafted by a second one).
    notice = Notification.objects.get(event="statement.filed", user=s.head)
    assert "整改期限过短" in notice.body and s.enterprise.name in notice.subject
    assert not Notification.objects.filter(event="statement.filed", user=s.partner_head).exists()
    client.force_login(s.head)
    page = client.get(reverse("notifications:detail", args=[notice.pk])).content.decode()
    link = reverse("inspections:task_detail", args=[task.pk]) + "#statements"
    assert f'href="{link}"' in page
    assert "整改期限过短" in client.get(link).content.decode()


def test_joint_task_statement_tells_every_body_s_head(s):
    task = s.recorded(s.joint_draft())
    services.file_statement(s.contact, task=task, text="联合检查时间过长")
    told = set(Notification.objects.filter(event="statement.filed").values_list("user_id", flat=True))
    heads = User.objects.filter(role=Role.BODY_ADMIN, body__in=[s.body, s.partner])
    assert {s.head.pk, s.partner_head.pk} <= told == set(heads.values_list("pk", flat=True))
    assert s.other_head.pk not in told


def test_inspectors_are_told_when_their_task_is_approved(s):
    task = s.notified()
    told = set(
        Notification.objects.filter(event="task.approved", object_id=str(task.pk)).values_list(
            "user_id", flat=True
        )
    )
    assert told == {s.inspector_user.pk, s.inspector2_user.pk}
    notice = Notification.objects.filter(event="task.approved", user=s.inspector_user).get()
    assert task.number in notice.subject and "检查码已签发" in notice.body
    assert notice.payload["link"] == reverse("inspections:task_detail", args=[task.pk])


def test_joint_task_is_announced_only_when_every_body_approved(s):
    task = s.submitted(s.joint_draft())
    services.approve_task(s.head, task=task)
    assert not Notification.objects.filter(event="task.approved").exists()
    services.approve_task(s.partner_head, task=task)
    assert Notification.objects.filter(event="task.approved", user=s.partner_inspector_user).exists()


def test_inspectors_are_told_when_their_task_is_returned(s):
    task = s.submitted()
    services.return_task(s.head, task=task, comment="请补充检查依据的具体条款")
    notice = Notification.objects.get(event="task.returned", user=s.inspector_user)
    assert "请补充检查依据的具体条款" in notice.body and "退回" in notice.subject
    assert not Notification.objects.filter(event="task.returned", user=s.head).exists()


def test_an_api_clients_service_account_is_told_nothing(s):
    """The user an API client acts as is a body administrator to the services but no person: the statement
    goes to the body's real administrators only, and the lists of a body's administrators leave it out."""
    from jianchama.integrations import services as integrations
    from jianchama.supervision import guidance, steps

    client, _ = integrations.register_client(
        s.head, name="金山执法系统", vendor="某软件公司", contact="李工 13800000000", scopes=["tasks:read"]
    )
    robot = client.service_user
    assert robot.is_service_account and robot.role == Role.BODY_ADMIN and robot.body == s.body
    humans = list(User.objects.people().filter(role=Role.BODY_ADMIN, body=s.body).order_by("pk"))
    assert robot not in humans and s.head in humans
    assert steps.body_admins(s.body) == humans == guidance.body_admins([s.body])
    services.file_statement(s.contact, task=s.recorded(), text="整改期限过短，申请延长")
    told = set(Notification.objects.filter(event="statement.filed").values_list("user_id", flat=True))
    assert s.head.pk in told and robot.pk not in told
