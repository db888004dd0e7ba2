"""The synthetic-data generator (`manage.py generate_synthetic`): what it writes, on SQLite and PostgreSQL alike."""

import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from jianchama.core.errors import DomainError
from jianchama.core.models import User
from jianchama.core.roles import Role
from jianchama.demo import synthetic
from jianchama.inspections.frequency import check_frequency, save_rule
from jianchama.inspections.models import (
    FrequencyRule,
    InspectionCode,
    InspectionRecord,
    Task,
    TaskBody,
)
from jianchama.registry import uscc
from jianchama.registry.models import EnforcementBody, Enterprise
from tests.factories import EnterpriseFactory

pytestmark = pytest.mark.django_db


def generate(*args: str) -> str:
    out = StringIO()
    call_command("generate_synthetic", *args, stdout=out)
    return out.getvalue()


def fingerprint() -> list[tuple]:
    """The tasks as natural keys (no primary keys of the reference rows, which differ between runs)."""
    return list(
        Task.objects.order_by("pk").values_list(
            "number",
            "enterprise__uscc",
            "enterprise__risk_grade",
            "lead_body__code",
            "kind",
            "status",
            "window_start",
            "window_end",
            "started_at",
            "record__outcome",
        )
    )


def test_writes_enterprises_with_valid_usccs_and_inspections_with_their_bodies_items_and_records():
    out = generate("--enterprises", "60", "--inspections", "900", "--drafts", "12", "--bodies", "6")
    assert "已写入：" in out and "企业 60" in out and "检查任务 900" in out and "草稿任务 12" in out

    assert Enterprise.objects.count() == 60
    codes = list(Enterprise.objects.values_list("uscc", flat=True))
    assert len(set(codes)) == 60
    assert [code for code in codes if not uscc.is_valid(code)] == []
    assert Task.objects.exclude(status=Task.Status.DRAFT).count() == 900
    assert Task.objects.filter(status=Task.Status.DRAFT).count() == 12
    assert EnforcementBody.objects.filter(code__startswith="SYN-B").count() == 6

    statuses = dict(Task.objects.values_list("status").annotate(n=Count("pk")))
    assert statuses["closed"] > 600  # mostly closed, a few of everything else
    assert {"result_recorded", "cancelled"} <= set(statuses)
    # Every task is led by one of its bodies, has at least two inspectors and an item per body.
    tasks = Task.objects.annotate(
        led=Count("task_bodies", filter=Q(task_bodies__body=F("lead_body")), distinct=True),
        inspector_count=Count("inspectors", distinct=True),
        body_count=Count("task_bodies", distinct=True),
        item_count=Count("items", distinct=True),
    )
    assert set(tasks.values_list("led", flat=True)) == {1}
    assert min(tasks.values_list("inspector_count", flat=True)) >= 2
    assert set(tasks.values_list("body_count", flat=True)) == {1, 2}  # some joint inspections
    assert min(tasks.values_list("item_count", flat=True)) >= 1
    assert not TaskBody.objects.annotate(n=Count("items")).filter(n=0).exists()
    # Each body's row carries its task's creation and status, as the services copy them (the lists' indexes).
    assert not TaskBody.objects.exclude(task_created_at=F("task__created_at")).exists()
    assert not TaskBody.objects.exclude(task_status=F("task__status")).exists()
    assert TaskBody.objects.filter(task_status=Task.Status.CLOSED).exists()
    # A record exactly for the inspected and recorded; a code once the enterprise was told.
    recorded = Task.objects.filter(status__in=["result_recorded", "closed"])
    assert InspectionRecord.objects.count() == recorded.count()
    assert set(InspectionRecord.objects.values_list("outcome", flat=True)) == {
        "no_problem",
        "rectify",
        "case_opened",
        "referred",
    }
    assert not recorded.filter(started_at__isnull=True).exists()
    told = Task.objects.filter(status__in=["notified", "in_progress", "result_recorded", "closed"])
    assert InspectionCode.objects.count() == told.count()
    # The lead body works where the enterprise is: the city's bodies anywhere, the others in their district.
    for task in Task.objects.select_related("enterprise__region", "lead_body__region")[:200]:
        if task.lead_body.level != EnforcementBody.Level.CITY:
            assert task.enterprise.region.path.startswith(task.lead_body.region.district().path)


def test_the_frequency_check_runs_on_a_generated_draft_in_two_queries(django_assert_num_queries):
    generate("--enterprises", "20", "--inspections", "1000", "--drafts", "5", "--bodies", "4", "--years", "1")
    admin = User.objects.get(username="syn-platform-admin")
    assert admin.role == Role.PLATFORM_ADMIN and not admin.has_usable_password()
    save_rule(
        admin,
        rule=FrequencyRule(
            name="各部门合计每年至多3次",
            scope="all_bodies",
            period="year",
            limit=3,
            action="warn",
            exemptions=[],
        ),
    )
    draft = Task.objects.filter(status=Task.Status.DRAFT).first()
    with django_assert_num_queries(2):
        result = check_frequency(draft)
    assert result.rules_checked == 1
    # Checked as if half a year ago: fifty inspections a year per enterprise break a cap of three.
    result = check_frequency(draft, on=timezone.localdate() - datetime.timedelta(days=180))
    assert [breach.rule_name for breach in result.breaches] == ["各部门合计每年至多3次"]
    assert result.breaches[0].count >= 3


def test_the_same_seed_writes_the_same_data_and_another_seed_other_data():
    def run(seed: str) -> list[tuple]:
        class Undo(Exception):
            pass

        try:
            with transaction.atomic():
                generate("--enterprises", "30", "--inspections", "200", "--bodies", "4", "--seed", seed)
                data = fingerprint()
                raise Undo
        except Undo:
            return data

    first = run("7")
    assert len(first) == 200
    assert run("7") == first
    assert run("8") != first


def test_refuses_a_database_with_enterprises_unless_appending():
    EnterpriseFactory()
    with pytest.raises(CommandError, match=r"当前数据库已有1家企业.*--append"):
        generate("--enterprises", "10", "--inspections", "20", "--bodies", "4")
    assert Task.objects.count() == 0

    generate("--enterprises", "10", "--inspections", "20", "--bodies", "4", "--append")
    out = generate("--enterprises", "10", "--inspections", "20", "--bodies", "4", "--append")
    assert "新建：无" in out  # the second run reuses the bodies, items and inspectors
    assert Enterprise.objects.count() == 21
    assert Task.objects.count() == 40
    assert all(uscc.is_valid(code) for code in Enterprise.objects.values_list("uscc", flat=True))
    # The appended inspections go to the enterprises of their own run.
    second = Enterprise.objects.order_by("-pk")[:10]
    assert Task.objects.filter(enterprise__in=second).count() == 20


def test_refuses_what_it_cannot_make():
    with pytest.raises(CommandError, match="执法单位至少4个"):
        generate("--enterprises", "10", "--inspections", "20", "--bodies", "3")
    with pytest.raises(CommandError, match="请同时用 --enterprises 指定企业数"):
        generate("--enterprises", "0", "--inspections", "20")
    with pytest.raises(DomainError):
        synthetic.generate(enterprises=-1, inspections=0)


def test_the_indexes_are_as_they_were_after_a_load_that_rebuilds_them():
    """PostgreSQL drops the tables' secondary indexes for the load and builds them again exactly; SQLite,
    loaded row by row, keeps them and says nothing of a rebuild."""
    postgres = connection.vendor == "postgresql"

    def definitions() -> list[tuple[str, str]]:
        with connection.cursor() as cursor:
            if postgres:
                cursor.execute(
                    """select indexrelid::regclass::text, pg_get_indexdef(indexrelid) from pg_index
                       where indrelid::regclass::text = any(%s) order by 1""",
                    [synthetic.LOADED_TABLES],
                )
            else:
                tables = ", ".join("%s" for _ in synthetic.LOADED_TABLES)
                cursor.execute(
                    f"select name, sql from sqlite_master where type = 'index' and tbl_name in ({tables}) "
                    "order by 1",
                    list(synthetic.LOADED_TABLES),
                )
            return cursor.fetchall()

    before = definitions()
    out = generate(
        "--enterprises",
        "20",
        "--inspections",
        "300",
        "--bodies",
        "4",
        "--rebuild-indexes",
        "yes",
        "--batch",
        "120",
    )
    if postgres:
        assert "暂时删除" in out and "（与原定义一致）" in out
    else:
        assert "暂时删除" not in out
    assert before and definitions() == before
    assert Task.objects.count() == 300
    # Explicit ids were given: the sequences moved past them, so the application inserts after them.
    enterprise = EnterpriseFactory()
    assert enterprise.pk > max(Enterprise.objects.exclude(pk=enterprise.pk).values_list("pk", flat=True))
