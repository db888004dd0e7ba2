"""Each role's view of a task and of an evaluation: `Task.objects.visible_to` and `Evaluation.objects.visible_to`."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from jianchama.core.roles import Role
from jianchama.inspections import services
from jianchama.inspections.models import Evaluation, Task
from jianchama.registry.models import EnforcementBody
from tests.factories import BodyFactory, user_for

pytestmark = pytest.mark.django_db


def sees(user, task: Task) -> bool:
    found = Task.objects.visible_to(user).filter(pk=task.pk)
    # A joint task matches through two bodies: it must still come back once.
    assert found.count() <= 1
    return found.exists()


@pytest.fixture
def joint(s) -> Task:
    """A draft joint inspection of Jinshan's gas body (lead) and market body, of a Jinshan enterprise."""
    return s.joint_draft()


@pytest.mark.parametrize(
    "who", ["inspector_user", "inspector2_user", "head", "partner_inspector_user", "partner_head"]
)
def test_people_of_a_participating_body_see_the_task_from_the_draft_on(s, joint, who):
    assert sees(getattr(s, who), joint)


@pytest.mark.parametrize("who", ["other_inspector_user", "other_head"])
def test_people_of_another_body_do_not_see_it(s, joint, who):
    assert not sees(getattr(s, who), joint)


@pytest.mark.parametrize("role", [Role.INSPECTOR, Role.BODY_ADMIN])
def test_a_body_of_the_same_district_that_takes_no_part_does_not_see_it(s, joint, role):
    neighbour = BodyFactory(name="金山区生态环境局", region=s.jinshan, fields=[s.gas])
    assert not sees(user_for(role, body=neighbour), joint)


def test_an_inspector_on_the_task_from_another_body_is_not_a_way_in(s):
    # The task lists the partner's inspector only on the joint task; a single-body task stays hidden.
    task = s.draft()
    assert not sees(s.partner_inspector_user, task)
    assert not sees(s.partner_head, task)


def test_the_city_reviewer_of_the_district_bodys_counterpart_sees_it(s, joint):
    assert sees(s.city_reviewer, joint)
    other_city_body = BodyFactory(
        name="上海市市场监督管理局", level=EnforcementBody.Level.CITY, region=s.city, fields=[s.market]
    )
    assert not sees(user_for(Role.CITY_REVIEWER, body=other_city_body), joint)


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT])
def test_supervision_of_the_region_sees_it_and_of_another_region_does_not(s, joint, role):
    assert sees(user_for(role, region=s.jinshan), joint)
    assert sees(user_for(role, region=s.city), joint)  # the city sees its districts
    assert not sees(user_for(role, region=s.minhang), joint)


def test_the_enterprise_sees_its_task_only_once_told(s):
    task = s.draft()
    assert not sees(s.contact, task)
    task = s.submitted(task)
    assert not sees(s.contact, task)
    task = s.notified(task)
    assert sees(s.contact, task)
    assert not sees(s.other_contact, task)
    task = s.recorded(task)
    assert sees(s.contact, task)
    assert not sees(s.other_contact, task)


def test_another_enterprise_never_sees_it(s):
    task = s.notified()
    assert not sees(s.other_contact, task)
    assert set(Task.objects.visible_to(s.other_contact)) == set()


def test_observer_and_anonymous_see_nothing(s):
    task = s.notified()
    assert not sees(s.observer, task)
    assert not sees(AnonymousUser(), task)
    assert Task.objects.visible_to(AnonymousUser()).count() == 0


def test_platform_admin_sees_every_task(s):
    draft, told = s.draft(), s.notified()
    admin = user_for(Role.PLATFORM_ADMIN)
    assert set(Task.objects.visible_to(admin)) == {draft, told}


def test_a_misconfigured_account_sees_nothing(s, joint):
    inspector = s.inspector_user
    inspector.body = None
    assert not sees(inspector, joint)
    supervisor = s.supervisor
    supervisor.region = None
    assert not sees(supervisor, joint)


# --- Evaluations -------------------------------------------------------------------------------------------


@pytest.fixture
def evaluation(s) -> Evaluation:
    task = s.recorded(s.joint_draft())
    scores = dict.fromkeys(["overall"] + [name for name, _ in Evaluation.DIMENSIONS], 2)
    return services.evaluate(s.contact, task=task, scores=scores, comment="检查时间过长")


@pytest.mark.parametrize(
    "who",
    ["inspector_user", "head", "partner_inspector_user", "partner_head", "city_reviewer", "other_head"],
)
def test_inspecting_bodies_never_see_an_individual_evaluation(s, evaluation, who):
    assert not Evaluation.objects.visible_to(getattr(s, who)).exists()


def test_supervision_of_the_region_sees_the_evaluation(s, evaluation):
    assert list(Evaluation.objects.visible_to(s.supervisor)) == [evaluation]
    assert list(Evaluation.objects.visible_to(user_for(Role.DISTRICT_GOVERNMENT, region=s.jinshan))) == [
        evaluation
    ]
    assert not Evaluation.objects.visible_to(s.mh_supervisor).exists()


def test_the_enterprise_sees_its_own_evaluation_only(s, evaluation):
    assert list(Evaluation.objects.visible_to(s.contact)) == [evaluation]
    assert not Evaluation.objects.visible_to(s.other_contact).exists()


def test_observer_complaint_intake_and_anonymous_see_no_evaluation(s, evaluation):
    assert not Evaluation.objects.visible_to(s.observer).exists()
    assert not Evaluation.objects.visible_to(user_for(Role.COMPLAINT_INTAKE, region=s.jinshan)).exists()
    assert not Evaluation.objects.visible_to(AnonymousUser()).exists()
