"""Compliance guides (合规指引, F-36; seed 003 二（二）1 第三步): a body's administrator writes them for a field it
works in, or for an item it may check, and publishes them; published guides go to the enterprise with the
task's notice before the inspection and are shown on its portal.

Services take the acting user first, check permission and state (one transitions table: draft ⇄ published),
change the data in one transaction and append to the audit log."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from jianchama.core import audit
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied, raise_if
from jianchama.core.roles import Role

from .models import ComplianceGuide, EnforcementBody, Field, InspectionItem

AUDIT_ACTIONS = {
    "guide.created": "编写合规指引",
    "guide.updated": "修改合规指引",
    "guide.published": "发布合规指引",
    "guide.unpublished": "撤回合规指引",
}
audit.register_actions(AUDIT_ACTIONS)

GUIDE_FIELDS = ["body", "field", "item", "title", "content", "is_published"]
MAX_TITLE = 200
MAX_CONTENT = 20000

# is_published → the states it may change to.
TRANSITIONS = {False: {True}, True: {False}}
STATE_LABELS = {False: "草稿", True: "已发布"}


def can_write_guides(user) -> bool:
    return user.is_authenticated and user.role == Role.BODY_ADMIN and user.body_id is not None


def can_edit(user, guide: ComplianceGuide) -> bool:
    return can_write_guides(user) and user.body_id == guide.body_id


def may_check(body: EnforcementBody, item: InspectionItem) -> bool:
    """Whether the body may check the item: listed among the item's bodies, or entrusted with it."""
    if item.bodies.filter(pk=body.pk).exists():
        return True
    return (
        body.body_type == EnforcementBody.Type.ENTRUSTED and body.entrusted_items.filter(pk=item.pk).exists()
    )


def writable_items(body: EnforcementBody) -> QuerySet[InspectionItem]:
    """The published items of the body's fields it may check: what a guide of the body can be about."""
    entrusted = body.entrusted_items.all() if body.body_type == EnforcementBody.Type.ENTRUSTED else []
    return (
        InspectionItem.objects.filter(is_published=True, field__in=body.fields.all())
        .filter(Q(bodies=body) | Q(pk__in=[i.pk for i in entrusted]))
        .distinct()
        .select_related("field")
    )


def _problems(
    body: EnforcementBody, field: Field | None, item: InspectionItem | None, title: str, content: str
) -> list[str]:
    problems = []
    if field is None:
        problems.append("请选择执法领域")
    elif not body.fields.filter(pk=field.pk).exists():
        problems.append(f"{body.name}不在「{field.name}」领域执法，不能为该领域编写合规指引")
    if item is not None:
        if field is not None and item.field_id != field.pk:
            problems.append(f"检查事项「{item.name}」不属于「{field.name}」领域")
        elif not item.is_published:
            problems.append(f"检查事项「{item.name}」不在已公布的检查事项清单中")
        elif not may_check(body, item):
            problems.append(f"{body.name}不能实施「{item.name}」检查，不能为其编写合规指引")
    if not title.strip():
        problems.append("请填写标题")
    elif len(title.strip()) > MAX_TITLE:
        problems.append(f"标题不能超过{MAX_TITLE}字")
    if not content.strip():
        problems.append("请填写指引内容")
    elif len(content) > MAX_CONTENT:
        problems.append(f"指引内容不能超过{MAX_CONTENT}字")
    return problems


def _record(actor, action: str, guide: ComplianceGuide, before: dict | None) -> None:
    audit.record(
        actor=actor, action=action, obj=guide, before=before, after=audit.snapshot(guide, GUIDE_FIELDS)
    )


@transaction.atomic
def create_guide(
    actor,
    *,
    field: Field | None,
    title: str,
    content: str,
    item: InspectionItem | None = None,
    publish: bool = False,
) -> ComplianceGuide:
    """A guide of the actor's body for one of its fields, or for one item of it the body may check."""
    if not can_write_guides(actor):
        raise PermissionDenied("只有执法单位管理员可以编写本单位的合规指引")
    body = EnforcementBody.objects.get(pk=actor.body_id)
    raise_if(_problems(body, field, item, title, content), "合规指引未保存")
    guide = ComplianceGuide.objects.create(
        body=body,
        field=field,
        item=item,
        title=title.strip(),
        content=content.strip(),
        is_published=publish,
        published_at=timezone.now() if publish else None,
        created_by=actor,
    )
    _record(actor, "guide.published" if publish else "guide.created", guide, None)
    return guide


def _locked(guide: ComplianceGuide) -> ComplianceGuide:
    return ComplianceGuide.objects.select_for_update().select_related("body").get(pk=guide.pk)


@transaction.atomic
def update_guide(actor, *, guide: ComplianceGuide, **changes: Any) -> ComplianceGuide:
    """Change a guide's field, item, title or content; a published guide stays published with the new text."""
    guide = _locked(guide)
    if not can_edit(actor, guide):
        raise PermissionDenied(f"只有{guide.body.name}的管理员可以修改其合规指引")
    unknown = set(changes) - {"field", "item", "title", "content"}
    if unknown:
        raise DomainError(f"合规指引没有这些内容：{'、'.join(sorted(unknown))}")
    before = audit.snapshot(guide, GUIDE_FIELDS)
    field = changes.get("field", guide.field)
    item = changes.get("item", guide.item)
    title = changes.get("title", guide.title)
    content = changes.get("content", guide.content)
    raise_if(_problems(guide.body, field, item, title, content), "合规指引未保存")
    guide.field, guide.item, guide.title, guide.content = field, item, title.strip(), content.strip()
    guide.save()
    _record(actor, "guide.updated", guide, before)
    return guide


def _set_published(actor, guide: ComplianceGuide, published: bool) -> ComplianceGuide:
    guide = _locked(guide)
    if not can_edit(actor, guide):
        raise PermissionDenied(f"只有{guide.body.name}的管理员可以发布或撤回其合规指引")
    if published not in TRANSITIONS[guide.is_published]:
        raise InvalidTransition(
            f"合规指引「{guide.title}」当前为「{STATE_LABELS[guide.is_published]}」，"
            f"不能{'发布' if published else '撤回'}"
        )
    before = audit.snapshot(guide, GUIDE_FIELDS)
    guide.is_published = published
    guide.published_at = timezone.now() if published else None
    guide.save(update_fields=["is_published", "published_at", "updated_at"])
    _record(actor, "guide.published" if published else "guide.unpublished", guide, before)
    return guide


@transaction.atomic
def publish_guide(actor, *, guide: ComplianceGuide) -> ComplianceGuide:
    return _set_published(actor, guide, True)


@transaction.atomic
def unpublish_guide(actor, *, guide: ComplianceGuide) -> ComplianceGuide:
    return _set_published(actor, guide, False)


# --- Delivery -------------------------------------------------------------------------------------------


def guides_for(
    items: Iterable[InspectionItem], bodies: Iterable[EnforcementBody]
) -> QuerySet[ComplianceGuide]:
    """The published guides an enterprise gets for an inspection of these items by these bodies: every guide
    written for one of the items (whichever body wrote it), and the field-wide guides of the inspecting
    bodies for the items' fields."""
    item_ids = [item.pk for item in items]
    field_ids = set(InspectionItem.objects.filter(pk__in=item_ids).values_list("field_id", flat=True))
    body_ids = [body.pk for body in bodies]
    return (
        ComplianceGuide.objects.filter(is_published=True)
        .filter(Q(item_id__in=item_ids) | Q(item__isnull=True, field_id__in=field_ids, body_id__in=body_ids))
        .select_related("body", "field", "item")
        .order_by("field__code", "item__code", "title", "pk")
    )


def guides_for_task(task) -> QuerySet[ComplianceGuide]:
    return guides_for(task.items.all(), [tb.body for tb in task.task_bodies.select_related("body")])


def guide_url(guide: ComplianceGuide) -> str:
    """The guide's address for a message read outside the site (SMS, the government app)."""
    return f"{settings.CODE_BASE_URL.rstrip('/')}{reverse('registry:guide_detail', args=[guide.pk])}"
