"""The signed inspection code token (F-22): its binary layout, its Ed25519 keys, the JWKS and the QR text.

This module is the pure crypto/encoding layer: it knows nothing of tasks or models. The model layer gives it
an `InspectionCode.code_id` and gets a token; the scan page gives it a token and gets claims back, then
decides on its own whether the code is stale, revoked or for another enterprise.

Token (docs/inspection-code.md has the normative description), 78 bytes, base32 (RFC 4648, upper case,
no padding) → 125 characters:

    offset  size  field
    0       1     version (1)
    1       1     key id (1..255)
    2       6     code id, big-endian unsigned
    8       4     not_before, unix seconds, big-endian unsigned
    12      2     lifetime in seconds, big-endian unsigned (not_after = not_before + lifetime)
    14      64    Ed25519 signature over bytes 0..13

Keys live in CODE_SIGNING_KEY_DIR (never in the database), or one key comes from CODE_SIGNING_KEY:

    current          the decimal key id of the signing key, e.g. "3\\n"
    <kid>.pem        PKCS#8 private key, mode 0600; only the current key keeps one
    <kid>.pub.pem    SubjectPublicKeyInfo public key, published in the JWKS
    <kid>.retired    ISO 8601 UTC time the key stopped signing; published until retention runs out
    .lock            taken by rotation so that two rotations never interleave
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
import secrets
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

try:  # rotation takes a file lock where the platform has one (every server we deploy on does)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

TOKEN_VERSION = 1
_HEADER = struct.Struct(">BB6sIH")  # version, kid, code id (48 bits), not_before, lifetime
HEADER_LENGTH = _HEADER.size  # 14
SIGNATURE_LENGTH = 64
TOKEN_BYTES = HEADER_LENGTH + SIGNATURE_LENGTH  # 78
TOKEN_LENGTH = (TOKEN_BYTES * 8 + 4) // 5  # 125 base32 characters, no padding
TOKEN_PATTERN = rf"[A-Za-z2-7]{{{TOKEN_LENGTH}}}"  # for URL routes: /c/<token> and /C/<token>

MAX_CODE_ID = 2**48 - 1
MAX_KEY_ID = 255
MAX_LIFETIME_SECONDS = 2**16 - 1
MAX_UNIX_SECONDS = 2**32 - 1

# Phones and the server disagree by a few seconds, sometimes more; the scan page tolerates this much
# on both ends of the window before calling a code early or stale.
CLOCK_SKEW_SECONDS = 60

# A cached key ring is re-read at least this often even if nothing in the directory seems to change:
# coarse file-system timestamps can hide a prune done within the same tick as the last read.
_CACHE_MAX_AGE_SECONDS = 60
# A scan trusts the key ring read this recently without looking at the directory again: a key removed by hand
# (rotation retires keys, and `published` judges their retention on every call) stops verifying within it.
KEY_RECHECK_SECONDS = 1.0

_KID_FILE = re.compile(r"^([0-9]{1,3})\.(pem|pub\.pem|retired)$")

Reason = Literal["malformed", "unsupported_version", "unknown_key", "bad_signature"]


class TokenError(Exception):
    """A token that is not a genuine inspection code; `reason` says why, for the page and the scan log."""

    def __init__(self, reason: Reason, message: str = "") -> None:
        self.reason: Reason = reason
        super().__init__(message or reason)


@dataclass(frozen=True)
class TokenClaims:
    version: int
    key_id: int
    code_id: int
    not_before: datetime  # aware, UTC
    not_after: datetime

    def window_status(
        self, now: datetime | None = None, *, skew_seconds: int = CLOCK_SKEW_SECONDS
    ) -> Literal["early", "current", "stale"]:
        """Where `now` falls in the validity window, tolerating clock skew on both ends.

        The window is [not_before, not_after); with skew s a token is current for
        not_before - s <= now < not_after + s.
        """
        now = now or datetime.now(UTC)
        skew = timedelta(seconds=skew_seconds)
        if now < self.not_before - skew:
            return "early"
        if now >= self.not_after + skew:
            return "stale"
        return "current"


# ---------------------------------------------------------------- encoding


def _b32encode(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=")


def _b32decode(text: str) -> bytes:
    """Strict base32: RFC 4648 alphabet, case-insensitive, and only the canonical spelling.

    Base32 of 78 bytes leaves one spare bit in the last character; Python ignores it when decoding, so
    two different strings would decode to the same bytes. Re-encoding and comparing refuses the second
    one, so that a changed character is never accepted.
    """
    text = text.upper()
    if not re.fullmatch(r"[A-Z2-7]*", text):
        raise TokenError("malformed", "not base32")
    padded = text + "=" * (-len(text) % 8)
    try:
        data = base64.b32decode(padded)
    except (binascii.Error, ValueError) as exc:
        raise TokenError("malformed", "not base32") from exc
    if len(text) == TOKEN_LENGTH:
        # A token's one spare bit is the last character's lowest: canonical when it is zero (what re-encoding
        # and comparing below checks, for a fifth of a scan's token reading).
        if _B32_VALUES[text[-1]] & 1:
            raise TokenError("malformed", "non-canonical base32")
    elif _b32encode(data) != text:
        raise TokenError("malformed", "non-canonical base32")
    return data


_B32_VALUES = {char: value for value, char in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")}


def _unix(when: datetime) -> int:
    if when.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return int(when.timestamp())


def issue_token(code_id: int, *, now: datetime | None = None, ttl_seconds: int | None = None) -> str:
    """A fresh token for `code_id`, signed with the current key, valid from `now` for `ttl_seconds`."""
    if not 0 <= code_id <= MAX_CODE_ID:
        raise ValueError(f"code_id must fit in 48 bits, got {code_id}")
    ttl = settings.CODE_TOKEN_TTL_SECONDS if ttl_seconds is None else ttl_seconds
    if not 1 <= ttl <= MAX_LIFETIME_SECONDS:
        raise ValueError(f"ttl_seconds must be 1..{MAX_LIFETIME_SECONDS}, got {ttl}")
    not_before = _unix(now or datetime.now(UTC))
    if not 0 <= not_before <= MAX_UNIX_SECONDS:
        raise ValueError("now is outside the token's 32-bit time range")
    ring = _keyring()
    header = _HEADER.pack(TOKEN_VERSION, ring.current_kid, code_id.to_bytes(6, "big"), not_before, ttl)
    return _b32encode(header + ring.private_key.sign(header))


def slot_start(when: datetime, slot_seconds: int) -> datetime:
    """The start of the slot `when` falls in; slots are aligned on the epoch, so phone and server agree."""
    seconds = _unix(when)
    return datetime.fromtimestamp(seconds - seconds % slot_seconds, UTC)


def slot_tokens(
    code_id: int, *, start: datetime, count: int, slot_seconds: int
) -> list[tuple[datetime, str]]:
    """Tokens for `count` consecutive slots from the slot of `start` (the field app's offline code, F-44).

    Each token is an ordinary token whose window is its own slot: valid from the slot's start for
    `slot_seconds`, which may not exceed CODE_TOKEN_TTL_SECONDS. A series is therefore no longer-lived than
    the tokens shown online, one at a time: a screenshot of one goes stale with its slot, and the scan page
    still judges the code's state (revoked, cancelled, out of its days) whatever token it reads.
    """
    if not 1 <= slot_seconds <= settings.CODE_TOKEN_TTL_SECONDS:
        raise ValueError(f"slot_seconds must be 1..CODE_TOKEN_TTL_SECONDS, got {slot_seconds}")
    first = slot_start(start, slot_seconds)
    return [
        (
            first + timedelta(seconds=index * slot_seconds),
            issue_token(
                code_id, now=first + timedelta(seconds=index * slot_seconds), ttl_seconds=slot_seconds
            ),
        )
        for index in range(max(count, 0))
    ]


def _parse(token: str) -> tuple[bytes, TokenClaims]:
    data = _b32decode(token.strip())
    if not data:
        raise TokenError("malformed", "empty token")
    if data[0] != TOKEN_VERSION:
        raise TokenError("unsupported_version", f"token version {data[0]}")
    if len(data) != TOKEN_BYTES:
        raise TokenError("malformed", f"token is {len(data)} bytes, expected {TOKEN_BYTES}")
    version, kid, code_id, not_before, lifetime = _HEADER.unpack(data[:HEADER_LENGTH])
    start = datetime.fromtimestamp(not_before, UTC)
    claims = TokenClaims(
        version=version,
        key_id=kid,
        code_id=int.from_bytes(code_id, "big"),
        not_before=start,
        not_after=start + timedelta(seconds=lifetime),
    )
    return data, claims


def decode_token(token: str) -> TokenClaims:
    """The claims of a token WITHOUT checking its signature: for diagnostics and documentation only."""
    return _parse(token)[1]


def read_token(token: str) -> TokenClaims:
    """Claims of a genuine token (format and signature checked, by any published key); time NOT judged."""
    data, claims = _parse(token)
    ring = _keyring(recheck_seconds=KEY_RECHECK_SECONDS)
    if claims.key_id != ring.current_kid and claims.key_id not in ring.public_keys:
        ring = _keyring()  # a key made since the last look (another process rotated): look now
    # The current key always verifies (`published`): nearly every scan's, found without judging retention.
    if claims.key_id == ring.current_kid:
        public_key = ring.current_public_key
    else:
        public_key = ring.published().get(claims.key_id)
    if public_key is None:
        raise TokenError("unknown_key", f"no published key {claims.key_id}")
    try:
        public_key.verify(data[HEADER_LENGTH:], data[:HEADER_LENGTH])
    except InvalidSignature as exc:
        raise TokenError("bad_signature", "signature does not verify") from exc
    return claims


def token_from_url(text: str) -> str:
    """The token out of a scanned code URL (either case of /c/), or the text itself if it is a bare token."""
    path = urlsplit(text.strip()).path if "/" in text else text.strip()
    return path.rstrip("/").rsplit("/", 1)[-1]


def code_url(token: str) -> str:
    """The URL a browser opens: <CODE_BASE_URL>/c/<token>."""
    return f"{settings.CODE_BASE_URL.rstrip('/')}/c/{token}"


def qr_content(token: str) -> str:
    """The exact text of the QR: the code URL with scheme, host and the /C/ prefix upper-cased.

    Upper case keeps every character in QR alphanumeric mode (5.5 bits a character instead of 8), which is
    what keeps the symbol at version 8 or lower. Browsers lower-case scheme and host themselves; the path
    keeps its case, so the page must route /C/ as well as /c/. A path in CODE_BASE_URL is kept as it is.
    """
    parts = urlsplit(settings.CODE_BASE_URL.rstrip("/"))
    origin = urlunsplit((parts.scheme.upper(), parts.netloc.upper(), parts.path, "", ""))
    return f"{origin}/C/{token.upper()}"


# ---------------------------------------------------------------- keys


def public_jwk(kid: int, public_key: Ed25519PublicKey) -> dict[str, str]:
    """An RFC 8037 OKP JWK of an Ed25519 public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": str(kid), "use": "sig", "alg": "EdDSA"}


@dataclass
class _PublicKey:
    key: Ed25519PublicKey
    retired_at: datetime | None  # None: the current key, or one published ahead of use


@dataclass
class KeyRing:
    current_kid: int
    private_key: Ed25519PrivateKey
    public_keys: dict[int, _PublicKey] = field(default_factory=dict)
    # Derived from the private key once: every scan verifies with it (deriving costs a sixth of a verification).
    current_public_key: Ed25519PublicKey | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.current_public_key is None:
            self.current_public_key = self.private_key.public_key()

    def published(self, now: datetime | None = None) -> dict[int, Ed25519PublicKey]:
        """The keys that verify: the current one and the retired ones still within retention.

        Retention is judged here on every call, not only by pruning, so a key stops verifying on time even
        where nobody ran the rotation command since.
        """
        now = now or datetime.now(UTC)
        keep = retention()
        keys = {
            kid: entry.key
            for kid, entry in self.public_keys.items()
            if entry.retired_at is None or now < entry.retired_at + keep
        }
        keys[self.current_kid] = self.current_public_key
        return keys


def retention(days: int | None = None) -> timedelta:
    """How long a retired key stays published: CODE_KEY_RETENTION_DAYS (or `days`), but never less than a
    token's lifetime plus the clock skew, so that a code shown a moment before a rotation still reads as
    genuine (or stale, once its time is up) instead of forged, whatever the setting says."""
    days = settings.CODE_KEY_RETENTION_DAYS if days is None else days
    # The field app's prefetched tokens (slot_tokens) are signed up to FIELD_CODE_PREFETCH_HOURS ahead.
    ahead = max(settings.CODE_TOKEN_TTL_SECONDS, getattr(settings, "FIELD_CODE_PREFETCH_HOURS", 0) * 3600)
    floor = timedelta(seconds=ahead + CLOCK_SKEW_SECONDS)
    return max(timedelta(days=max(days, 0)), floor)


_cache_lock = threading.Lock()
_cache: tuple[tuple, float, KeyRing] | None = None


def clear_key_cache() -> None:
    global _cache
    with _cache_lock:
        _cache = None
        _checked[0], _checked[1] = 0.0, None


def _dir_signature(directory: Path) -> tuple:
    """What changes when keys change: the dir's mtime (files added, removed) and the `current` file
    (rotation replaces it by rename, so its inode changes even within one timestamp tick)."""
    sig: list = [str(directory)]
    for path in (directory, directory / "current"):
        try:
            st = path.stat()
        except OSError:
            sig.append(None)
        else:
            sig.append((st.st_ino, st.st_mtime_ns, st.st_size))
    return tuple(sig)


# When the key directory was last looked at by `_keyring` (monotonic seconds), and with which settings.
_checked: list = [0.0, None]


def _keyring(recheck_seconds: float = 0.0) -> KeyRing:
    """The key ring, re-read when the directory changed. `recheck_seconds`: trust a ring whose directory was
    looked at that recently without looking again (the scan page: two stat calls a scan cost a twentieth of it;
    `read_token` looks again at once when a token names a key the ring does not know)."""
    global _cache
    settings_key = (
        settings.CODE_SIGNING_KEY or "",
        settings.CODE_SIGNING_KEY_ID or "",
        settings.CODE_SIGNING_KEY_DIR,
    )
    now = time.monotonic()
    if recheck_seconds > 0:
        with _cache_lock:
            if (
                _cache
                and _checked[1] == settings_key
                and now - _checked[0] < recheck_seconds
                and now - _cache[1] < _CACHE_MAX_AGE_SECONDS
            ):
                return _cache[2]
    directory = Path(settings.CODE_SIGNING_KEY_DIR)
    key = (settings.CODE_SIGNING_KEY or "", settings.CODE_SIGNING_KEY_ID or "", _dir_signature(directory))
    with _cache_lock:
        if _cache and _cache[0] == key and now - _cache[1] < _CACHE_MAX_AGE_SECONDS:
            _checked[0], _checked[1] = now, settings_key
            return _cache[2]
    ring = _load_keyring(directory)
    with _cache_lock:
        _cache = (key, time.monotonic(), ring)
        _checked[0], _checked[1] = now, settings_key
    return ring


def _no_key_error() -> ImproperlyConfigured:
    return ImproperlyConfigured(
        f"没有检查码签名密钥：请运行 python manage.py rotate_signing_key 生成密钥"
        f"（密钥目录 {settings.CODE_SIGNING_KEY_DIR}），或设置环境变量 CODE_SIGNING_KEY。"
    )


def _load_keyring(directory: Path) -> KeyRing:
    if settings.CODE_SIGNING_KEY:
        return _load_env_keyring(directory)
    # A rotation in another process may swap `current` and delete the old private key between our two
    # reads; reading again sees the finished rotation.
    for _attempt in range(3):
        kid = _read_current(directory)
        if kid is None:
            raise _no_key_error()
        try:
            private_key = _load_private(directory / f"{kid}.pem")
        except FileNotFoundError:
            continue
        public_keys = _load_public_keys(directory)
        public_keys.pop(kid, None)
        return KeyRing(current_kid=kid, private_key=private_key, public_keys=public_keys)
    raise _no_key_error()


def _env_pem() -> bytes:
    pem = settings.CODE_SIGNING_KEY.strip()
    if "\n" not in pem and "\\n" in pem:  # a PEM squeezed into one environment line
        pem = pem.replace("\\n", "\n")
    return pem.encode("ascii", errors="replace")


def derived_key_id(public_key: Ed25519PublicKey) -> int:
    """A stable key id for a key given without CODE_SIGNING_KEY_ID: 1..255 from its hash."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).digest()[0] % MAX_KEY_ID + 1


def _load_env_keyring(directory: Path) -> KeyRing:
    try:
        private_key = serialization.load_pem_private_key(_env_pem(), password=None)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "CODE_SIGNING_KEY 不是有效的 PEM 私钥（需未加密的 Ed25519 私钥）。"
        ) from exc
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ImproperlyConfigured("CODE_SIGNING_KEY 必须是 Ed25519 私钥。")
    kid_text = (settings.CODE_SIGNING_KEY_ID or "").strip()
    if kid_text:
        if not kid_text.isdigit() or not 1 <= int(kid_text) <= MAX_KEY_ID:
            raise ImproperlyConfigured(f"CODE_SIGNING_KEY_ID 必须是 1 到 {MAX_KEY_ID} 之间的整数。")
        kid = int(kid_text)
    else:
        kid = derived_key_id(private_key.public_key())
    # Keys retired earlier (kept as <kid>.pub.pem + <kid>.retired in the key directory) stay published, so
    # that moving to a new environment key does not break the tokens already shown.
    public_keys = {
        k: entry for k, entry in _load_public_keys(directory).items() if entry.retired_at is not None
    }
    public_keys.pop(kid, None)
    return KeyRing(current_kid=kid, private_key=private_key, public_keys=public_keys)


def _read_current(directory: Path) -> int | None:
    try:
        text = (directory / "current").read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_KEY_ID:
        raise ImproperlyConfigured(f"检查码密钥目录中的 current 文件内容无效：{text!r}，应为密钥编号。")
    return int(text)


def _load_private(path: Path) -> Ed25519PrivateKey:
    data = path.read_bytes()  # FileNotFoundError goes up: the caller retries after a concurrent rotation
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{path} 不是有效的未加密 PEM 私钥。") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"{path} 不是 Ed25519 私钥。")
    return key


def _kid_files(directory: Path) -> Iterator[tuple[int, str, Path]]:
    try:
        entries = list(directory.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return
    for path in entries:
        match = _KID_FILE.match(path.name)
        if match and 1 <= int(match[1]) <= MAX_KEY_ID:
            yield int(match[1]), match[2], path


def _load_public_keys(directory: Path) -> dict[int, _PublicKey]:
    keys: dict[int, _PublicKey] = {}
    retired: dict[int, datetime] = {}
    for kid, kind, path in _kid_files(directory):
        try:
            if kind == "pub.pem":
                try:
                    key = serialization.load_pem_public_key(path.read_bytes())
                except ValueError as exc:
                    raise ImproperlyConfigured(f"{path} 不是有效的 PEM 公钥。") from exc
                if not isinstance(key, Ed25519PublicKey):
                    raise ImproperlyConfigured(f"{path} 不是 Ed25519 公钥。")
                keys[kid] = _PublicKey(key=key, retired_at=None)
            elif kind == "retired":
                retired[kid] = _parse_time(path.read_text().strip())
        except FileNotFoundError:  # pruned while we listed; it is gone either way
            continue
    for kid, when in retired.items():
        if kid in keys:
            keys[kid].retired_at = when
    return keys


def _parse_time(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ImproperlyConfigured(f"检查码密钥的停用时间无效：{text!r}") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def jwks() -> dict:
    """The JWKS document: current key first, then the retired ones still published, newest first."""
    ring = _keyring()
    keys = ring.published()
    order = [ring.current_kid, *sorted((k for k in keys if k != ring.current_kid), reverse=True)]
    return {"keys": [public_jwk(kid, keys[kid]) for kid in order]}


# ---------------------------------------------------------------- rotation (the command's logic)


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write via a temporary file and rename, so that a reader never sees half a key; the temporary file
    is created with `mode` already, so a private key is never readable by others, not even briefly."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(directory / ".lock", "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _next_kid(directory: Path) -> int:
    """The next free key id after the highest in use, wrapping within 1..255 past ids no longer present."""
    used = {kid for kid, _kind, _path in _kid_files(directory)}
    current = _read_current(directory)
    if current:
        used.add(current)
    start = max(used, default=0)
    for step in range(1, MAX_KEY_ID + 1):
        kid = (start + step - 1) % MAX_KEY_ID + 1
        if kid not in used:
            return kid
    raise ImproperlyConfigured(
        f"检查码密钥编号已用尽（{MAX_KEY_ID} 个）：请缩短 CODE_KEY_RETENTION_DAYS 或清理已停用的公钥。"
    )


def generate_key(directory: Path | str) -> int:
    """Create a new key pair in `directory` (private key mode 0600) and return its id; it is not made
    current: `rotate_key` does that. A key generated ahead of use is published as soon as it exists."""
    directory = Path(directory)
    with _locked(directory):
        return _generate_unlocked(directory)


def _generate_unlocked(directory: Path) -> int:
    kid = _next_kid(directory)
    private_key = Ed25519PrivateKey.generate()
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_atomic(directory / f"{kid}.pem", private_pem, 0o600)
    _write_atomic(directory / f"{kid}.pub.pem", public_pem, 0o644)
    return kid


@dataclass(frozen=True)
class RotationResult:
    new_kid: int
    retired_kids: list[int]
    pruned_kids: list[int]


def rotate_key(
    directory: Path | str, *, now: datetime | None = None, retention_days: int | None = None
) -> RotationResult:
    """Make a new key current; retire every other key (private file deleted, public key kept with its
    retirement time so old tokens still verify); prune public keys past retention.

    Order matters for servers reading the directory meanwhile: the new key exists before `current` names
    it, and the old private key goes only after `current` moved on.
    """
    directory = Path(directory)
    now = now or datetime.now(UTC)
    with _locked(directory):
        new_kid = _generate_unlocked(directory)
        retired: list[int] = []
        for kid, kind, _path in sorted(_kid_files(directory)):
            if kid == new_kid or kind != "pub.pem":
                continue
            marker = directory / f"{kid}.retired"
            if not marker.exists():
                _write_atomic(marker, (now.astimezone(UTC).isoformat() + "\n").encode(), 0o644)
                retired.append(kid)
        _write_atomic(directory / "current", f"{new_kid}\n".encode(), 0o644)
        for kid, kind, path in list(_kid_files(directory)):
            if kind == "pem" and kid != new_kid:
                path.unlink(missing_ok=True)
        pruned = _prune_unlocked(directory, now=now, retention_days=retention_days)
    clear_key_cache()
    return RotationResult(new_kid=new_kid, retired_kids=retired, pruned_kids=pruned)


def prune_keys(
    directory: Path | str, *, now: datetime | None = None, retention_days: int | None = None
) -> list[int]:
    """Delete retired keys whose retention ran out; returns their ids."""
    directory = Path(directory)
    with _locked(directory):
        pruned = _prune_unlocked(directory, now=now or datetime.now(UTC), retention_days=retention_days)
    clear_key_cache()
    return pruned


def _prune_unlocked(directory: Path, *, now: datetime, retention_days: int | None) -> list[int]:
    keep = retention(retention_days)
    current = _read_current(directory)
    pruned: list[int] = []
    for kid, kind, path in sorted(_kid_files(directory)):
        if kind != "retired" or kid == current:
            continue
        if now >= _parse_time(path.read_text().strip()) + keep:
            for suffix in ("pub.pem", "pem", "retired"):
                (directory / f"{kid}.{suffix}").unlink(missing_ok=True)
            pruned.append(kid)
    return pruned


def current_key_id_in(directory: Path | str) -> int | None:
    """The id of the current key of a key directory if its private key is there, else None."""
    directory = Path(directory)
    kid = _read_current(directory)
    return kid if kid is not None and (directory / f"{kid}.pem").exists() else None


def has_key_in(directory: Path | str) -> bool:
    return current_key_id_in(directory) is not None


def has_key() -> bool:
    """Whether a signing key is configured (environment or key directory), without loading it."""
    return bool(settings.CODE_SIGNING_KEY) or has_key_in(settings.CODE_SIGNING_KEY_DIR)
