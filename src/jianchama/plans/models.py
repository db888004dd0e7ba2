"""Inspection plans (F-10), their filing (F-11) and announcement (F-12), and verifiable random draws (F-14).

A district body's plan is filed first with its city-level counterpart, then with the district justice bureau;
a town or street body's plan with the district justice bureau only. State changes go through `services.py`;
the allowed transitions are `TRANSITIONS` below.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from jianchama.core.roles import Role
from jianchama.registry.models import EnforcementBody, Enterprise, InspectionItem, Region


class PlanQuerySet(models.QuerySet):
    def visible_to(self, user) -> PlanQuerySet:
        """A body sees its own plans; the city-level counterpart its district bodies' plans once submitted;
        supervisors their region's bodies' plans once they reach the bureau. Published plans are public."""
        published = Q(status=Plan.Status.PUBLISHED)
        if not user.is_authenticated:
            return self.filter(published)
        if user.is_platform_admin:
            return self.all()
        if user.role in (Role.INSPECTOR, Role.BODY_ADMIN):
            return (
                self.filter(Q(body_id=user.body_id) | published) if user.body_id else self.filter(published)
            )
        if user.role == Role.CITY_REVIEWER:
            if user.body_id is None:
                return self.filter(published)
            return self.filter(
                Q(body_id=user.body_id)
                | (Q(body__city_counterpart_id=user.body_id) & ~Q(status=Plan.Status.DRAFT))
                | published
            )
        if user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT):
            if user.region_id is None:
                return self.filter(published)
            reached = Q(status__in=Plan.REACHED_BUREAU) & Q(body__region__path__startswith=user.region.path)
            return self.filter(reached | published)
        return self.filter(published)


class Plan(models.Model):
    """A body's inspection plan for a period."""

    class Method(models.TextChoices):
        RANDOM = "random", "双随机抽查"
        SPECIAL = "special", "专项检查"
        ROUTINE = "routine", "日常检查"
        OTHER = "other_planned", "其他有计划检查"

    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        CITY_REVIEW = "city_review", "待市级执法单位审核"
        BUREAU_REVIEW = "bureau_review", "待区司法局备案"
        RETURNED = "returned", "退回修改"
        FILED = "filed", "已备案"
        PUBLISHED = "published", "已公告"

    REACHED_BUREAU = frozenset({Status.BUREAU_REVIEW, Status.FILED, Status.PUBLISHED})

    number = models.CharField("计划编号", max_length=40, unique=True, null=True, blank=True)
    body = models.ForeignKey(
        EnforcementBody, verbose_name="执法单位", on_delete=models.PROTECT, related_name="plans"
    )
    title = models.CharField("计划名称", max_length=200)
    period_start = models.DateField("计划期间起")
    period_end = models.DateField("计划期间止")
    method = models.CharField("检查方式", max_length=16, choices=Method.choices)
    items = models.ManyToManyField(InspectionItem, verbose_name="检查事项", related_name="plans")
    # The target scope: any combination; an empty criterion does not restrict.
    target_industries = models.JSONField("目标行业", default=list, blank=True)
    target_regions = models.ManyToManyField(Region, verbose_name="目标区域", blank=True, related_name="+")
    target_risk_grades = models.JSONField("目标风险等级", default=list, blank=True)
    target_enterprises = models.ManyToManyField(
        Enterprise, verbose_name="指定企业名单", blank=True, related_name="+"
    )
    expected_count = models.PositiveIntegerField("预计检查户数")
    description = models.TextField("计划说明", blank=True)
    status = models.CharField(
        "状态", max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="创建人", on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    submitted_at = models.DateTimeField("报送时间", null=True, blank=True)
    filed_at = models.DateTimeField("备案时间", null=True, blank=True)
    published_at = models.DateTimeField("公告时间", null=True, blank=True)

    objects = PlanQuerySet.as_manager()

    class Meta:
        verbose_name = "检查计划"
        verbose_name_plural = "检查计划"
        ordering = ["-period_start", "body__code"]
        indexes = [models.Index(fields=["body", "period_start", "period_end"])]

    def __str__(self) -> str:
        return self.number or self.title


S = Plan.Status
TRANSITIONS: dict[str, set[str]] = {
    S.DRAFT: {S.CITY_REVIEW, S.BUREAU_REVIEW},
    S.RETURNED: {S.CITY_REVIEW, S.BUREAU_REVIEW},
    S.CITY_REVIEW: {S.BUREAU_REVIEW, S.RETURNED},
    S.BUREAU_REVIEW: {S.FILED, S.RETURNED},
    S.FILED: {S.PUBLISHED},
    S.PUBLISHED: set(),
}


class PlanReview(models.Model):
    """One step of filing: the city-level counterpart's review or the justice bureau's filing."""

    class Step(models.TextChoices):
        CITY = "city", "市级执法单位审核"
        BUREAU = "bureau", "区司法局备案"

    class Decision(models.TextChoices):
        APPROVED = "approved", "通过"
        RETURNED = "returned", "退回修改"

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="reviews")
    step = models.CharField("环节", max_length=10, choices=Step.choices)
    received_at = models.DateTimeField("收到时间")
    due = models.DateField("办理期限")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="审核人",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decision = models.CharField("结果", max_length=10, choices=Decision.choices, blank=True)
    comment = models.TextField("意见", blank=True)
    decided_at = models.DateTimeField("办理时间", null=True, blank=True)

    class Meta:
        verbose_name = "计划备案环节"
        verbose_name_plural = "计划备案环节"
        ordering = ["received_at", "pk"]

    def __str__(self) -> str:
        return f"{self.plan} · {self.get_step_display()}"


class RandomDrawQuerySet(models.QuerySet):
    def visible_to(self, user) -> RandomDrawQuerySet:
        """Every draw is public from its commitment on: the published pool hash and seed commitment are what
        make it checkable (一公开). The seed itself is only shown once revealed or withdrawn."""
        return self.all()


class RandomDraw(models.Model):
    """A verifiable draw of enterprises (and inspectors for each) from a plan's pool: commit, then reveal."""

    class Status(models.TextChoices):
        COMMITTED = "committed", "已公布承诺值，待抽取"
        REVEALED = "revealed", "已抽取并公开"

    plan = models.ForeignKey(Plan, verbose_name="检查计划", on_delete=models.PROTECT, related_name="draws")
    algorithm = models.CharField("算法版本", max_length=40)
    enterprise_count = models.PositiveIntegerField("抽取企业数")
    inspectors_per_task = models.PositiveSmallIntegerField("每户执法人员数", default=2)
    strata = models.JSONField("分层比例（风险等级）", default=dict, blank=True)
    pool = models.JSONField("企业库快照", default=list)
    inspector_pool = models.JSONField("执法人员库快照", default=list)
    pool_hash = models.CharField("企业库快照散列", max_length=64)
    seed_commitment = models.CharField("随机种子承诺值", max_length=64)
    seed = models.CharField("随机种子", max_length=64, blank=True)
    result = models.JSONField("抽取结果", default=list, blank=True)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.COMMITTED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="发起人", on_delete=models.PROTECT, related_name="+"
    )
    committed_at = models.DateTimeField("承诺时间", auto_now_add=True)
    revealed_at = models.DateTimeField("抽取时间", null=True, blank=True)
    # Added for the verifiable draw (docs/random-draw.md): the inspector pool's hash, inspectors excluded after
    # the commitment, the inspection window of the tasks created, and a withdrawal (its seed is then published).
    inspector_pool_hash = models.CharField("执法人员库快照散列", max_length=64, blank=True)
    late_exclusions = models.JSONField("承诺后排除的执法人员", default=list, blank=True)
    window_start = models.DateField("检查日期起", null=True, blank=True)
    window_end = models.DateField("检查日期止", null=True, blank=True)
    withdrawn_at = models.DateTimeField("撤销时间", null=True, blank=True)
    withdrawal_reason = models.TextField("撤销原因", blank=True)
    # A reveal of many enterprises queued for the task queue (plans/draws.py, queue_reveal): who asked, the
    # inspection window, when; or why the worker's reveal was refused. Empty when revealed in the request.
    reveal_job = models.JSONField("排队中的抽取", default=dict, blank=True)

    objects = RandomDrawQuerySet.as_manager()

    class Meta:
        verbose_name = "随机抽取"
        verbose_name_plural = "随机抽取"
        ordering = ["-committed_at"]

    def __str__(self) -> str:
        return f"{self.plan}的随机抽取#{self.pk}"


# --- Filing numbers (F-11) and plan coordination (F-13) ---------------------------------------------------


class PlanNumberCounter(models.Model):
    """The last filing number a justice bureau (by its region) gave in a year; the row is locked while a
    number is taken, so two filings at once never get the same number."""

    region = models.ForeignKey(Region, verbose_name="备案区域", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField("年度")
    last = models.PositiveIntegerField("已用最大序号", default=0)

    class Meta:
        verbose_name = "计划备案编号"
        verbose_name_plural = "计划备案编号"
        constraints = [models.UniqueConstraint(fields=["region", "year"], name="unique_plan_counter")]

    def __str__(self) -> str:
        return f"{self.region} {self.year}年：{self.last}"


class CoordinationProposalQuerySet(models.QuerySet):
    def visible_to(self, user) -> CoordinationProposalQuerySet:
        """The bodies concerned see their proposals; supervisors those of their region."""
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.role in (Role.INSPECTOR, Role.BODY_ADMIN, Role.CITY_REVIEWER):
            if user.body_id is None:
                return self.none()
            return self.filter(responses__body_id=user.body_id).distinct()
        if user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT):
            if user.region_id is None:
                return self.none()
            return self.filter(region__path__startswith=user.region.path)
        return self.none()


class CoordinationProposal(models.Model):
    """A proposal that bodies whose plans reach the same enterprises in the same period inspect them jointly
    (进一次门、查多项事). It is accepted when every body concerned has accepted it."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "待各单位确认"
        ACCEPTED = "accepted", "各单位均已接受"
        DECLINED = "declined", "有单位不接受"

    region = models.ForeignKey(Region, verbose_name="区域", on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField("联合检查期间起")
    period_end = models.DateField("联合检查期间止")
    plans = models.ManyToManyField(Plan, verbose_name="涉及的检查计划", related_name="coordination_proposals")
    enterprises = models.ManyToManyField(Enterprise, verbose_name="重叠企业", related_name="+")
    comment = models.TextField("建议说明", blank=True)
    status = models.CharField(
        "状态", max_length=10, choices=Status.choices, default=Status.PROPOSED, db_index=True
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="提出人", on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField("提出时间", auto_now_add=True)
    decided_at = models.DateTimeField("确定时间", null=True, blank=True)

    objects = CoordinationProposalQuerySet.as_manager()

    class Meta:
        verbose_name = "联合检查建议"
        verbose_name_plural = "联合检查建议"
        ordering = ["-proposed_at", "-pk"]

    def __str__(self) -> str:
        return f"联合检查建议#{self.pk}"


class CoordinationResponse(models.Model):
    """One body's answer to a coordination proposal."""

    class Decision(models.TextChoices):
        PENDING = "pending", "待确认"
        ACCEPTED = "accepted", "接受"
        DECLINED = "declined", "不接受"

    proposal = models.ForeignKey(CoordinationProposal, on_delete=models.CASCADE, related_name="responses")
    body = models.ForeignKey(
        EnforcementBody, verbose_name="执法单位", on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField("意见", max_length=10, choices=Decision.choices, default=Decision.PENDING)
    comment = models.TextField("说明", blank=True)
    responder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="确认人",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    responded_at = models.DateTimeField("确认时间", null=True, blank=True)

    class Meta:
        verbose_name = "联合检查建议的单位意见"
        verbose_name_plural = "联合检查建议的单位意见"
        ordering = ["body__code"]
        constraints = [
            models.UniqueConstraint(fields=["proposal", "body"], name="unique_coordination_response")
        ]

    def __str__(self) -> str:
        return f"{self.proposal} · {self.body}"


class ConflictOfInterestQuerySet(models.QuerySet):
    def visible_to(self, user) -> ConflictOfInterestQuerySet:
        """The inspector's body, and supervisors of its region; nobody else (it may name relatives)."""
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.role in (Role.INSPECTOR, Role.BODY_ADMIN):
            return self.filter(inspector__body_id=user.body_id) if user.body_id else self.none()
        if user.role == Role.SUPERVISOR and user.region_id is not None:
            return self.filter(inspector__body__region__path__startswith=user.region.path)
        return self.none()


class ConflictOfInterest(models.Model):
    """An inspector's recorded conflict of interest with an enterprise (a relative there, a former employer,
    a pending dispute): a random draw never sends that inspector there. Kept here because the draw is what
    reads it; the task form's withdrawal (回避) could use it too."""

    inspector = models.ForeignKey(
        "registry.Inspector",
        verbose_name="执法人员",
        on_delete=models.PROTECT,
        related_name="conflicts_of_interest",
    )
    enterprise = models.ForeignKey(
        Enterprise, verbose_name="企业", on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField("利益冲突情形")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="登记人", on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField("登记时间", auto_now_add=True)

    objects = ConflictOfInterestQuerySet.as_manager()

    class Meta:
        verbose_name = "利益冲突"
        verbose_name_plural = "利益冲突"
        ordering = ["-recorded_at"]
        constraints = [
            models.UniqueConstraint(fields=["inspector", "enterprise"], name="unique_conflict_of_interest")
        ]

    def __str__(self) -> str:
        return f"{self.inspector} · {self.enterprise}"


P = CoordinationProposal.Status
PROPOSAL_TRANSITIONS: dict[str, set[str]] = {
    P.PROPOSED: {P.ACCEPTED, P.DECLINED},
    P.ACCEPTED: set(),
    P.DECLINED: set(),
}
