"""Signed checkpoints of the audit chain's head, kept outside the database (issue 10, item 6).

The hash chain (audit.py) shows that no stored row was changed, inserted or removed *between* other rows.
It cannot show that rows were cut off its end, nor that a tail was rewritten with every later hash
recomputed: both leave a shorter or different chain that is consistent in itself. A checkpoint records the
head of the chain (its sequence number and hash) at a moment, signed with an Ed25519 key that is not in the
database (AUDIT_CHECKPOINT_KEY_FILE), and is appended to a place the application never rewrites: a file
opened in append mode (AUDIT_CHECKPOINT_FILE), one JSON line per checkpoint, and optionally the supervisors'
inbox. `verify_checkpoints` then checks every checkpoint's signature and that the chain still holds each
checkpointed (sequence, hash): a cut or rewritten tail below the latest checkpoint is named.

docs/audit.md says what this does and does not detect.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from .audit import GENESIS_HASH
from .errors import DomainError
from .models import AuditArchive, AuditEvent

VERSION = 1


# ---------------------------------------------------------------------------------------------------------
# The key


def key_path() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_KEY_FILE)


def create_key(*, if_missing: bool = False) -> tuple[Path, bool]:
    """Write a new private key (PKCS#8 PEM, mode 0600) and its public key beside it.
    Returns (path, created). An existing key is never overwritten: the old checkpoints need it."""
    path = key_path()
    if path.exists():
        if if_missing:
            return path, False
        raise DomainError(
            f"审计检查点签名密钥已存在（{path}）：已有的检查点要用它校验，不能覆盖。"
            "如确需更换，请先将密钥文件和检查点文件一并归档移走。"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    public_path(path).write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path, True


def public_path(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(".pem") + ".pub.pem")


def _private_key() -> Ed25519PrivateKey:
    path = key_path()
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise DomainError(
            f"没有审计检查点签名密钥（{path}）：请先运行 manage.py audit_checkpoint_key --if-missing。"
        ) from None
    except ValueError:
        raise DomainError(
            f"审计检查点签名密钥文件（{path}）无法读取：不是 PEM 格式的 Ed25519 私钥。"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise DomainError(f"审计检查点签名密钥（{path}）不是 Ed25519 密钥。")
    return key


def _public_key() -> Ed25519PublicKey | None:
    """The verifying key: the public key file if there is one (a verifier may hold only that), else the
    private key's."""
    path = key_path()
    public = public_path(path)
    if public.exists():
        key = serialization.load_pem_public_key(public.read_bytes())
        if isinstance(key, Ed25519PublicKey):
            return key
    if path.exists():
        return _private_key().public_key()
    return None


def _message(sequence: int, hash_: str, at: str) -> bytes:
    return json.dumps(
        ["jianchama-audit-checkpoint", VERSION, sequence, hash_, at], separators=(",", ":")
    ).encode()


# ---------------------------------------------------------------------------------------------------------
# Checkpoints and where they are kept


@dataclass(frozen=True)
class Checkpoint:
    sequence: int
    hash: str
    at: str  # ISO 8601, UTC
    signature: str  # base64 of the Ed25519 signature over _message(...)

    def as_json(self) -> str:
        return json.dumps(
            {
                "v": VERSION,
                "sequence": self.sequence,
                "hash": self.hash,
                "at": self.at,
                "sig": self.signature,
            },
            separators=(",", ":"),
        )

    def local_time(self) -> str:
        try:
            moment = datetime.datetime.fromisoformat(self.at)
        except ValueError:
            return self.at
        return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S}"


class FileBackend:
    """An append-only file: one JSON line per checkpoint. The application only ever opens it to append;
    `chattr +a` (or a log shipper) makes that hold against a process that would do otherwise."""

    name = "file"

    def __init__(self):
        self.path = Path(settings.AUDIT_CHECKPOINT_FILE)

    def append(self, checkpoint: Checkpoint) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(checkpoint.as_json() + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def read(self) -> tuple[list[Checkpoint], list[str]]:
        """The checkpoints, oldest first, and a description of every line that is not one."""
        checkpoints: list[Checkpoint] = []
        problems: list[str] = []
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return [], []
        except UnicodeDecodeError:
            return [], [f"检查点文件（{self.path}）不是 UTF-8 文本：已被改写"]
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                checkpoints.append(
                    Checkpoint(
                        sequence=int(data["sequence"]),
                        hash=str(data["hash"]),
                        at=str(data["at"]),
                        signature=str(data["sig"]),
                    )
                )
            except (ValueError, KeyError, TypeError):
                problems.append(f"检查点文件第 {number} 行不是有效的检查点：该文件已被改写")
        return checkpoints, problems


# Backends by short name; others by dotted path. The inbox lives in the notifications app (core imports no
# domain app), so it is named by its path and imported only when configured.
BACKENDS: dict[str, Any] = {"file": FileBackend, "inbox": "jianchama.notifications.checkpoints.InboxBackend"}


def backends() -> list[Any]:
    found = []
    for name in settings.AUDIT_CHECKPOINT_BACKENDS:
        cls = BACKENDS.get(name, name)
        if isinstance(cls, str):
            cls = import_string(cls)
        found.append(cls())
    return found


# ---------------------------------------------------------------------------------------------------------
# Writing and verifying


def write_checkpoint() -> Checkpoint:
    """Sign the chain's current head and append it to every backend."""
    key = _private_key()
    head = AuditEvent.objects.order_by("-sequence").only("sequence", "hash").first()
    sequence, hash_ = (head.sequence, head.hash) if head else (0, GENESIS_HASH)
    at = timezone.now().astimezone(datetime.UTC).isoformat(timespec="seconds")
    signature = base64.b64encode(key.sign(_message(sequence, hash_, at))).decode()
    checkpoint = Checkpoint(sequence=sequence, hash=hash_, at=at, signature=signature)
    for backend in backends():
        backend.append(checkpoint)
    return checkpoint


def _stored_checkpoints() -> tuple[list[Checkpoint], list[str]]:
    checkpoints: list[Checkpoint] = []
    problems: list[str] = []
    for backend in backends():
        found, wrong = backend.read()
        checkpoints += found
        problems += wrong
    return checkpoints, problems


@dataclass
class CheckpointReport:
    checked: int  # checkpoints whose signature and (sequence, hash) were confirmed
    latest: Checkpoint | None
    problems: list[str]


def verify_checkpoints() -> CheckpointReport:
    """Every stored checkpoint: its signature, and that the chain still holds its (sequence, hash)."""
    checkpoints, problems = _stored_checkpoints()
    if not checkpoints:
        return CheckpointReport(0, None, problems)
    public = _public_key()
    if public is None:
        problems.append(
            f"有 {len(checkpoints)} 个检查点，但没有校验用的密钥（{key_path()}）：无法确认检查点未被伪造"
        )
        return CheckpointReport(0, None, problems)
    head = AuditEvent.objects.order_by("-sequence").only("sequence").first()
    head_sequence = head.sequence if head else 0
    archived_hashes = dict(AuditArchive.objects.values_list("last_sequence", "last_hash"))
    archived_through = max(archived_hashes, default=0)
    wanted = {c.sequence for c in checkpoints if c.sequence > archived_through}
    stored = _hashes(wanted)
    checked = 0
    latest: Checkpoint | None = None
    for checkpoint in checkpoints:
        when = checkpoint.local_time()
        try:
            public.verify(
                base64.b64decode(checkpoint.signature, validate=True),
                _message(checkpoint.sequence, checkpoint.hash, checkpoint.at),
            )
        except (InvalidSignature, ValueError):
            problems.append(
                f"检查点（{when}，第 {checkpoint.sequence} 条）的签名无效：检查点文件被篡改或伪造"
            )
            continue
        if latest is None or checkpoint.sequence >= latest.sequence:
            latest = checkpoint
        if checkpoint.sequence == 0:
            checked += 1
            continue
        if checkpoint.sequence > head_sequence:
            continue  # reported once below, for the latest checkpoint
        if checkpoint.sequence <= archived_through:
            # In a month moved to a file (verify_chain checks the archives); its last hash is kept.
            if (
                checkpoint.sequence in archived_hashes
                and archived_hashes[checkpoint.sequence] != checkpoint.hash
            ):
                problems.append(
                    f"第 {checkpoint.sequence} 条记录（已归档）的哈希与 {when} 的检查点不符：归档记录被改写"
                )
                continue
            checked += checkpoint.sequence in archived_hashes
            continue
        if stored.get(checkpoint.sequence) != checkpoint.hash:
            problems.append(
                f"第 {checkpoint.sequence} 条记录的哈希与 {when} 的检查点不符：该条或其之前的记录被改写"
                "（其后的哈希被重新计算）"
            )
            continue
        checked += 1
    if latest is not None and latest.sequence > head_sequence:
        cut = latest.sequence - head_sequence
        problems.append(
            f"审计日志末尾被截断：{latest.local_time()} 的检查点记录到第 {latest.sequence} 条，"
            f"数据库中{'已没有任何记录' if head_sequence == 0 else f'只到第 {head_sequence} 条'}"
            f"（至少缺少 {cut} 条）"
        )
    return CheckpointReport(checked, latest, problems)


def _hashes(sequences: Iterable[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    values = sorted(sequences)
    for start in range(0, len(values), 5000):
        found.update(
            AuditEvent.objects.filter(sequence__in=values[start : start + 5000]).values_list(
                "sequence", "hash"
            )
        )
    return found
