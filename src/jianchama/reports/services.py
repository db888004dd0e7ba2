"""The reports' writers (F-37): open a report for a period, generate it (figures, PDF, workbook), edit its
narrative, issue it (numbered, frozen). Each takes the acting user first (or "系统" for the scheduled job),
checks role, region and state against `REPORT_TRANSITIONS`, changes the data in one transaction with its files
(`core.files.removed_unless_committed`) and appends to the audit log.

Who: a supervisor of the report's district (a town's supervisor acts for his district); the city's supervisors
for every report. Issuing is the bureau's act, so the district government does not write here.
"""

from __future__ import annotations

import calendar
import datetime

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from jianchama.core import audit, files
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.numbering import take_number
from jianchama.core.roles import Role
from jianchama.registry.models import Region

from . import contents, documents
from .models import REPORT_TRANSITIONS, ReportNumberCounter, SupervisionReport

SYSTEM = "系统"
NARRATIVE_MAX = 5000
RS = SupervisionReport.Status
REPORT_FIELDS = ["region", "kind", "period_start", "period_end", "status", "number", "generated_at"]


def period_of(kind: str, year: int, number: int = 1) -> tuple[datetime.date, datetime.date]:
    """The dates of the month or quarter `number` of `year`, or of the year."""
    if kind == SupervisionReport.Kind.MONTH:
        if not 1 <= number <= 12:
            raise DomainError("月份须为1—12")
        start = datetime.date(year, number, 1)
        end = datetime.date(year, number, calendar.monthrange(year, number)[1])
    elif kind == SupervisionReport.Kind.QUARTER:
        if not 1 <= number <= 4:
            raise DomainError("季度须为1—4")
        first = 3 * (number - 1) + 1
        start = datetime.date(year, first, 1)
        end = datetime.date(year, first + 2, calendar.monthrange(year, first + 2)[1])
    elif kind == SupervisionReport.Kind.YEAR:
        start, end = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    else:
        raise DomainError("报告类型须为月度、季度或年度")
    return start, end


def report_region(region: Region) -> Region:
    """The region a report is made for: the city, or a district (a town's reports are its district's)."""
    if region.level == Region.Level.CITY:
        return region
    return region.district() or region


def may_write(actor, region: Region) -> bool:
    if isinstance(actor, str):
        return actor == SYSTEM
    if not getattr(actor, "is_authenticated", False):
        return False
    if actor.is_platform_admin:
        return True
    if actor.role != Role.SUPERVISOR or actor.region_id is None:
        return False
    own = actor.region
    return own.level == Region.Level.CITY or report_region(own).pk == region.pk


def _require(actor, region: Region, what: str) -> None:
    if not may_write(actor, region):
        raise PermissionDenied(f"只有{region.name}司法局的执法监督人员（或市司法局执法监督人员）可以{what}")


@transaction.atomic
def create_report(actor, *, region: Region, kind: str, year: int, number: int = 1) -> SupervisionReport:
    """Open the draft report of a region and period (once: a second call refuses, naming the first)."""
    region = report_region(region)
    _require(actor, region, "编制执法监督工作报告")
    start, end = period_of(kind, year, number)
    if end >= timezone.localdate():
        raise DomainError(f"{start:%Y-%m-%d}至{end:%Y-%m-%d}尚未结束，期满后才能编制该期报告")
    existing = SupervisionReport.objects.filter(region=region, kind=kind, period_start=start).first()
    if existing is not None:
        raise DomainError(f"{existing}已存在（{existing.get_status_display()}），请打开该报告")
    try:
        with transaction.atomic():
            report = SupervisionReport.objects.create(
                region=region, kind=kind, period_start=start, period_end=end
            )
    except IntegrityError:  # the same report opened at the same moment by another request or the job
        raise DomainError("该期报告已由他人创建，请刷新后打开") from None
    audit.record(
        actor=actor, action="reports.created", obj=report, after=audit.snapshot(report, REPORT_FIELDS)
    )
    return report


def _lock(report: SupervisionReport) -> SupervisionReport:
    return (
        SupervisionReport.objects.select_for_update(of=("self",)).select_related("region").get(pk=report.pk)
    )


def _render_files(report: SupervisionReport) -> None:
    """Render both files from the snapshot; the files they replace are deleted once the change commits."""
    old = [f.name for f in (report.pdf, report.xlsx) if f]
    stem = report.number or f"{report.region.name}{report.period_label}报告"
    report.pdf.save(f"{stem}.pdf", ContentFile(documents.report_pdf(report)), save=False)
    files.track(report.pdf)
    report.xlsx.save(f"{stem}.xlsx", ContentFile(documents.report_xlsx(report)), save=False)
    files.track(report.xlsx)
    if old:
        storage = report.pdf.storage

        def delete_old():
            for name in old:
                storage.delete(name)

        transaction.on_commit(delete_old)


@files.removed_unless_committed
def generate_report(actor, *, report: SupervisionReport) -> SupervisionReport:
    """Compute the figures again and render the PDF and the workbook; a draft only (an issued report is
    frozen)."""
    report = _lock(report)
    _require(actor, report.region, "生成执法监督工作报告")
    if report.status != RS.DRAFT:
        raise InvalidTransition(f"报告{report.number}已签发，数据已固定，不能重新生成")
    report.figures = contents.compute(report.region, report.period_start, report.period_end, report.kind)
    report.generated_at = timezone.now()
    _render_files(report)
    report.save()
    audit.record(
        actor=actor, action="reports.generated", obj=report, after=audit.snapshot(report, REPORT_FIELDS)
    )
    return report


@transaction.atomic
def save_narrative(actor, *, report: SupervisionReport, narrative: dict[str, str]) -> SupervisionReport:
    """Save the narrative paragraphs of the sections (a draft's); the files show them at the next generation
    or on issue."""
    report = _lock(report)
    _require(actor, report.region, "修改执法监督工作报告")
    if report.status != RS.DRAFT:
        raise InvalidTransition(f"报告{report.number}已签发，不能再修改文字")
    problems = []
    cleaned = {}
    for code, title in contents.SECTIONS:
        text = str(narrative.get(code) or "").replace("\x00", "").replace("\r\n", "\n").strip()
        if len(text) > NARRATIVE_MAX:
            problems.append(f"「{title}」的文字超过{NARRATIVE_MAX}字（现{len(text)}字），请精简")
        if text:
            cleaned[code] = text
    unknown = sorted(str(key) for key in narrative if key not in contents.SECTION_TITLES)
    if unknown:
        problems.append("报告没有这些部分：" + "、".join(unknown)[:200])
    if problems:
        raise DomainError("报告文字未保存：" + "；".join(problems), problems=problems)
    before = {"narrative": report.narrative}
    report.narrative = cleaned
    report.save(update_fields=["narrative"])
    audit.record(
        actor=actor, action="reports.narrative_saved", obj=report, before=before, after={"narrative": cleaned}
    )
    return report


def _next_number(region: Region, year: int) -> str:
    """金司监报〔2026〕1号: the region's reports of the year, numbered under a locked counter."""
    initial = region.name[:1]
    return take_number(
        ReportNumberCounter,
        {"region": region, "year": year},
        SupervisionReport,
        lambda n: f"{initial}司监报〔{year}〕{n}号",
    )


@files.removed_unless_committed
def issue_report(actor, *, report: SupervisionReport) -> SupervisionReport:
    """Issue the report: numbered, its files rendered once more with the number and the narrative from the
    figures already generated (what was checked is what is issued), and frozen."""
    report = _lock(report)
    if isinstance(actor, str):
        raise PermissionDenied("报告须由执法监督人员签发")
    _require(actor, report.region, "签发执法监督工作报告")
    if RS.ISSUED not in REPORT_TRANSITIONS[report.status]:
        raise InvalidTransition(
            f"报告{report.number}当前状态为「{report.get_status_display()}」，不能再次签发"
        )
    if not report.figures or report.generated_at is None:
        raise DomainError("报告尚未生成，请先生成报告、核对数据后再签发")
    before = audit.snapshot(report, REPORT_FIELDS)
    now = timezone.now()
    report.status = RS.ISSUED
    report.issued_at, report.issued_on, report.issued_by = now, timezone.localdate(now), actor
    report.number = _next_number(report.region, report.issued_on.year)
    _render_files(report)
    report.save()
    audit.record(
        actor=actor,
        action="reports.issued",
        obj=report,
        before=before,
        after=audit.snapshot(report, REPORT_FIELDS),
    )
    return report


# --- The schedule ------------------------------------------------------------------------------------------


def due_periods(today: datetime.date) -> list[tuple[str, int, int]]:
    """The periods that ended with last month: its month, its quarter when it closed one, its year in January."""
    last = today.replace(day=1) - datetime.timedelta(days=1)
    periods = [(SupervisionReport.Kind.MONTH.value, last.year, last.month)]
    if last.month % 3 == 0:
        periods.append((SupervisionReport.Kind.QUARTER.value, last.year, last.month // 3))
    if last.month == 12:
        periods.append((SupervisionReport.Kind.YEAR.value, last.year, 1))
    return periods


def generate_scheduled(today: datetime.date | None = None) -> list[SupervisionReport]:
    """Open and generate the reports of the periods that ended with last month, for the city and each district,
    skipping those already there. Idempotent; the job calls it on the first working day of each month."""
    today = today or timezone.localdate()
    regions = list(
        Region.objects.filter(level__in=[Region.Level.CITY, Region.Level.DISTRICT]).order_by("path")
    )
    made = []
    for kind, year, number in due_periods(today):
        start, _end = period_of(kind, year, number)
        for region in regions:
            if SupervisionReport.objects.filter(region=region, kind=kind, period_start=start).exists():
                continue
            try:
                report = create_report(SYSTEM, region=region, kind=kind, year=year, number=number)
            except DomainError:
                continue  # opened meanwhile by a supervisor
            made.append(generate_report(SYSTEM, report=report))
    return made
