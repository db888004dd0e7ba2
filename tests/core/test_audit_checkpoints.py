"""Issue 10, item 6: signed checkpoints of the audit chain's head catch a cut or rewritten tail, which the
hash chain alone cannot (a shorter or recomputed chain is consistent in itself)."""

import base64
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_q.models import Schedule

from jianchama.core import audit, checkpoints, jobs
from jianchama.core.models import AuditEvent
from jianchama.core.roles import Role
from jianchama.notifications.models import Notification
from tests.factories import user_for

pytestmark = pytest.mark.django_db


def verify() -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit", stdout=out, stderr=err)
    except SystemExit as exit_:
        return exit_.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def record(n: int) -> None:
    for i in range(n):
        audit.record(
            actor="系统", action="test.change", object_type="test.Thing", object_id=str(i), after={"n": i}
        )


def checkpoint() -> None:
    call_command("audit_checkpoint_key", "--if-missing", stdout=StringIO())
    call_command("audit_checkpoint", stdout=StringIO())


@pytest.fixture
def chain():
    """50 events with a checkpoint after 30 and one at the head."""
    record(30)
    checkpoint()
    record(20)
    checkpoint()


def test_an_intact_chain_with_checkpoints_verifies(chain):
    status, out, err = verify()
    assert status == 0, err
    assert "已校验 50 条审计记录" in out and "已校验 2 个签名检查点" in out and "记录到第 50 条" in out
    assert "审计日志完整" in out
    # More events after the latest checkpoint are fine.
    record(3)
    assert verify()[0] == 0


def test_the_checkpoint_file_is_one_signed_json_line_each(chain, settings):
    lines = settings.AUDIT_CHECKPOINT_FILE.read_text().splitlines()
    assert [json.loads(line)["sequence"] for line in lines] == [30, 50]
    head = AuditEvent.objects.get(sequence=50)
    assert json.loads(lines[1])["hash"] == head.hash and json.loads(lines[1])["sig"]


@pytest.mark.parametrize("cut", [1, 20, 50])
def test_a_cut_tail_is_caught(chain, cut):
    AuditEvent.objects.filter(sequence__gt=50 - cut).delete()
    status, out, err = verify()
    assert status == 1 and "审计日志完整" not in out
    assert "审计日志末尾被截断" in err and "记录到第 50 条" in err
    if cut == 50:
        assert "数据库中已没有任何记录" in err
    else:
        assert f"只到第 {50 - cut} 条" in err


def _rewrite_from(sequence: int) -> None:
    """Change one event and recompute every later hash: a chain consistent in itself."""
    events = list(AuditEvent.objects.filter(sequence__gte=sequence).order_by("sequence"))
    prev = AuditEvent.objects.get(sequence=sequence - 1).hash if sequence > 1 else audit.GENESIS_HASH
    for event in events:
        if event.sequence == sequence:
            event.after = {"n": "改过"}
        event.prev_hash = prev
        event.hash = audit._event_hash(event)
        AuditEvent.objects.filter(pk=event.pk).update(after=event.after, prev_hash=prev, hash=event.hash)
        prev = event.hash


def test_a_rewritten_tail_with_recomputed_hashes_is_caught(chain):
    _rewrite_from(40)
    assert audit.verify_chain()[1] is None  # the chain alone sees nothing
    status, out, err = verify()
    assert status == 1 and "审计日志完整" not in out
    assert "第 50 条记录的哈希与" in err and "被改写" in err


def test_a_row_rewritten_before_an_older_checkpoint_is_caught_by_both(chain):
    _rewrite_from(10)
    status, _, err = verify()
    assert status == 1 and "第 30 条记录的哈希与" in err and "第 50 条记录的哈希与" in err


def test_a_cut_tail_replaced_by_as_many_new_rows_is_caught(chain):
    AuditEvent.objects.filter(sequence__gt=45).delete()
    record(5)
    status, _, err = verify()
    assert status == 1 and "第 50 条记录的哈希与" in err


def test_a_forged_checkpoint_is_caught(chain, settings):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    # Someone without the key cuts the tail and appends a checkpoint of the shortened head to hide it.
    AuditEvent.objects.filter(sequence__gt=40).delete()
    head = AuditEvent.objects.get(sequence=40)
    at = "2099-01-01T00:00:00+00:00"
    signature = Ed25519PrivateKey.generate().sign(checkpoints._message(40, head.hash, at))
    with open(settings.AUDIT_CHECKPOINT_FILE, "a") as handle:
        handle.write(
            json.dumps(
                {
                    "v": 1,
                    "sequence": 40,
                    "hash": head.hash,
                    "at": at,
                    "sig": base64.b64encode(signature).decode(),
                }
            )
            + "\n"
        )
    status, _, err = verify()
    assert status == 1 and "第 40 条）的签名无效：检查点文件被篡改或伪造" in err
    assert "审计日志末尾被截断" in err  # the genuine checkpoints still count


def test_an_edited_checkpoint_line_is_caught(chain, settings):
    path = settings.AUDIT_CHECKPOINT_FILE
    lines = path.read_text().splitlines()
    data = json.loads(lines[1])
    data["sequence"] = 49
    path.write_text(lines[0] + "\n" + json.dumps(data) + "\nnot json\n")
    status, _, err = verify()
    assert status == 1
    assert "第 49 条）的签名无效" in err and "检查点文件第 3 行不是有效的检查点" in err


def test_without_checkpoints_it_says_a_cut_tail_cannot_be_seen():
    record(3)
    status, out, _ = verify()
    assert status == 0 and "尚无审计检查点" in out and "审计日志完整" in out


def test_checkpoints_without_the_key_cannot_be_trusted(chain, settings, tmp_path):
    settings.AUDIT_CHECKPOINT_KEY_FILE = tmp_path / "elsewhere.pem"
    status, _, err = verify()
    assert status == 1 and "没有校验用的密钥" in err


def test_the_key_is_created_once_and_never_overwritten(settings, tmp_path):
    settings.AUDIT_CHECKPOINT_KEY_FILE = tmp_path / "k" / "checkpoint-key.pem"
    with pytest.raises(CommandError, match="audit_checkpoint_key --if-missing"):
        call_command("audit_checkpoint", stdout=StringIO())
    out = StringIO()
    call_command("audit_checkpoint_key", "--if-missing", stdout=out)
    assert "已生成审计检查点签名密钥" in out.getvalue()
    key = settings.AUDIT_CHECKPOINT_KEY_FILE
    assert key.stat().st_mode & 0o777 == 0o600 and checkpoints.public_path(key).exists()
    pem = key.read_bytes()
    call_command("audit_checkpoint_key", "--if-missing", stdout=StringIO())
    with pytest.raises(CommandError, match="不能覆盖"):
        call_command("audit_checkpoint_key", stdout=StringIO())
    assert key.read_bytes() == pem


def test_the_hourly_schedule_writes_a_checkpoint(chain, settings):
    schedule = Schedule.objects.get(name="core-audit-checkpoint")
    assert schedule.schedule_type == Schedule.HOURLY and schedule.repeats == -1
    assert schedule.func == "jianchama.core.jobs.write_audit_checkpoint"
    record(1)
    assert jobs.write_audit_checkpoint() == 51
    assert len(settings.AUDIT_CHECKPOINT_FILE.read_text().splitlines()) == 3


def test_the_inbox_backend_tells_supervisors(chain, settings):
    supervisor = user_for(Role.SUPERVISOR)
    inspector = user_for(Role.INSPECTOR)
    settings.AUDIT_CHECKPOINT_BACKENDS = ["file", "inbox"]
    head = AuditEvent.objects.order_by("-sequence").first()
    jobs.write_audit_checkpoint()
    message = Notification.objects.get(user=supervisor)
    assert f"第 {head.sequence} 条" in message.subject and head.hash in message.body
    assert not Notification.objects.filter(user=inspector).exists()
    assert verify()[0] == 0
