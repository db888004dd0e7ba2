# ruff: noqa: F811  (the `world` fixture is imported from the shared module)
"""Typical cases and bulletins (F-37) and notified criticism (F-33): drafted from findings or a decision by a
supervisor, approved by another supervisor of the district, published to the district's bodies or the public;
a public one never names an enterprise unless its drafter confirms; the public pages are rate-limited and cost
a fixed number of queries."""

from __future__ import annotations

import datetime

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.roles import Role
from jianchama.inspections import services as inspections
from jianchama.inspections.models import Task
from jianchama.notifications.models import Notification
from jianchama.supervision import bulletins, steps
from jianchama.supervision.models import AccountabilityMeasure, Bulletin, Finding
from jianchama.supervision.services import create_finding
from tests.factories import user_for
from tests.supervision._steps_world import escalated, world  # noqa: F401

TEXT = (
    "2026年，某区某执法单位在对某企业的检查中未出示检查码。经预警提醒后仍未整改，区司法局制发了监督建议书。"
)


@pytest.fixture
def w(world):
    world.approver = user_for(Role.SUPERVISOR, region=world.jinshan, full_name="金山区司法局审核人")
    task = inspections.create_task(
        world.inspector_user,
        enterprise=world.enterprise,
        items=[world.item],
        inspectors=[world.inspector, world.inspector2],
        legal_basis="《城镇燃气管理条例》",
        kind=Task.Kind.COMPLAINT,
        window_start=timezone.localdate(),
        window_end=timezone.localdate() + datetime.timedelta(days=5),
        reason="投诉燃气泄漏",
        evidence="12345工单",
    )
    world.task_finding = create_finding(
        world.supervisor, source=Finding.Source.OTHER, body=world.body, title="无码入企检查", task=task
    )
    steps.warn_body(world.supervisor, finding=world.task_finding, channel="phone", content="电话提醒")
    return world


def drafted(w, audience=Bulletin.Audience.PUBLIC, text=TEXT, **kwargs):
    return bulletins.draft_bulletin(
        w.supervisor,
        kind=Bulletin.Kind.TYPICAL_CASE,
        audience=audience,
        title="无码入企检查典型案例",
        text=text,
        findings=[w.task_finding],
        **kwargs,
    )


def published(w, **kwargs):
    item = bulletins.submit_bulletin(w.supervisor, bulletin=drafted(w, **kwargs))
    item = bulletins.review_bulletin(w.approver, bulletin=item, approve=True)
    return bulletins.publish_bulletin(w.supervisor, bulletin=item)


def test_drafted_approved_by_another_supervisor_and_published(w):
    item = drafted(w)
    assert item.status == Bulletin.Status.DRAFT and item.region == w.jinshan
    item = bulletins.submit_bulletin(w.supervisor, bulletin=item)
    with pytest.raises(PermissionDenied, match="起草人不能审核"):
        bulletins.review_bulletin(w.supervisor, bulletin=item, approve=True)
    for outsider in (w.mh_supervisor, w.head, w.government):
        with pytest.raises(PermissionDenied):
            bulletins.review_bulletin(outsider, bulletin=item, approve=True)
    with pytest.raises(InvalidTransition, match="只有审核通过的才能发布"):
        bulletins.publish_bulletin(w.supervisor, bulletin=item)
    item = bulletins.review_bulletin(w.approver, bulletin=item, approve=True)
    assert item.approved_by == w.approver
    item = bulletins.publish_bulletin(w.supervisor, bulletin=item)
    assert item.status == Bulletin.Status.PUBLISHED and item.published_at
    # The district's bodies are told, not Minhang's.
    told = {n.user for n in Notification.objects.filter(event="supervision.bulletin")}
    assert {w.head, w.partner_head} <= told and w.other_head not in told


def test_a_return_needs_a_reason_and_goes_back_to_the_drafter(w):
    item = bulletins.submit_bulletin(w.supervisor, bulletin=drafted(w))
    with pytest.raises(DomainError, match="审核意见"):
        bulletins.review_bulletin(w.approver, bulletin=item, approve=False)
    item = bulletins.review_bulletin(w.approver, bulletin=item, approve=False, note="请删去\x00时间")
    assert item.status == Bulletin.Status.DRAFT and item.review_note == "请删去时间"
    with pytest.raises(PermissionDenied, match="只有起草人"):
        bulletins.edit_bulletin(
            w.approver, bulletin=item, title="x", text="y", audience="public", names_enterprises=False
        )
    item = bulletins.edit_bulletin(
        w.supervisor,
        bulletin=item,
        title="典型案例",
        text="某单位无码入企。",
        audience="public",
        names_enterprises=False,
    )
    assert bulletins.submit_bulletin(w.supervisor, bulletin=item).status == Bulletin.Status.SUBMITTED


def test_a_public_bulletin_names_no_enterprise_unless_the_drafter_confirms(w):
    naming = f"{w.enterprise.name}在检查中反映执法人员未出示检查码。"
    item = drafted(w, text=naming)
    assert bulletins.named_enterprises(item) == [w.enterprise.name]
    with pytest.raises(DomainError, match="不得出现企业名称") as refusal:
        bulletins.submit_bulletin(w.supervisor, bulletin=item)
    assert w.enterprise.name in str(refusal.value.problems)
    # To the district's bodies only, the name may stay.
    inside = drafted(w, audience=Bulletin.Audience.DISTRICT_BODIES, text=naming)
    assert bulletins.submit_bulletin(w.supervisor, bulletin=inside).status == Bulletin.Status.SUBMITTED
    # Confirmed by the drafter: published with the name.
    confirmed = published(w, text=naming, names_enterprises=True)
    assert confirmed.status == Bulletin.Status.PUBLISHED


def test_the_notified_criticism_of_a_decision_is_published_as_a_bulletin_once(w):
    rec = escalated(w)
    decision = steps.issue_decision(
        w.government,
        recommendation=rec,
        facts="逾期未整改",
        legal_basis="《上海市行政执法监督办法》",
        demanded="限期整改",
        measures=[steps.MeasureInput(kind=AccountabilityMeasure.Kind.NOTIFIED_CRITICISM, note="全区通报")],
    )
    measure = decision.measures.get()
    item = bulletins.draft_bulletin(
        w.supervisor,
        kind=Bulletin.Kind.NOTIFIED_CRITICISM,
        audience=Bulletin.Audience.DISTRICT_BODIES,
        title=f"关于对{w.body.name}予以通报批评的通报",
        text=f"依据{decision.number}，对{w.body.name}予以通报批评。",
        measure=measure,
    )
    assert item.decision == decision and item.measure == measure
    with pytest.raises(DomainError, match="已有通报"):
        bulletins.draft_bulletin(
            w.supervisor,
            kind=Bulletin.Kind.NOTIFIED_CRITICISM,
            audience="public",
            title="x",
            text="y",
            measure=measure,
        )
    with pytest.raises(DomainError, match="通报批评"):
        bulletins.draft_bulletin(
            w.supervisor,
            kind=Bulletin.Kind.NOTIFIED_CRITICISM,
            audience="public",
            title="x",
            text="y",
            decision=decision,
        )


def test_only_the_district_bureau_drafts_from_findings_it_has(w):
    with pytest.raises(PermissionDenied):
        bulletins.draft_bulletin(
            w.mh_supervisor,
            kind="typical_case",
            audience="public",
            title="x",
            text="y",
            findings=[w.task_finding],
        )
    with pytest.raises(DomainError, match="依据的监督问题"):
        bulletins.draft_bulletin(w.supervisor, kind="typical_case", audience="public", title="x", text="y")


def test_who_reads_what(w, client):
    public = published(w)
    inside = published(w, audience=Bulletin.Audience.DISTRICT_BODIES)
    draft = drafted(w)
    assert set(Bulletin.objects.visible_to(w.head)) == {public, inside}
    assert set(Bulletin.objects.visible_to(w.inspector_user)) == {public, inside}
    assert set(Bulletin.objects.visible_to(w.other_head)) == {public}
    assert set(Bulletin.objects.visible_to(w.supervisor)) == {public, inside, draft}
    assert set(Bulletin.objects.visible_to(w.mh_supervisor)) == set()
    client.force_login(w.other_head)
    assert client.get(reverse("supervision:bulletin_detail", args=[inside.pk])).status_code == 404
    client.logout()
    assert client.get(reverse("supervision:bulletin_public_detail", args=[inside.pk])).status_code == 404
    assert client.get(reverse("supervision:bulletin_public_detail", args=[draft.pk])).status_code == 404
    page = client.get(reverse("supervision:bulletin_public_detail", args=[public.pk])).content.decode()
    assert "无码入企检查典型案例" in page and "金山区司法局" in page
    # Withdrawn: off the public page.
    bulletins.withdraw_bulletin(w.supervisor, bulletin=public, note="内容有误")
    assert client.get(reverse("supervision:bulletin_public_detail", args=[public.pk])).status_code == 404


def test_the_public_list_costs_the_same_however_many_and_is_rate_limited(
    w, client, settings, django_assert_max_num_queries
):
    cache.clear()
    published(w)
    url = reverse("supervision:bulletin_public_list")
    with django_assert_max_num_queries(4):
        first = client.get(url)
    for n in range(5):
        published(w, text=f"{TEXT}（{n}）")
    with django_assert_max_num_queries(4) as after:
        many = client.get(url)
    assert first.status_code == many.status_code == 200
    assert many.content.decode().count("无码入企检查典型案例") == 6
    assert len(after.captured_queries) <= 4
    settings.BULLETIN_PUBLIC_RATE_LIMIT = "3/m"
    cache.clear()
    answers = [client.get(url).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    cache.clear()


def test_pages_draft_review_publish(w, client):
    client.force_login(w.supervisor)
    form = client.get(reverse("supervision:bulletin_create")).content.decode()
    assert "无码入企检查" in form
    response = client.post(
        reverse("supervision:bulletin_create"),
        {
            "kind": "typical_case",
            "audience": "public",
            "title": "典型案例一",
            "text": TEXT,
            "finding": [w.task_finding.pk],
        },
    )
    item = Bulletin.objects.get()
    assert response["Location"] == reverse("supervision:bulletin_detail", args=[item.pk])
    client.post(reverse("supervision:bulletin_action", args=[item.pk, "submit"]))
    client.force_login(w.approver)
    assert "审核通过" in client.get(reverse("supervision:bulletin_detail", args=[item.pk])).content.decode()
    client.post(reverse("supervision:bulletin_action", args=[item.pk, "approve"]))
    client.post(reverse("supervision:bulletin_action", args=[item.pk, "publish"]))
    item.refresh_from_db()
    assert item.status == Bulletin.Status.PUBLISHED
    client.logout()
    cache.clear()
    assert "典型案例一" in client.get(reverse("supervision:bulletin_public_list")).content.decode()
