"""Quarterly sampling of enforcement bodies (F-31): rounds drawn by commit and reveal, reviews with score sheets.

A round is public from its commitment on (the pool's hash and the seed's commitment are what make the draw
verifiable); its seed and result once revealed. Score sheets are the bureau's criteria, open to staff.
Reviews are the bureau's work on one body: its supervisors see them, and the body sees its own.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from jianchama.core.roles import Role
from jianchama.registry.models import EnforcementBody, Region

__all__ = [
    "Method",
    "SampledBody",
    "SamplingReview",
    "SamplingRound",
    "SamplingShortfall",
    "ScoreSheet",
]


class Method(models.TextChoices):
    """The three ways of seed 003 二（一）1."""

    DOCUMENT_REVIEW = "document_review", "调取查阅涉企行政检查资料"
    ONSITE_OBSERVATION = "onsite_observation", "实地查看涉企行政检查活动"
    CASE_FILE_REVIEW = "case_file_review", "评查行政执法案卷"


def _in_region(user, prefix: str) -> Q:
    return Q(**{f"{prefix}__path__startswith": user.region.path})


class ScoreSheetQuerySet(models.QuerySet):
    def visible_to(self, user) -> ScoreSheetQuerySet:
        """The criteria are open to staff: supervisors and the district government see the sheets of their
        region, of the regions within it and of those above it (a city-wide sheet applies in the district);
        every body's people see them, being scored by them. Enterprises have no use for them."""
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT):
            if user.region_id is None:
                return self.none()
            parts = user.region.path.split("/")[:-1]
            above = ["".join(f"{p}/" for p in parts[: n + 1]) for n in range(len(parts))]
            return self.filter(_in_region(user, "region") | Q(region__path__in=above))
        if user.role in (Role.BODY_ADMIN, Role.INSPECTOR, Role.CITY_REVIEWER) and user.body_id:
            return self.all()
        return self.none()


class ScoreSheet(models.Model):
    """A configurable score sheet for one method: items, each with its full marks, and a pass mark."""

    region = models.ForeignKey(
        Region, verbose_name="所属区域", on_delete=models.PROTECT, related_name="sampling_score_sheets"
    )
    name = models.CharField("评分表名称", max_length=100)
    method = models.CharField("抽查方式", max_length=20, choices=Method.choices)
    # [{"name": "检查计划按时备案并公告", "max": 20}, …]
    items = models.JSONField("评分项目", default=list)
    # The pass mark as a percentage of the sheet's full marks; empty: settings.SAMPLING_PASS_SCORE.
    pass_score = models.PositiveSmallIntegerField("合格线（得分率%）", null=True, blank=True)
    is_active = models.BooleanField("启用", default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="创建人", on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = ScoreSheetQuerySet.as_manager()

    class Meta:
        verbose_name = "抽查评分表"
        verbose_name_plural = "抽查评分表"
        ordering = ["method", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def full_marks(self) -> int:
        return sum(int(item["max"]) for item in self.items)


class SamplingRoundQuerySet(models.QuerySet):
    def visible_to(self, user) -> SamplingRoundQuerySet:
        """Every round is public from its commitment on, to anyone, logged in or not: publishing the pool's
        hash and the seed's commitment before the draw is what makes it verifiable (as F-14's draws). The
        seed itself is shown only once revealed or withdrawn."""
        return self.all()

    def live(self) -> SamplingRoundQuerySet:
        return self.filter(status__in=SamplingRound.LIVE)


class SamplingRound(models.Model):
    """One quarter's sampling of one region's bodies, drawn by commit and reveal (docs/sampling.md)."""

    class Status(models.TextChoices):
        COMMITTED = "committed", "已公布承诺值，待抽取"
        REVEALED = "revealed", "已抽取并公开"
        WITHDRAWN = "withdrawn", "已撤销（种子已公开）"

    LIVE = (Status.COMMITTED, Status.REVEALED)

    region = models.ForeignKey(
        Region, verbose_name="监督区域", on_delete=models.PROTECT, related_name="sampling_rounds"
    )
    year = models.PositiveSmallIntegerField("年度")
    quarter = models.PositiveSmallIntegerField("季度")
    algorithm = models.CharField("抽取算法", max_length=30)
    ratio = models.CharField("抽查比例", max_length=12)
    body_count = models.PositiveIntegerField("抽取单位数")
    # [[body code, body name], …] sorted by code: the pool as published and hashed.
    pool = models.JSONField("执法单位库快照", default=list)
    pool_hash = models.CharField("执法单位库快照散列", max_length=64)
    seed_commitment = models.CharField("随机种子承诺值", max_length=64)
    # Secret until the reveal (or withdrawal); never shown before.
    seed = models.CharField("随机种子", max_length=64)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.COMMITTED)
    committed_at = models.DateTimeField("承诺时间", auto_now_add=True)
    revealed_at = models.DateTimeField("抽取时间", null=True, blank=True)
    # Body codes in drawn order.
    result = models.JSONField("抽取结果", default=list, blank=True)
    withdrawn_at = models.DateTimeField("撤销时间", null=True, blank=True)
    withdrawal_reason = models.TextField("撤销原因", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="发起人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = SamplingRoundQuerySet.as_manager()

    class Meta:
        verbose_name = "季度抽查"
        verbose_name_plural = "季度抽查"
        ordering = ["-year", "-quarter", "region__path", "-committed_at"]
        constraints = [
            # Only one live round per region and quarter: a withdrawn one may be followed by another.
            models.UniqueConstraint(
                fields=["region", "year", "quarter"],
                condition=Q(status__in=["committed", "revealed"]),
                name="unique_live_sampling_round",
            ),
            models.CheckConstraint(condition=Q(quarter__gte=1, quarter__lte=4), name="sampling_quarter_1_4"),
        ]

    def __str__(self) -> str:
        return f"{self.region.name}{self.year}年第{self.quarter}季度抽查"

    @property
    def period_label(self) -> str:
        return f"{self.year}年第{self.quarter}季度"


class SampledBodyQuerySet(models.QuerySet):
    def visible_to(self, user) -> SampledBodyQuerySet:
        """The result of a revealed round is public."""
        return self.filter(round__status=SamplingRound.Status.REVEALED)


class SampledBody(models.Model):
    """A body drawn in a round, in drawn order."""

    round = models.ForeignKey(
        SamplingRound, verbose_name="季度抽查", on_delete=models.PROTECT, related_name="sampled"
    )
    body = models.ForeignKey(
        EnforcementBody, verbose_name="执法单位", on_delete=models.PROTECT, related_name="sampled_in"
    )
    position = models.PositiveIntegerField("抽取顺序")

    objects = SampledBodyQuerySet.as_manager()

    class Meta:
        verbose_name = "抽中的执法单位"
        verbose_name_plural = "抽中的执法单位"
        ordering = ["round", "position"]
        constraints = [models.UniqueConstraint(fields=["round", "body"], name="unique_sampled_body")]

    def __str__(self) -> str:
        return f"{self.round}：{self.body}"


class SamplingReviewQuerySet(models.QuerySet):
    def visible_to(self, user) -> SamplingReviewQuerySet:
        """Supervisors and the district government of the body's region; the body's administrators see their
        own body's reviews."""
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT):
            if user.region_id is None:
                return self.none()
            return self.filter(_in_region(user, "sampled__body__region"))
        if user.role == Role.BODY_ADMIN and user.body_id:
            return self.filter(sampled__body_id=user.body_id)
        return self.none()


class SamplingReview(models.Model):
    """One method's review of one sampled body, scored on a score sheet. The sheet's items are copied with
    the scores, so editing the sheet later does not change a review already made."""

    sampled = models.ForeignKey(
        SampledBody, verbose_name="抽中的执法单位", on_delete=models.PROTECT, related_name="reviews"
    )
    method = models.CharField("抽查方式", max_length=20, choices=Method.choices)
    sheet = models.ForeignKey(
        ScoreSheet, verbose_name="评分表", on_delete=models.PROTECT, related_name="reviews"
    )
    # [{"name": …, "max": 20, "score": 15, "problem": false, "note": ""}, …]
    scores = models.JSONField("逐项得分", default=list)
    total = models.PositiveIntegerField("得分")
    full_marks = models.PositiveIntegerField("满分")
    pass_score = models.PositiveSmallIntegerField("合格线（得分率%）")
    passed = models.BooleanField("合格")
    notes = models.TextField("评查意见", blank=True)
    reviewed_on = models.DateField("评查日期")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="评查人", on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField("登记时间", auto_now_add=True)
    finding = models.ForeignKey(
        "supervision.Finding",
        verbose_name="形成的监督问题",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sampling_reviews",
    )

    objects = SamplingReviewQuerySet.as_manager()

    class Meta:
        verbose_name = "抽查评查"
        verbose_name_plural = "抽查评查"
        ordering = ["sampled", "method"]
        constraints = [
            models.UniqueConstraint(fields=["sampled", "method"], name="unique_sampling_review_method")
        ]

    def __str__(self) -> str:
        return f"{self.sampled.body}（{self.sampled.round.period_label}·{self.get_method_display()}）"

    @property
    def problem_items(self) -> list[dict]:
        return [entry for entry in self.scores if entry.get("problem")]


class SamplingShortfallQuerySet(models.QuerySet):
    def visible_to(self, user) -> SamplingShortfallQuerySet:
        """The bureau's own work: supervisors and the district government of the region (or above it)."""
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT):
            if user.region_id is None:
                return self.none()
            return self.filter(_in_region(user, "region"))
        return self.none()


class SamplingShortfall(models.Model):
    """A finding of the supervisors' own work (抽查未落实): the quarter's sampling that silently fell short of
    seed 003's 「每季度以不低于10%的比例……开展抽查」 — the round not committed, or not revealed, within the
    settable number of working days, or a drawn body left without any review at the quarter's end. Found by
    the daily job (`sampling.record_shortfalls`); `key` is unique, so it is found once and stays recorded
    when the work is done late."""

    class Kind(models.TextChoices):
        NOT_COMMITTED = "not_committed", "未按期公布抽查承诺值"
        NOT_REVEALED = "not_revealed", "未按期抽取"
        NOT_REVIEWED = "not_reviewed", "抽中单位季度末未评查"

    key = models.CharField("标识", max_length=80, unique=True)
    kind = models.CharField("问题", max_length=16, choices=Kind.choices)
    region = models.ForeignKey(Region, verbose_name="监督区域", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField("年度")
    quarter = models.PositiveSmallIntegerField("季度")
    sampling_round = models.ForeignKey(
        SamplingRound,
        verbose_name="季度抽查",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="shortfalls",
    )
    sampled = models.ForeignKey(
        SampledBody,
        verbose_name="抽中的执法单位",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="shortfalls",
    )
    due = models.DateField("期限")
    description = models.TextField("说明")
    found_at = models.DateTimeField("发现时间", auto_now_add=True)

    objects = SamplingShortfallQuerySet.as_manager()

    class Meta:
        verbose_name = "抽查未落实"
        verbose_name_plural = "抽查未落实"
        ordering = ["-year", "-quarter", "region__path", "kind", "id"]
        indexes = [models.Index(fields=["region", "year", "quarter"])]

    def __str__(self) -> str:
        return f"{self.region.name}{self.year}年第{self.quarter}季度：{self.get_kind_display()}"
