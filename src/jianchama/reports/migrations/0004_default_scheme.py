"""The city-wide default assessment scheme (考核评议, F-37), version 1, active from 2025: the weights sum to 100,
a third on the supervision results (findings, the three steps), the rest on the enterprises' ratings,
complaints, timely results, the inspection code and the plans. A district adopts it as it is or drafts its
own; a change is a new version (the items are copied here, not imported: a migration stays as it was)."""

from django.db import migrations

ITEMS = [
    {"code": "findings_per_100", "name": "每百次检查监督发现问题数", "weight": 20,
     "rule": {"kind": "linear", "full_at": 5, "zero_at": 30}},
    {"code": "warnings_not_rectified", "name": "预警提醒后未整改", "weight": 5,
     "rule": {"kind": "deduct", "per": 1}},
    {"code": "letters_not_rectified", "name": "监督建议书、决定书未按期整改", "weight": 10,
     "rule": {"kind": "deduct", "per": 5}},
    {"code": "evaluation_average", "name": "企业评议总体评价平均分", "weight": 15,
     "rule": {"kind": "linear", "full_at": 4.5, "zero_at": 3}},
    {"code": "complaints_per_100", "name": "每百次检查投诉举报数", "weight": 10,
     "rule": {"kind": "linear", "full_at": 1, "zero_at": 10}},
    {"code": "late_records_per_100", "name": "每百次检查结果逾期录入数", "weight": 10,
     "rule": {"kind": "linear", "full_at": 2, "zero_at": 20}},
    {"code": "scan_rate", "name": "扫码率", "weight": 10,
     "rule": {"kind": "linear", "full_at": 90, "zero_at": 50}},
    {"code": "code_coverage", "name": "检查码覆盖率", "weight": 10,
     "rule": {"kind": "linear", "full_at": 100, "zero_at": 80}},
    {"code": "plans_late", "name": "检查计划未按时备案、公告", "weight": 10,
     "rule": {"kind": "deduct", "per": 5}},
]
NAME = "涉企行政检查执法单位年度考核评议方案"


def seed(apps, schema_editor):
    from django.utils import timezone

    Scheme = apps.get_model("reports", "AssessmentScheme")
    if not Scheme.objects.filter(region__isnull=True).exists():
        Scheme.objects.create(
            region=None,
            name=NAME,
            version=1,
            year_from=2025,
            items=ITEMS,
            status="active",
            activated_at=timezone.now(),
        )


def unseed(apps, schema_editor):
    Scheme = apps.get_model("reports", "AssessmentScheme")
    Scheme.objects.filter(region__isnull=True, version=1, name=NAME, assessments__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("reports", "0003_assessment")]

    operations = [migrations.RunPython(seed, unseed)]
