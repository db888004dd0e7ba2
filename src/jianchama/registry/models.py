"""The registry: regions, fields, enforcement bodies, inspectors and certificates, enterprises, items.

Every model has a queryset with `visible_to(user)`: the one place that says which rows a user may see.
"""

from __future__ import annotations

import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone

from jianchama.core.files import RandomName
from jianchama.core.roles import Role


class Region(models.Model):
    """An administrative division: the city, a district, a town or street. `path` makes subtrees one query."""

    class Level(models.TextChoices):
        CITY = "city", "市"
        DISTRICT = "district", "区"
        TOWN = "town", "街镇"

    code = models.CharField("区划代码", max_length=12, unique=True)
    name = models.CharField("名称", max_length=50)
    level = models.CharField("层级", max_length=10, choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name="上级区域",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    path = models.CharField("路径", max_length=100, db_index=True, editable=False)

    class Meta:
        verbose_name = "区域"
        verbose_name_plural = "区域"
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.path = f"{self.parent.path}{self.code}/" if self.parent_id else f"{self.code}/"
        super().save(*args, **kwargs)

    def subtree(self) -> models.QuerySet[Region]:
        return Region.objects.filter(path__startswith=self.path)

    def contains(self, other: Region) -> bool:
        """Whether `other` is this region or lies within it."""
        return other.path.startswith(self.path)

    def district(self) -> Region | None:
        """The district this region is in (itself if it is one)."""
        node: Region | None = self
        while node is not None and node.level != Region.Level.DISTRICT:
            node = node.parent
        return node


class Field(models.Model):
    """An enforcement field (执法领域), e.g. gas management or road transport of dangerous goods."""

    code = models.CharField("代码", max_length=32, unique=True)
    name = models.CharField("名称", max_length=100)

    class Meta:
        verbose_name = "执法领域"
        verbose_name_plural = "执法领域"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class EnforcementBodyQuerySet(models.QuerySet):
    def visible_to(self, user) -> EnforcementBodyQuerySet:
        """Bodies are public information: every logged-in user may see the list of bodies."""
        if not user.is_authenticated:
            return self.none()
        return self.all()

    def manageable_by(self, user) -> EnforcementBodyQuerySet:
        """Bodies whose records (inspectors, items) this user may change."""
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.role == Role.BODY_ADMIN:
            return self.filter(pk=user.body_id)
        return self.none()


class EnforcementBody(models.Model):
    """Who may inspect: an administrative organ, an authorised organisation or an entrusted organisation."""

    class Type(models.TextChoices):
        ORGAN = "organ", "行政机关"
        AUTHORISED = "authorised", "法律法规授权组织"
        ENTRUSTED = "entrusted", "受委托组织"

    class Level(models.TextChoices):
        CITY = "city", "市级"
        DISTRICT = "district", "区级"
        TOWN = "town", "街镇"

    code = models.CharField("单位编码", max_length=32, unique=True)
    name = models.CharField("名称", max_length=100, unique=True)
    body_type = models.CharField("主体类型", max_length=12, choices=Type.choices)
    level = models.CharField("层级", max_length=10, choices=Level.choices)
    fields = models.ManyToManyField(Field, verbose_name="执法领域", related_name="bodies")
    region = models.ForeignKey(
        Region, verbose_name="所在区域", on_delete=models.PROTECT, related_name="bodies"
    )
    city_counterpart = models.ForeignKey(
        "self",
        verbose_name="市级对口单位",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="district_counterparts",
    )
    entrusting_organ = models.ForeignKey(
        "self",
        verbose_name="委托机关",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="entrusted_bodies",
    )
    entrusted_items = models.ManyToManyField(
        "InspectionItem", verbose_name="委托事项（委托权限）", blank=True, related_name="entrusted_bodies"
    )
    entrustment_start = models.DateField("委托期限起", null=True, blank=True)
    entrustment_end = models.DateField("委托期限止", null=True, blank=True)
    head_name = models.CharField("负责人", max_length=50, blank=True)
    phone = models.CharField("联系电话", max_length=30, blank=True)
    is_active = models.BooleanField("有效", default=True)

    objects = EnforcementBodyQuerySet.as_manager()

    class Meta:
        verbose_name = "执法单位"
        verbose_name_plural = "执法单位"
        ordering = ["region__path", "code"]

    def __str__(self) -> str:
        return self.name

    def entrustment_covers(self, day: datetime.date) -> bool:
        return bool(
            self.entrustment_start
            and self.entrustment_end
            and self.entrustment_start <= day <= self.entrustment_end
        )


class InspectorQuerySet(models.QuerySet):
    def visible_to(self, user) -> InspectorQuerySet:
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.role in (Role.INSPECTOR, Role.BODY_ADMIN):
            return self.filter(body_id=user.body_id) if user.body_id else self.none()
        if user.role == Role.CITY_REVIEWER:
            if user.body_id is None:
                return self.none()
            return self.filter(Q(body_id=user.body_id) | Q(body__city_counterpart_id=user.body_id))
        if user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT):
            if user.region_id is None:
                return self.none()
            return self.filter(body__region__path__startswith=user.region.path)
        return self.none()

    def manageable_by(self, user) -> InspectorQuerySet:
        """Inspectors (and their certificates) this user may change: its own body's, for a body admin."""
        return self.filter(body__in=EnforcementBody.objects.manageable_by(user))


class Inspector(models.Model):
    """A person who inspects, employed by one body."""

    name = models.CharField("姓名", max_length=50)
    body = models.ForeignKey(
        EnforcementBody, verbose_name="所属执法单位", on_delete=models.PROTECT, related_name="inspectors"
    )
    employee_number = models.CharField("工号", max_length=32, blank=True)
    phone = models.CharField("手机号", max_length=20, blank=True)
    photo = models.ImageField("照片", upload_to=RandomName("inspectors/"), blank=True)
    photo_name = models.CharField("照片原文件名", max_length=200, blank=True)
    user = models.OneToOneField(
        "core.User",
        verbose_name="登录账号",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inspector",
    )
    is_active = models.BooleanField("在岗", default=True)

    objects = InspectorQuerySet.as_manager()

    class Meta:
        verbose_name = "执法人员"
        verbose_name_plural = "执法人员"
        ordering = ["body__code", "name"]

    def __str__(self) -> str:
        return self.name


class CertificateQuerySet(models.QuerySet):
    def visible_to(self, user) -> CertificateQuerySet:
        return self.filter(inspector__in=Inspector.objects.visible_to(user))

    def manageable_by(self, user) -> CertificateQuerySet:
        return self.filter(inspector__in=Inspector.objects.manageable_by(user))

    def valid_on(self, day: datetime.date) -> CertificateQuerySet:
        return self.filter(status=Certificate.Status.VALID, valid_from__lte=day, valid_until__gte=day)


class Certificate(models.Model):
    """An enforcement certificate (行政执法证件). Expiry is derived from `valid_until`, never forgotten."""

    class Status(models.TextChoices):
        VALID = "valid", "有效"
        SUSPENDED = "suspended", "暂停使用"
        REVOKED = "revoked", "已收回"
        EXPIRED = "expired", "已过期"

    number = models.CharField("证件编号", max_length=32, unique=True)
    inspector = models.ForeignKey(
        Inspector, verbose_name="执法人员", on_delete=models.PROTECT, related_name="certificates"
    )
    fields = models.ManyToManyField(Field, verbose_name="执法领域", related_name="certificates")
    valid_from = models.DateField("有效期起")
    valid_until = models.DateField("有效期止")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.VALID)
    status_reason = models.CharField("状态说明", max_length=200, blank=True)

    objects = CertificateQuerySet.as_manager()

    class Meta:
        verbose_name = "行政执法证件"
        verbose_name_plural = "行政执法证件"
        ordering = ["inspector__name", "-valid_until"]
        indexes = [models.Index(fields=["inspector", "status", "valid_until"])]

    def __str__(self) -> str:
        return self.number

    def status_on(self, day: datetime.date | None = None) -> str:
        """The status in force on `day`: a valid certificate past its validity is expired."""
        day = day or timezone.localdate()
        if self.status == self.Status.VALID and self.valid_until < day:
            return self.Status.EXPIRED
        return self.status

    @property
    def effective_status(self) -> str:
        return self.status_on()

    def get_effective_status_display(self) -> str:
        return self.Status(self.effective_status).label


def enterprise_region_of(body: EnforcementBody) -> Region | None:
    """The region whose enterprises a body works on: None for a city-level body (the whole city); a district
    or town body works within its district."""
    if body.level == EnforcementBody.Level.CITY:
        return None
    return body.region.district() or body.region


class EnterpriseQuerySet(models.QuerySet):
    def visible_to(self, user) -> EnterpriseQuerySet:
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.role == Role.ENTERPRISE_CONTACT:
            return self.filter(pk=user.enterprise_id) if user.enterprise_id else self.none()
        if user.role in (Role.INSPECTOR, Role.BODY_ADMIN, Role.CITY_REVIEWER):
            if user.body_id is None:
                return self.none()
            region = enterprise_region_of(user.body)
            return self.all() if region is None else self.filter(region__path__startswith=region.path)
        if user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT, Role.COMPLAINT_INTAKE):
            if user.region_id is None:
                return self.none()
            return self.filter(region__path__startswith=user.region.path)
        return self.none()

    def manageable_by(self, user) -> EnterpriseQuerySet:
        """Enterprises (and their contacts) this user may change: all for the platform admin, those a body
        admin's body works on for a body admin."""
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.role == Role.BODY_ADMIN:
            return self.visible_to(user)
        return self.none()


class Enterprise(models.Model):
    """An inspected party, keyed by its unified social credit code (USCC)."""

    class RiskGrade(models.TextChoices):
        A = "A", "A（低风险）"
        B = "B", "B（一般风险）"
        C = "C", "C（较高风险）"
        D = "D", "D（高风险）"

    uscc = models.CharField("统一社会信用代码", max_length=18, unique=True)
    name = models.CharField("名称", max_length=200, db_index=True)
    address = models.CharField("地址", max_length=255, blank=True)
    region = models.ForeignKey(
        Region, verbose_name="所在区域", on_delete=models.PROTECT, related_name="enterprises"
    )
    industry = models.CharField("行业", max_length=100, blank=True, db_index=True)
    risk_grade = models.CharField("风险等级", max_length=1, choices=RiskGrade.choices, default=RiskGrade.B)
    credit_grade = models.CharField("信用等级", max_length=10, blank=True)
    legal_representative = models.CharField("法定代表人", max_length=50, blank=True)
    # The registered position of the premises (WGS-84, as a phone's geolocation gives it): the field app's
    # positions are measured against it (亮码即定位, F-44).
    latitude = models.DecimalField("纬度", max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField("经度", max_digits=9, decimal_places=6, null=True, blank=True)
    created_at = models.DateTimeField("登记时间", auto_now_add=True)

    objects = EnterpriseQuerySet.as_manager()

    class Meta:
        verbose_name = "企业"
        verbose_name_plural = "企业"
        ordering = ["name"]
        # The public caps list of a district (opendata) reads each of its regions' enterprises in USCC order
        # from here and stops after a page.
        indexes = [models.Index(fields=["region", "uscc"], name="enterprise_region_uscc")]

    def __str__(self) -> str:
        return self.name


class EnterpriseContact(models.Model):
    """A person the enterprise names: its legal representative or an on-site contact."""

    class Kind(models.TextChoices):
        LEGAL_REPRESENTATIVE = "legal_representative", "法定代表人"
        ON_SITE = "on_site", "现场负责人"

    enterprise = models.ForeignKey(
        Enterprise, verbose_name="企业", on_delete=models.CASCADE, related_name="contacts"
    )
    kind = models.CharField("类型", max_length=24, choices=Kind.choices)
    name = models.CharField("姓名", max_length=50)
    phone = models.CharField("手机号", max_length=20)

    class Meta:
        verbose_name = "企业联系人"
        verbose_name_plural = "企业联系人"
        constraints = [models.UniqueConstraint(fields=["enterprise", "phone"], name="unique_contact_phone")]

    def __str__(self) -> str:
        return f"{self.name}（{self.get_kind_display()}）"


class InspectionItemQuerySet(models.QuerySet):
    def visible_to(self, user) -> InspectionItemQuerySet:
        """The published item list is public (无事项不检查); drafts only to who may edit them."""
        if user.is_authenticated and user.is_platform_admin:
            return self.all()
        return self.filter(is_published=True)

    def manageable_by(self, user) -> InspectionItemQuerySet:
        return self.all() if user.is_authenticated and user.is_platform_admin else self.none()


class InspectionStandardQuerySet(models.QuerySet):
    def visible_to(self, user) -> InspectionStandardQuerySet:
        """The city's inspection standards are published documents: every logged-in user may read them."""
        if not user.is_authenticated:
            return self.none()
        return self.all()


class InspectionStandard(models.Model):
    """One version of the city's administrative inspection standard (市级行政检查标准): the document (its
    reference number and version), when it takes effect, and per item its checklist points and the range of
    rectification deadlines (行政检查裁量权: the discretion the standard leaves). A new version is a new row;
    an item follows one version (`InspectionItem.standard`)."""

    document_number = models.CharField("文号", max_length=100)
    version = models.CharField("版本", max_length=20)
    title = models.CharField("标准名称", max_length=200)
    effective_date = models.DateField("施行日期")
    created_at = models.DateTimeField("登记时间", auto_now_add=True)

    objects = InspectionStandardQuerySet.as_manager()

    class Meta:
        verbose_name = "市级行政检查标准"
        verbose_name_plural = "市级行政检查标准"
        ordering = ["document_number", "-effective_date", "version"]
        constraints = [
            models.UniqueConstraint(fields=["document_number", "version"], name="unique_standard_version")
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"


class StandardItem(models.Model):
    """What one standard version says about one item: the checklist points the record must cover, and the
    rectification deadline (working days, as the record gives it) the inspectors may set: min to max."""

    standard = models.ForeignKey(
        InspectionStandard, verbose_name="检查标准", on_delete=models.CASCADE, related_name="entries"
    )
    item = models.ForeignKey(
        "InspectionItem", verbose_name="检查事项", on_delete=models.PROTECT, related_name="standard_entries"
    )
    checklist = models.JSONField("检查要点", default=list)
    rectify_min_days = models.PositiveSmallIntegerField("整改期限下限（工作日）")
    rectify_max_days = models.PositiveSmallIntegerField("整改期限上限（工作日）")

    class Meta:
        verbose_name = "检查标准条目"
        verbose_name_plural = "检查标准条目"
        ordering = ["standard", "item__code"]
        constraints = [models.UniqueConstraint(fields=["standard", "item"], name="unique_standard_item")]

    def __str__(self) -> str:
        return f"{self.standard} · {self.item.name}"


class InspectionItem(models.Model):
    """What may be checked in a field: the item, its legal basis, its checklist, and who may check it."""

    code = models.CharField("事项编码", max_length=32, unique=True)
    name = models.CharField("检查事项", max_length=200)
    field = models.ForeignKey(Field, verbose_name="执法领域", on_delete=models.PROTECT, related_name="items")
    legal_basis = models.TextField("检查依据")
    checklist = models.JSONField(
        "检查标准（检查清单）", default=list, blank=True, help_text="逐条列出的检查内容"
    )
    bodies = models.ManyToManyField(
        EnforcementBody, verbose_name="可实施检查的执法单位", related_name="items", blank=True
    )
    is_published = models.BooleanField("已公布", default=True)
    # The version of the city's standard the item follows; its checklist is then the standard's points
    # (services.apply_standard copies them), and the data rules judge records against that version.
    standard = models.ForeignKey(
        InspectionStandard,
        verbose_name="依据的市级检查标准",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="items",
    )

    objects = InspectionItemQuerySet.as_manager()

    class Meta:
        verbose_name = "检查事项"
        verbose_name_plural = "检查事项"
        ordering = ["field__code", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def standard_entry(self) -> StandardItem | None:
        """What the item's standard version says about it (None without a standard)."""
        if self.standard_id is None:
            return None
        return StandardItem.objects.filter(standard_id=self.standard_id, item=self).first()


class ComplianceGuideQuerySet(models.QuerySet):
    def visible_to(self, user) -> ComplianceGuideQuerySet:
        """Published guides are for every logged-in user, enterprise contacts first (F-36); a draft only for
        the people of the body that writes it."""
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.body_id:
            return self.filter(Q(is_published=True) | Q(body_id=user.body_id))
        return self.filter(is_published=True)


class ComplianceGuide(models.Model):
    """A compliance guide (合规指引, F-36): what an enterprise should check itself before an inspection, written
    by a body for one of its fields, or for one item of it; sent with the task's notice when published."""

    body = models.ForeignKey(
        EnforcementBody, verbose_name="编写单位", on_delete=models.PROTECT, related_name="guides"
    )
    field = models.ForeignKey(Field, verbose_name="执法领域", on_delete=models.PROTECT, related_name="guides")
    item = models.ForeignKey(
        InspectionItem,
        verbose_name="检查事项",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="guides",
        help_text="不选则适用于整个执法领域",
    )
    title = models.CharField("标题", max_length=200)
    content = models.TextField("内容")
    is_published = models.BooleanField("已发布", default=False)
    published_at = models.DateTimeField("发布时间", null=True, blank=True)
    created_by = models.ForeignKey(
        "core.User", verbose_name="编写人", on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = ComplianceGuideQuerySet.as_manager()

    class Meta:
        verbose_name = "合规指引"
        verbose_name_plural = "合规指引"
        ordering = ["field__code", "item__code", "title", "pk"]
        indexes = [
            models.Index(fields=["is_published", "item"]),
            models.Index(fields=["is_published", "field"]),
        ]

    def __str__(self) -> str:
        return self.title


class ImportJobQuerySet(models.QuerySet):
    def visible_to(self, user) -> ImportJobQuerySet:
        """Its uploader sees a queued import; nobody else (the file and its problems are the uploader's)."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(actor=user)


class ImportJob(models.Model):
    """A large bulk import (more rows than IMPORT_QUEUE_ROWS) done by the task queue's worker, with its
    progress for the page that waits on it. The upload waits in IMPORT_QUEUE_DIR (no URL serves it) and is
    deleted once the job has run."""

    class Status(models.TextChoices):
        QUEUED = "queued", "排队中"
        RUNNING = "running", "导入中"
        DONE = "done", "已完成"
        REJECTED = "rejected", "有问题，未导入"
        FAILED = "failed", "失败"

    kind = models.CharField("导入类型", max_length=20)
    actor = models.ForeignKey("core.User", verbose_name="上传人", on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField("文件名", max_length=255, blank=True)
    stored_name = models.CharField("暂存文件", max_length=100, blank=True)
    sha256 = models.CharField("文件 SHA-256", max_length=64)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_estimate = models.PositiveIntegerField("预计行数", default=0)
    rows_done = models.PositiveIntegerField("已读取行数", default=0)
    created_at = models.DateTimeField("上传时间", auto_now_add=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)
    result = models.JSONField("导入结果", default=dict, blank=True)  # {"rows": n, "counts": {...}}
    message = models.TextField("说明", blank=True)
    # The first IMPORT_MAX_PROBLEMS problems as [row, column, reason]; `problem_count` counts all of them.
    problems = models.JSONField("问题清单", default=list, blank=True)
    problem_count = models.PositiveIntegerField("问题数", default=0)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        verbose_name = "批量导入任务"
        verbose_name_plural = "批量导入任务"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"批量导入 {self.file_name or self.pk}"

    @property
    def is_pending(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)
