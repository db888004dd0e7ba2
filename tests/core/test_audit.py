"""F-41: the hash-chained audit log, its verification command and the timeline partial."""

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.template.loader import render_to_string
from django.utils import timezone

from jianchama.core import audit
from jianchama.core.models import AuditEvent, CalendarYear
from jianchama.core.roles import Role
from jianchama.core.services import set_year_schedule
from jianchama.registry.models import Enterprise
from tests.factories import EnterpriseFactory, user_for

pytestmark = pytest.mark.django_db

NO_CHECKPOINT = "尚无审计检查点：末尾被截断或改写无法发现（manage.py audit_checkpoint 写入检查点）\n"


def verify() -> tuple[int, str, str]:
    """Run `manage.py verify_audit`: (exit status, stdout, stderr)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit", stdout=out, stderr=err)
    except SystemExit as exit_:
        return exit_.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def make_events(n: int, actor=None) -> list[AuditEvent]:
    enterprise = EnterpriseFactory(name="上海金山燃气供应站有限公司")
    return [
        audit.record(
            actor=actor or "系统",
            action="test.change",
            obj=enterprise,
            before={"n": i},
            after={"n": i + 1, "名称": "上海金山燃气供应站有限公司"},
        )
        for i in range(n)
    ]


def test_a_fresh_database_verifies_clean():
    assert verify() == (0, "已校验 0 条审计记录\n" + NO_CHECKPOINT + "审计日志完整\n", "")


def test_events_are_chained():
    first, second, third = make_events(3)
    assert [e.sequence for e in (first, second, third)] == [1, 2, 3]
    assert first.prev_hash == audit.GENESIS_HASH
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert len({first.hash, second.hash, third.hash}) == 3
    assert audit.verify_chain() == (3, None)


def test_services_append_chained_events():
    admin = user_for(Role.PLATFORM_ADMIN, full_name="平台管理员甲")
    set_year_schedule(admin, year=2027, holidays=[(datetime.date(2027, 1, 1), "元旦")], workdays=[])
    set_year_schedule(admin, year=2027, holidays=[(datetime.date(2027, 1, 1), "元旦节")], workdays=[])
    events = list(AuditEvent.objects.all())
    assert [e.action for e in events] == ["calendar.set_year", "calendar.set_year"]
    assert events[1].prev_hash == events[0].hash
    assert all(e.actor_label == "平台管理员甲" for e in events)
    assert verify() == (0, "已校验 2 条审计记录\n" + NO_CHECKPOINT + "审计日志完整\n", "")


def test_a_row_altered_behind_the_services_back_is_named():
    make_events(5)
    AuditEvent.objects.filter(sequence=3).update(after={"n": 999})
    status, out, err = verify()
    assert status == 1
    assert "已校验 2 条审计记录" in out
    assert "审计日志完整" not in out
    assert "第 3 条记录处断裂" in err
    assert "内容与其哈希不符" in err


def test_a_row_altered_with_a_recomputed_hash_is_caught_by_the_next_row():
    events = make_events(5)
    forged = events[2]
    forged.after = {"n": 999}
    forged.hash = audit._event_hash(forged)
    AuditEvent.objects.filter(pk=forged.pk).update(after=forged.after, hash=forged.hash)
    status, _, err = verify()
    assert status == 1
    assert "第 4 条记录处断裂" in err
    assert "第 3 条记录被修改或替换" in err


@pytest.mark.parametrize("field", ["actor_label", "action", "object_repr", "occurred_at"])
def test_every_hashed_column_is_covered(field):
    make_events(3)
    value = timezone.now() - datetime.timedelta(days=1) if field == "occurred_at" else "改过"
    AuditEvent.objects.filter(sequence=2).update(**{field: value})
    assert audit.verify_chain() == (1, audit.BrokenLink(2, "内容与其哈希不符：此条记录被修改"))


def test_a_deleted_row_in_the_middle_is_named():
    make_events(5)
    AuditEvent.objects.filter(sequence=3).delete()
    status, out, err = verify()
    assert status == 1
    assert "已校验 2 条审计记录" in out
    assert "第 3 条记录处断裂：缺少第 3 条记录（下一条为第 4 条）" in err


def test_a_deleted_first_row_is_named():
    make_events(2)
    AuditEvent.objects.filter(sequence=1).delete()
    assert audit.verify_chain() == (0, audit.BrokenLink(1, "缺少第 1 条记录（下一条为第 2 条）"))


def test_verification_walks_in_batches():
    make_events(7)
    assert audit.verify_chain(batch_size=3) == (7, None)
    AuditEvent.objects.filter(sequence=6).update(action="x")
    assert audit.verify_chain(batch_size=3)[1].sequence == 6


def test_before_and_after_round_trip_so_verification_does_not_falsely_fail():
    """Dates, datetimes, decimals, Chinese text, nesting and odd keys come back as they were hashed."""
    enterprise = EnterpriseFactory(name="上海“金山”燃气供应站（有限公司）\\ 测试")
    value = {
        "date": datetime.date(2026, 2, 17),
        "datetime": timezone.now(),
        "naive": datetime.datetime(2026, 2, 17, 8, 30, 15, 123456),
        "time": datetime.time(8, 30),
        "decimal": Decimal("1234.50"),
        "tiny": Decimal("0.000001"),
        "float": 0.1,
        "small": 1e-7,
        "whole_float": 1e20,  # jsonb would return 100000000000000000000
        "one": 1.0,
        "minus_zero": -0.0,
        "nan": float("nan"),  # jsonb refuses NaN
        "nul": "a\x00b",  # jsonb refuses U+0000
        "big": 2**53 + 1,
        "negative": -3,
        "bool": True,
        "none": None,
        "empty": "",
        "中文键": "国务院办公厅关于2026年部分节假日安排的通知",
        "emoji": "检查✓🚒",
        "quotes": "\"'<>&\n\t",
        "list": [3, 1, 2, "三"],
        "tuple": (1, 2),
        "nested": {"b": [{"z": 1, "a": 2}], "a": {}},
        7: "int key",
    }
    admin = user_for(Role.PLATFORM_ADMIN, full_name="张三（平台）")
    for before, after in [(None, value), (value, None), ("文本", ["列表"]), (1, 2.5), ({}, [])]:
        audit.record(actor=admin, action="test.round_trip", obj=enterprise, before=before, after=after)
    audit.record(actor="数据导入", action="test.snapshot", obj=enterprise, after=audit.snapshot(enterprise))
    assert audit.verify_chain() == (6, None)
    stored = AuditEvent.objects.get(sequence=1).after
    assert stored["date"] == "2026-02-17"
    assert stored["decimal"] == "1234.50"
    assert stored["中文键"] == "国务院办公厅关于2026年部分节假日安排的通知"
    assert stored["7"] == "int key"
    assert stored["tuple"] == [1, 2]
    assert stored["big"] == 2**53 + 1
    assert (stored["float"], stored["small"], stored["whole_float"], stored["one"]) == (0.1, 1e-7, 10**20, 1)
    assert (stored["nan"], stored["nul"]) == ("NaN", "a\ufffdb")


def test_snapshot_holds_concrete_values_and_many_to_many():
    from tests.factories import BodyFactory, FieldFactory

    body = BodyFactory(fields=[FieldFactory(code="gas"), FieldFactory(code="fire", name="消防")])
    data = audit.snapshot(body)
    assert data["name"] == body.name
    assert data["region_id"] == body.region_id
    assert sorted(data["fields"]) == sorted(body.fields.values_list("pk", flat=True))
    assert audit.snapshot(body, fields=["name"]) == {"name": body.name}


def test_the_actor_is_a_user_or_a_label():
    enterprise = EnterpriseFactory()
    admin = user_for(Role.PLATFORM_ADMIN, full_name="李四")
    assert audit.record(actor=admin, action="a", obj=enterprise).actor_label == "李四"
    by_text = audit.record(actor="数据导入", action="a", obj=enterprise)
    assert (by_text.actor, by_text.actor_label) == (None, "数据导入")
    assert audit.record(actor=None, action="a", obj=enterprise).actor_label == "系统"
    from django.contrib.auth.models import AnonymousUser

    assert audit.record(actor=AnonymousUser(), action="a", obj=enterprise).actor_label == "系统"
    assert audit.verify_chain() == (4, None)


def test_a_user_who_acted_cannot_be_deleted_so_the_chain_stays_intact():
    from django.db.models import ProtectedError

    admin = user_for(Role.PLATFORM_ADMIN, full_name="王五")
    audit.record(actor=admin, action="a", object_type="x", object_id="1", object_repr="x")
    # The actor's id is hashed: deleting the user (and nulling the link) would break the chain.
    with pytest.raises(ProtectedError):
        admin.delete()
    assert AuditEvent.objects.get().actor_id == admin.pk
    assert verify()[0] == 0


def test_history_is_the_timeline_of_one_object():
    first, second = EnterpriseFactory(), EnterpriseFactory()
    audit.record(actor="系统", action="a", obj=first)
    audit.record(actor="系统", action="b", obj=second)
    audit.record(actor="系统", action="c", obj=first)
    assert [e.action for e in audit.history(first)] == ["a", "c"]


def test_action_labels_can_be_registered():
    assert audit.action_label("calendar.set_year") == "录入年度节假日安排"
    assert audit.action_label("unknown.code") == "unknown.code"
    audit.register_actions({"test.registered": "测试登记的操作"})
    try:
        assert audit.action_label("test.registered") == "测试登记的操作"
    finally:
        audit.ACTION_LABELS.pop("test.registered")


def test_changes_reads_a_diff_with_field_names():
    enterprise = EnterpriseFactory(name="旧名称")
    before = audit.snapshot(enterprise)
    enterprise.name = "新名称"
    enterprise.industry = ""
    after = audit.snapshot(enterprise)
    event = audit.record(actor="系统", action="a", obj=enterprise, before=before, after=after)
    label = Enterprise._meta.get_field("name").verbose_name
    industry = Enterprise._meta.get_field("industry").verbose_name
    assert [(c.label, c.before, c.after) for c in audit.changes(event)] == [
        (label, "旧名称", "新名称"),
        (industry, "燃气生产和供应业", "（空）"),
    ]
    created = audit.record(actor="系统", action="a", obj=enterprise, after={"name": "甲", "tags": [1, 2]})
    assert [(c.label, c.before, c.after) for c in audit.changes(created)] == [
        (label, None, "甲"),
        ("tags", None, "1、2"),
    ]
    listed = audit.record(
        actor="系统",
        action="a",
        obj=enterprise,
        before=[["2027-01-01", "元旦"]],
        after=[["2027-01-02", "元旦"]],
    )
    assert [(c.label, c.before, c.after) for c in audit.changes(listed)] == [
        ("删除", "2027-01-01、元旦", None),
        ("新增", None, "2027-01-02、元旦"),
    ]
    assert audit.changes(audit.record(actor="系统", action="a", obj=enterprise)) == []


def test_changes_say_values_as_the_pages_do():
    """Choices by their label, related records by name, dates in Chinese, files by name; not codes and ids."""
    from jianchama.registry.models import Region
    from tests.factories import DistrictFactory

    enterprise = EnterpriseFactory(risk_grade="B")
    other = DistrictFactory(code="310199", name="测试新区")
    before = audit.snapshot(enterprise)
    enterprise.risk_grade = "D"
    enterprise.region = other
    after = audit.snapshot(enterprise)
    event = audit.record(actor="系统", action="a", obj=enterprise, before=before, after=after)
    shown = {c.label: (c.before, c.after) for c in audit.changes(event)}
    grade = str(Enterprise._meta.get_field("risk_grade").verbose_name)
    assert shown[grade] == (
        str(dict(Enterprise.RiskGrade.choices)["B"]),
        str(dict(Enterprise.RiskGrade.choices)["D"]),
    )
    region = str(Enterprise._meta.get_field("region").verbose_name)
    assert shown[region] == (str(Region.objects.get(pk=before["region_id"])), str(other))

    created = audit.record(
        actor="系统",
        action="a",
        obj=enterprise,
        after={"created_at": "2026-11-23T06:30:00+00:00", "region_id": 999_999, "photo": "a/b/c.pdf"},
    )
    shown = {c.label: c.after for c in audit.changes(created)}
    assert shown[str(Enterprise._meta.get_field("created_at").verbose_name)] == "2026年11月23日 14:30"
    assert shown[str(Enterprise._meta.get_field("region").verbose_name)] == "（已删除：999999）"
    assert shown["photo"] == "a/b/c.pdf"  # not a field of the model: shown as stored


def test_changes_show_dates_in_chinese_and_files_by_name():
    from jianchama.registry.models import Certificate
    from tests.factories import CertificateFactory

    certificate = CertificateFactory()
    event = audit.record(
        actor="系统",
        action="a",
        obj=certificate,
        before={"valid_until": "2026-03-01", "status": "valid"},
        after={"valid_until": "2027-02-28", "status": "suspended"},
    )
    shown = {c.label: (c.before, c.after) for c in audit.changes(event)}
    assert shown[str(Certificate._meta.get_field("valid_until").verbose_name)] == (
        "2026年3月1日",
        "2027年2月28日",
    )
    assert shown[str(Certificate._meta.get_field("status").verbose_name)] == ("有效", "暂停使用")


def test_the_timeline_partial_renders_events():
    admin = user_for(Role.PLATFORM_ADMIN, full_name="平台管理员甲")
    set_year_schedule(admin, year=2027, holidays=[(datetime.date(2027, 1, 1), "元旦")], workdays=[])
    set_year_schedule(
        admin,
        year=2027,
        holidays=[(datetime.date(2027, 1, 1), "元旦"), (datetime.date(2027, 2, 6), "春节")],
        workdays=[],
    )
    calendar_year = CalendarYear.objects.get(year=2027)
    html = render_to_string("core/_timeline.html", {"events": audit.history(calendar_year)})
    assert html.count('class="timeline-event"') == 2
    assert "录入年度节假日安排" in html
    assert "平台管理员甲" in html
    assert "新增：2027-02-06、holiday、春节" in html
    local = timezone.localtime(AuditEvent.objects.first().occurred_at)
    assert f"{local:%Y}年{local.month}月{local.day}日 {local:%H:%M}" in html
    assert "暂无操作记录" in render_to_string("core/_timeline.html", {"events": []})


def test_the_timeline_partial_can_be_included():
    from django.template import engines

    enterprise = EnterpriseFactory()
    audit.record(
        actor="系统", action="calendar.load_library", obj=enterprise, before={"a": 1}, after={"a": 2}
    )
    template = engines["django"].from_string('{% include "core/_timeline.html" with events=events %}')
    html = template.render({"events": audit.history(enterprise)})
    assert "从日历库载入节假日安排" in html
    assert "a：<del>1</del> → 2" in html


@pytest.mark.django_db(transaction=True)
def test_concurrent_appenders_keep_one_unbroken_chain():
    """Several requests appending at once (PostgreSQL): no duplicate sequence, no fork in the chain."""
    import threading

    from django.db import connection, connections, transaction

    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writing transaction at a time (IMMEDIATE); the race needs PostgreSQL")
    errors: list[Exception] = []
    start = threading.Barrier(8)

    def append(worker: int) -> None:
        try:
            start.wait()
            for i in range(5):
                with transaction.atomic():
                    audit.record(
                        actor="系统", action="test.concurrent", object_type="t", object_id=f"{worker}-{i}"
                    )
        except Exception as error:  # collected and asserted on below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert audit.verify_chain() == (40, None)


@pytest.mark.django_db(transaction=True)
def test_concurrent_appenders_of_several_events_at_once_keep_one_unbroken_chain():
    """`record_all` (a task created and submitted at once) appends its events by one statement on PostgreSQL,
    each hashed from the one before: racing single and multiple appends, the chain stays one, in order."""
    import threading

    from django.db import connection, connections, transaction

    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writing transaction at a time (IMMEDIATE); the race needs PostgreSQL")
    errors: list[Exception] = []
    start = threading.Barrier(6)

    def append(worker: int) -> None:
        try:
            start.wait()
            for i in range(4):
                with transaction.atomic():
                    events = [
                        dict(actor="系统", action="test.many", object_type="t", object_id=f"{worker}-{i}-{k}")
                        for k in range(1 + worker % 3)
                    ]
                    audit.record_all(*events)
        except Exception as error:  # collected and asserted on below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    expected = sum(4 * (1 + worker % 3) for worker in range(6))
    assert audit.verify_chain() == (expected, None)
    # A transaction's events are consecutive links, in the order given.
    for worker in range(6):
        for i in range(4):
            sequences = list(
                AuditEvent.objects.filter(object_id__startswith=f"{worker}-{i}-")
                .order_by("object_id")
                .values_list("sequence", flat=True)
            )
            assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))


def test_a_change_whose_event_cannot_be_written_does_not_happen():
    """`record` appends without a savepoint of its own (core/audit.py): an event the database refuses fails the
    whole change it belongs to, and a caller that swallowed the error could not go on writing (PostgreSQL,
    which enforces the column's length; SQLite stores the overlong text)."""
    from django.db import DatabaseError, connection, transaction
    from django.db.transaction import TransactionManagementError

    if connection.vendor != "postgresql":
        pytest.skip("SQLite does not enforce the column's length, so the event is written")
    events = AuditEvent.objects.count()
    with pytest.raises(TransactionManagementError), transaction.atomic():
        enterprise = EnterpriseFactory(name="上海金山燃气供应站有限公司")
        with pytest.raises(DatabaseError):
            audit.record(actor="系统", action="test.change", obj=enterprise, object_type="x" * 101)
        Enterprise.objects.count()  # the change's transaction is doomed: nothing more runs in it
    assert not Enterprise.objects.filter(name="上海金山燃气供应站有限公司").exists()
    assert AuditEvent.objects.count() == events
    assert audit.verify_chain()[1] is None
