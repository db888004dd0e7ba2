"""Compliance guides (F-36): a body's administrator writes them per field and item, publishes them; they go
with the task's notice before the inspection and are shown on the enterprise's portal with the result's
improvement advice afterwards. What each service refuses, who sees what, and the pages."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from jianchama.core.audit import AuditEvent
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.roles import Role
from jianchama.inspections import services as inspections
from jianchama.inspections.models import InspectionRecord
from jianchama.notifications.models import Notification
from jianchama.registry import guides
from jianchama.registry.models import ComplianceGuide, EnforcementBody
from tests.factories import BodyFactory, ItemFactory, user_for
from tests.inspections.conftest import build_scenario

pytestmark = pytest.mark.django_db


@pytest.fixture
def s(db):
    return build_scenario()


def write(s, actor=None, **kwargs):
    args = {
        "field": s.gas,
        "item": s.item,
        "title": "燃气经营企业许可自查指引",
        "content": "一、核对燃气经营许可证有效期；\n二、核对经营范围与许可是否一致。",
    }
    return guides.create_guide(actor or s.head, **{**args, **kwargs})


# --- Services --------------------------------------------------------------------------------------------------


def test_a_body_admin_writes_a_draft_and_publishes_it(s):
    guide = write(s)
    assert guide.body == s.body and guide.item == s.item and not guide.is_published
    assert guide.published_at is None and guide.created_by == s.head
    guide = guides.publish_guide(s.head, guide=guide)
    assert guide.is_published and guide.published_at is not None
    with pytest.raises(InvalidTransition, match="当前为「已发布」，不能发布"):
        guides.publish_guide(s.head, guide=guide)
    guide = guides.unpublish_guide(s.head, guide=guide)
    assert not guide.is_published and guide.published_at is None
    actions = list(
        AuditEvent.objects.filter(action__startswith="guide.")
        .order_by("sequence")
        .values_list("action", flat=True)
    )
    assert actions == ["guide.created", "guide.published", "guide.unpublished"]


def test_a_field_wide_guide_and_one_published_at_once(s):
    guide = write(s, item=None, title="燃气领域合规经营指引", publish=True)
    assert guide.item is None and guide.is_published
    assert AuditEvent.objects.filter(action="guide.published").count() == 1


def test_an_entrusted_body_writes_for_its_entrusted_item(s):
    entrusted = BodyFactory(
        name="金山区某受委托组织", region=s.jinshan, fields=[s.gas], body_type=EnforcementBody.Type.ENTRUSTED
    )
    entrusted.entrusted_items.set([s.item])
    admin = user_for(Role.BODY_ADMIN, body=entrusted)
    assert write(s, admin).body == entrusted
    assert list(guides.writable_items(entrusted)) == [s.item]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: {"field": s.market}, "不在「市场监管」领域执法"),
        (lambda s: {"item": s.partner_item}, "不属于「燃气管理」领域"),
        (lambda s: {"item": s.unpublished_item}, "不在已公布的检查事项清单中"),
        (lambda s: {"item": ItemFactory(field=s.gas, bodies=[s.other_body])}, "不能实施"),
        (lambda s: {"title": " "}, "请填写标题"),
        (lambda s: {"content": ""}, "请填写指引内容"),
        (lambda s: {"field": None}, "请选择执法领域"),
    ],
)
def test_bad_guides_are_refused_and_nothing_saved(s, change, message):
    with pytest.raises(DomainError, match=message):
        write(s, **change(s))
    assert (
        not ComplianceGuide.objects.exists()
        and not AuditEvent.objects.filter(action__startswith="guide.").exists()
    )


@pytest.mark.parametrize("who", ["inspector_user", "supervisor", "contact"])
def test_only_a_body_admin_writes_guides(s, who):
    with pytest.raises(PermissionDenied, match="只有执法单位管理员"):
        write(s, getattr(s, who))


def test_another_bodys_admin_cannot_touch_the_guide(s):
    guide = write(s)
    with pytest.raises(PermissionDenied):
        guides.update_guide(s.other_head, guide=guide, title="改")
    with pytest.raises(PermissionDenied):
        guides.publish_guide(s.other_head, guide=guide)
    guide.refresh_from_db()
    assert guide.title == "燃气经营企业许可自查指引" and not guide.is_published


def test_update_checks_like_create(s):
    guide = write(s)
    updated = guides.update_guide(s.head, guide=guide, title="新标题", item=None)
    assert updated.title == "新标题" and updated.item is None
    with pytest.raises(DomainError, match="不属于"):
        guides.update_guide(s.head, guide=guide, item=s.partner_item)
    with pytest.raises(DomainError, match="没有这些内容"):
        guides.update_guide(s.head, guide=guide, body=s.partner)
    assert AuditEvent.objects.filter(action="guide.updated").count() == 1


def test_visibility(s):
    draft = write(s, title="草稿指引")
    published = write(s, title="已发布指引", publish=True)
    visible = ComplianceGuide.objects.visible_to
    assert set(visible(s.head)) == {draft, published}
    assert set(visible(s.inspector_user)) == {draft, published}  # the body's own people see its drafts
    for user in (s.other_head, s.partner_head, s.contact, s.supervisor, s.observer):
        assert list(visible(user)) == [published]
    assert not visible(AnonymousUser()).exists()


# --- Delivery with the notice --------------------------------------------------------------------------------


def test_published_guides_go_with_the_tasks_notice(s):
    item_guide = write(s, publish=True)
    field_guide = write(s, item=None, title="燃气领域合规经营指引", publish=True)
    write(s, title="尚未发布的指引")  # a draft is not sent
    # Minhang's body may check the same item: its item guide goes too; its field-wide guide does not.
    other_item_guide = write(s, s.other_head, title="闵行燃气许可指引", publish=True)
    write(s, s.other_head, item=None, title="闵行燃气领域指引", publish=True)
    # A guide of the item's field for another item is not sent either.
    other_item = ItemFactory(field=s.gas, bodies=[s.body])
    write(s, item=other_item, title="别的事项的指引", publish=True)

    task = s.notified()
    notice = Notification.objects.get(event="task.notified", enterprise=s.enterprise)
    sent = {g["title"] for g in notice.payload["guides"]}
    assert sent == {item_guide.title, field_guide.title, other_item_guide.title}
    assert "合规指引（检查前可对照自查）" in notice.body
    assert f"《{item_guide.title}》" in notice.body
    assert guides.guide_url(item_guide) in notice.body
    assert guides.guide_url(item_guide).endswith(f"/registry/guides/{item_guide.pk}/")
    entry = next(g for g in notice.payload["guides"] if g["title"] == item_guide.title)
    assert entry == {
        "title": item_guide.title,
        "url": guides.guide_url(item_guide),
        "item": s.item.code,
        "body": s.body.name,
    }
    assert task.status == "notified"


def test_no_guides_no_line(s):
    s.notified()
    notice = Notification.objects.get(event="task.notified")
    assert "合规指引" not in notice.body and notice.payload["guides"] == []


# --- The pages -------------------------------------------------------------------------------------------------


def test_the_portal_shows_the_guides_before_and_the_advice_after(client, s):
    guide = write(s, publish=True)
    write(s, title="草稿不显示")
    task = s.in_progress()
    client.force_login(s.contact)
    page = client.get(reverse("portal:task_detail", args=[task.pk]))
    assert guide.title in page.text and reverse("registry:guide_detail", args=[guide.pk]) in page.text
    assert "草稿不显示" not in page.text
    assert client.get(reverse("registry:guide_detail", args=[guide.pk])).status_code == 200
    inspections.record_result(
        s.inspector_user,
        task=task,
        outcome=InspectionRecord.Outcome.NO_PROBLEM,
        summary="未发现问题",
        findings=s.findings(task),
        improvement_advice="建议每季度组织一次燃气泄漏应急演练\n并留存记录。",
    )
    page = client.get(reverse("portal:task_detail", args=[task.pk]))
    assert "改进建议" in page.text and "建议每季度组织一次燃气泄漏应急演练<br>并留存记录。" in page.text


def test_the_record_form_offers_improvement_advice(client, s):
    task = s.in_progress()
    client.force_login(s.inspector_user)
    page = client.get(reverse("inspections:record_result", args=[task.pk]))
    assert page.status_code == 200 and 'name="improvement_advice"' in page.text and "改进建议" in page.text


def test_a_body_admin_writes_edits_and_publishes_through_the_pages(client, s):
    client.force_login(s.head)
    form = client.get(reverse("registry:guide_create"))
    assert form.status_code == 200 and s.item.name in form.text and s.partner_item.name not in form.text
    bad = client.post(reverse("registry:guide_create"), {"field": s.gas.pk, "title": "x", "content": ""})
    assert bad.status_code == 200 and not ComplianceGuide.objects.exists()
    response = client.post(
        reverse("registry:guide_create"),
        {"field": s.gas.pk, "item": s.item.pk, "title": "许可自查指引", "content": "第一条\n第二条"},
    )
    guide = ComplianceGuide.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "registry:guide_detail", args=[guide.pk]
    )
    detail = client.get(response["Location"])
    assert "草稿" in detail.text and "发布" in detail.text and "<p>第一条<br>第二条</p>" in detail.text
    client.post(
        reverse("registry:guide_edit", args=[guide.pk]),
        {"field": s.gas.pk, "title": "改后的标题", "content": "内容"},
    )
    client.post(reverse("registry:guide_publish", args=[guide.pk]))
    guide.refresh_from_db()
    assert guide.title == "改后的标题" and guide.is_published
    client.force_login(s.other_head)
    assert client.get(reverse("registry:guide_edit", args=[guide.pk])).status_code == 403
    assert client.post(reverse("registry:guide_unpublish", args=[guide.pk])).status_code == 403
    client.force_login(s.contact)
    assert client.get(reverse("registry:guide_create")).status_code == 403


def test_the_list_filters_by_field_and_item(client, s):
    item_guide = write(s, title="许可指引甲", publish=True)
    field_guide = write(s, item=None, title="领域指引乙", publish=True)
    market = guides.create_guide(
        s.partner_head, field=s.market, item=s.partner_item, title="器具指引丙", content="内容", publish=True
    )
    draft = write(s, title="草稿丁")
    client.force_login(s.contact)
    url = reverse("registry:guide_list")
    page = client.get(url)
    assert (
        all(g.title in page.text for g in (item_guide, field_guide, market)) and draft.title not in page.text
    )
    by_field = client.get(url, {"field": s.market.pk}).text
    assert market.title in by_field and item_guide.title not in by_field
    by_item = client.get(url, {"item": s.item.pk}).text
    assert item_guide.title in by_item and field_guide.title in by_item and market.title not in by_item
    client.force_login(s.head)
    assert draft.title in client.get(url).text
    client.logout()
    assert client.get(url).status_code == 302
    assert client.get(reverse("registry:guide_detail", args=[draft.pk])).status_code == 302
    client.force_login(s.contact)
    assert client.get(reverse("registry:guide_detail", args=[draft.pk])).status_code == 404
