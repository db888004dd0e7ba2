"""Guidance opinions (指导性意见, F-37) and typical cases and bulletins (典型案例、通报, F-37, F-33's 通报批评).

Seed 003 二（四）3: for a common or systemic problem found in supervision, the bureau puts forward a targeted,
workable guidance opinion within one month of finding it (在发现问题后的1个月内) — a calendar month, not working
days. A supervisor marks the problem as systemic from the findings of several bodies or of a field; the opinion is
due one calendar month after that day, is issued as a numbered PDF to the bodies it concerns, and each body's
administrator acknowledges it. Seed 003 三（三）: the bureau publicises typical cases and bulletins (典型案例、工作
简报); seed 003 二（二）2: a body given a decision letter may be criticised by a bulletin (通报批评) "within a certain
range" — the audience of a bulletin is chosen: the bodies of the district, or the public.

State changes go through `supervision/guidance.py`; the transitions are below.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from jianchama.core.files import RandomName
from jianchama.core.roles import Role
from jianchama.registry.models import EnforcementBody, Field, Region

__all__ = [
    "BULLETIN_TRANSITIONS",
    "GUIDANCE_TRANSITIONS",
    "Bulletin",
    "GuidanceOpinion",
    "GuidanceRecipient",
]


def _staff_region_scope(qs, user, region_field: str):
    """Supervisors and the district government see their region's records (a town supervisor his district's,
    since the opinion or bulletin is the district's); the platform administrator all; None for other roles."""
    if user.is_platform_admin:
        return qs.all()
    if user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT):
        if user.region_id is None:
            return qs.none()
        path = user.region.path
        # The record's region contains the user's, or lies within it.
        prefixes = [path[: i + 1] for i, ch in enumerate(path) if ch == "/"]
        return qs.filter(
            Q(**{f"{region_field}__path__in": prefixes}) | Q(**{f"{region_field}__path__startswith": path})
        )
    return None


class GuidanceQuerySet(models.QuerySet):
    def visible_to(self, user) -> GuidanceQuerySet:
        """The bureau's supervisors and the district government see their district's opinions, drafts
        included; a body's administrator sees the issued opinions addressed to his body; nobody else any."""
        if not user.is_authenticated:
            return self.none()
        scoped = _staff_region_scope(self, user, "region")
        if scoped is not None:
            return scoped
        if user.role == Role.BODY_ADMIN and user.body_id:
            return self.filter(
                status=GuidanceOpinion.Status.ISSUED, recipients__body_id=user.body_id
            ).distinct()
        return self.none()


class GuidanceOpinion(models.Model):
    """A guidance opinion on a systemic problem: drafted when a supervisor marks the problem as systemic (the
    day the one-month period starts), issued as a numbered PDF to its recipient bodies."""

    class Status(models.TextChoices):
        DRAFT = "draft", "起草中"
        ISSUED = "issued", "已印发"

    region = models.ForeignKey(Region, verbose_name="区域", on_delete=models.PROTECT, related_name="+")
    title = models.CharField("标题", max_length=200)
    problem = models.TextField("普遍性、系统性问题")
    field = models.ForeignKey(
        Field, verbose_name="执法领域", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    findings = models.ManyToManyField(
        "supervision.Finding", verbose_name="依据的监督问题", related_name="guidance_opinions"
    )
    marked_on = models.DateField("认定为系统性问题日期")
    due_on = models.DateField("意见提出期限")
    due_missed_at = models.DateTimeField("逾期时间", null=True, blank=True)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.DRAFT)
    guidance = models.TextField("指导意见", blank=True)
    number = models.CharField("文号", max_length=40, blank=True)
    document = models.FileField(
        "指导性意见（PDF）", upload_to=RandomName("supervision/guidance/%Y/"), blank=True
    )
    issued_on = models.DateField("印发日期", null=True, blank=True)
    issued_at = models.DateTimeField("印发时间", null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="印发人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="认定人", on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField("登记时间", auto_now_add=True)

    objects = GuidanceQuerySet.as_manager()

    class Meta:
        verbose_name = "指导性意见"
        verbose_name_plural = "指导性意见"
        ordering = ["-marked_on", "-id"]
        indexes = [models.Index(fields=["status", "due_on"])]
        constraints = [
            models.UniqueConstraint(fields=["number"], condition=~Q(number=""), name="unique_guidance_number")
        ]

    def __str__(self) -> str:
        return self.number or self.title


GUIDANCE_TRANSITIONS: dict[str, set[str]] = {
    GuidanceOpinion.Status.DRAFT: {GuidanceOpinion.Status.ISSUED},
    GuidanceOpinion.Status.ISSUED: set(),
}


class GuidanceRecipient(models.Model):
    """One body an opinion goes to, and its administrator's acknowledgement (签收)."""

    opinion = models.ForeignKey(
        GuidanceOpinion, verbose_name="指导性意见", on_delete=models.CASCADE, related_name="recipients"
    )
    body = models.ForeignKey(
        EnforcementBody, verbose_name="执法单位", on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField("签收时间", null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="签收人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = "指导性意见送达单位"
        verbose_name_plural = "指导性意见送达单位"
        ordering = ["body__name", "pk"]
        constraints = [models.UniqueConstraint(fields=["opinion", "body"], name="unique_guidance_recipient")]

    def __str__(self) -> str:
        return f"{self.opinion}：{self.body}"


class BulletinQuerySet(models.QuerySet):
    def visible_to(self, user) -> BulletinQuerySet:
        """The bureau's supervisors and the district government see their district's bulletins at every
        stage; a body's staff see the published ones of their district (any audience); the public (and
        everyone) the published public ones (`published_public`)."""
        public = self.filter(status=Bulletin.Status.PUBLISHED, audience=Bulletin.Audience.PUBLIC)
        if not user.is_authenticated:
            return public
        scoped = _staff_region_scope(self, user, "region")
        if scoped is not None:
            return scoped
        body = getattr(user, "body", None) if user.body_id else None
        if user.role in (Role.BODY_ADMIN, Role.INSPECTOR) and body is not None:
            district = body.region.district() or body.region
            return self.filter(status=Bulletin.Status.PUBLISHED).filter(
                Q(audience=Bulletin.Audience.PUBLIC) | Q(region_id=district.pk)
            )
        return public

    def published_public(self) -> BulletinQuerySet:
        return self.filter(status=Bulletin.Status.PUBLISHED, audience=Bulletin.Audience.PUBLIC)


class Bulletin(models.Model):
    """A typical case (典型案例) or a bulletin (通报), drafted by a supervisor from findings or a decision,
    approved by another supervisor of the district, published to the chosen audience. A notified criticism
    (通报批评) decided as an accountability measure is published as a bulletin of that kind, linked to it."""

    class Kind(models.TextChoices):
        TYPICAL_CASE = "typical_case", "典型案例"
        BULLETIN = "bulletin", "通报"
        NOTIFIED_CRITICISM = "notified_criticism", "通报批评"

    class Audience(models.TextChoices):
        DISTRICT_BODIES = "district_bodies", "本区各执法单位"
        PUBLIC = "public", "社会公开"

    class Status(models.TextChoices):
        DRAFT = "draft", "起草中"
        SUBMITTED = "submitted", "待审核"
        APPROVED = "approved", "已审核，待发布"
        PUBLISHED = "published", "已发布"
        WITHDRAWN = "withdrawn", "已撤回"

    region = models.ForeignKey(Region, verbose_name="区域", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField("类别", max_length=20, choices=Kind.choices)
    audience = models.CharField("发布范围", max_length=20, choices=Audience.choices)
    title = models.CharField("标题", max_length=200)
    text = models.TextField("正文")
    findings = models.ManyToManyField(
        "supervision.Finding", verbose_name="依据的监督问题", blank=True, related_name="bulletins"
    )
    decision = models.ForeignKey(
        "supervision.Decision",
        verbose_name="依据的监督决定书",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bulletins",
    )
    measure = models.OneToOneField(
        "supervision.AccountabilityMeasure",
        verbose_name="通报批评措施",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bulletin",
    )
    # Privacy: a public bulletin names no enterprise unless its drafter confirms that it may.
    names_enterprises = models.BooleanField("经确认可公开企业名称", default=False)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.DRAFT)
    review_note = models.TextField("审核意见", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="起草人", on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField("起草时间", auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="审核人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    approved_at = models.DateTimeField("审核时间", null=True, blank=True)
    published_at = models.DateTimeField("发布时间", null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="发布人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = BulletinQuerySet.as_manager()

    class Meta:
        verbose_name = "典型案例与通报"
        verbose_name_plural = "典型案例与通报"
        ordering = ["-published_at", "-created_at", "-id"]
        indexes = [models.Index(fields=["status", "audience", "published_at"])]

    def __str__(self) -> str:
        return self.title


B = Bulletin.Status
BULLETIN_TRANSITIONS: dict[str, set[str]] = {
    B.DRAFT: {B.SUBMITTED},
    B.SUBMITTED: {B.APPROVED, B.DRAFT},  # approved, or returned to the drafter
    B.APPROVED: {B.PUBLISHED, B.DRAFT},
    B.PUBLISHED: {B.WITHDRAWN},
    B.WITHDRAWN: set(),
}
