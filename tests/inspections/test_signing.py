"""The signed inspection code token (F-22): format, signature, keys and rotation, JWKS, QR, the docs' verifier."""

import base64
import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import segno
import zxingcpp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from PIL import Image

from jianchama.inspections import signing
from jianchama.inspections.qr import qr_png, qr_svg
from jianchama.inspections.views.signing import jwks_view

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "inspection-code.md"
VERIFIER = ROOT / "docs" / "verify_code.py"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
NOW = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)

# The worked example of docs/inspection-code.md: a test key with seed 00 01 .. 1f, never used in production.
EXAMPLE_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
EXAMPLE_CODE_ID = 0x0123456789AB
EXAMPLE_TOKEN = (
    "AEAQCI2FM6E2W2NE5AMACLBMJHHKDBPCSLC2WKWKUTS6HARDJ6A6U2DSMFXX2CYWFVFUTRUR5RE553DAQ"
    "CG7ULBE2XKXXWUZF5ICEIQZJSY4HAWTXOKKX4CN7BSQ2"
)


def pem_of(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def forge(header: bytes, key: Ed25519PrivateKey) -> str:
    return base64.b32encode(header + key.sign(header)).decode().rstrip("=")


@pytest.fixture
def key_dir(tmp_path, settings):
    """A key directory of this test's own, for tests that rotate."""
    directory = tmp_path / "keys"
    settings.CODE_SIGNING_KEY_DIR = directory
    signing.clear_key_cache()
    return directory


# ---------------------------------------------------------------- the token


def test_round_trip():
    token = signing.issue_token(123_456_789_012, now=NOW, ttl_seconds=300)
    assert len(token) == signing.TOKEN_LENGTH == 125
    assert re.fullmatch(signing.TOKEN_PATTERN, token)
    claims = signing.read_token(token)
    assert claims == signing.TokenClaims(
        version=1,
        key_id=signing.current_key_id_in(signing.settings.CODE_SIGNING_KEY_DIR),
        code_id=123_456_789_012,
        not_before=NOW,
        not_after=NOW + timedelta(seconds=300),
    )
    assert claims.not_before.tzinfo is not None


def test_default_lifetime_comes_from_settings(settings):
    settings.CODE_TOKEN_TTL_SECONDS = 180
    claims = signing.read_token(signing.issue_token(1, now=NOW))
    assert claims.not_after - claims.not_before == timedelta(seconds=180)


def test_token_is_read_in_either_case_and_out_of_either_url(settings):
    settings.CODE_BASE_URL = "https://jcm.sh.gov.cn"
    token = signing.issue_token(42)
    assert signing.read_token(token.lower()).code_id == 42
    assert signing.code_url(token) == f"https://jcm.sh.gov.cn/c/{token}"
    assert signing.qr_content(token) == f"HTTPS://JCM.SH.GOV.CN/C/{token}"
    for text in (
        signing.code_url(token),
        signing.qr_content(token),
        signing.qr_content(token).lower(),
        token,
    ):
        assert signing.read_token(signing.token_from_url(text)).code_id == 42


def test_code_id_and_lifetime_limits():
    assert signing.read_token(signing.issue_token(0)).code_id == 0
    assert signing.read_token(signing.issue_token(signing.MAX_CODE_ID)).code_id == 2**48 - 1
    for bad in (-1, 2**48):
        with pytest.raises(ValueError):
            signing.issue_token(bad)
    for ttl in (0, 65536):
        with pytest.raises(ValueError):
            signing.issue_token(1, ttl_seconds=ttl)
    with pytest.raises(ValueError):
        signing.issue_token(1, now=datetime(2026, 3, 2, 9, 30))  # naive: which zone would it be?


def test_window_status_tolerates_clock_skew():
    claims = signing.read_token(signing.issue_token(5, now=NOW, ttl_seconds=300))
    assert claims.window_status(NOW) == "current"
    assert claims.window_status(NOW - timedelta(seconds=60)) == "current"
    assert claims.window_status(NOW - timedelta(seconds=61)) == "early"
    assert claims.window_status(NOW + timedelta(seconds=359)) == "current"
    assert claims.window_status(NOW + timedelta(seconds=360)) == "stale"


def test_every_changed_character_is_refused():
    """No single-character change anywhere is accepted, including the last character's spare bit."""
    token = signing.issue_token(987_654_321, now=NOW)
    reasons = set()
    for position, original in enumerate(token):
        for replacement in ALPHABET.replace(original, ""):
            tampered = token[:position] + replacement + token[position + 1 :]
            with pytest.raises(signing.TokenError) as caught:
                signing.read_token(tampered)
            reasons.add(caught.value.reason)
    # The version field → unsupported_version, the key id → unknown_key, the rest → bad_signature, and a
    # non-zero spare bit or a changed length → malformed.
    assert reasons == {"malformed", "unsupported_version", "unknown_key", "bad_signature"}
    with pytest.raises(signing.TokenError) as caught:
        signing.read_token(token[:-1] + ALPHABET[ALPHABET.index(token[-1]) ^ 1])
    assert caught.value.reason == "malformed"


@pytest.mark.parametrize(
    "text",
    ["", "A" * 124, "A" * 126, "ABC", "!" * 125, "0" * 125, "AEAQ" + "=" * 4, " " * 10],
)
def test_malformed_text(text):
    with pytest.raises(signing.TokenError) as caught:
        signing.read_token(text)
    assert caught.value.reason in {"malformed", "unsupported_version"}


def test_wrong_length_and_version():
    token = signing.issue_token(7)
    data = base64.b32decode(token + "===")
    with pytest.raises(signing.TokenError) as caught:
        signing.read_token(base64.b32encode(data + b"\0\0").decode().rstrip("="))
    assert caught.value.reason == "malformed"
    with pytest.raises(signing.TokenError) as caught:
        signing.read_token(base64.b32encode(b"\x02" + data[1:]).decode().rstrip("="))
    assert caught.value.reason == "unsupported_version"


def test_unknown_key_and_foreign_signature():
    current = signing.read_token(signing.issue_token(1)).key_id
    intruder = Ed25519PrivateKey.generate()
    other_kid = current % 255 + 1
    header = (
        bytes([1, other_kid])
        + (99).to_bytes(6, "big")
        + int(NOW.timestamp()).to_bytes(4, "big")
        + b"\x01\x2c"
    )
    with pytest.raises(signing.TokenError) as caught:
        signing.read_token(forge(header, intruder))
    assert caught.value.reason == "unknown_key"
    # The right key id but someone else's key: a forgery.
    with pytest.raises(signing.TokenError) as caught:
        signing.read_token(forge(bytes([1, current]) + header[2:], intruder))
    assert caught.value.reason == "bad_signature"


# ---------------------------------------------------------------- keys


def test_no_key_is_improperly_configured(settings, tmp_path):
    settings.CODE_SIGNING_KEY_DIR = tmp_path / "nothing-here"
    signing.clear_key_cache()
    for call in (lambda: signing.issue_token(1), signing.jwks):
        with pytest.raises(ImproperlyConfigured, match="rotate_signing_key"):
            call()
    assert not signing.has_key()


def test_key_from_environment(settings, tmp_path):
    key = Ed25519PrivateKey.generate()
    settings.CODE_SIGNING_KEY = pem_of(key)
    settings.CODE_SIGNING_KEY_ID = "7"
    settings.CODE_SIGNING_KEY_DIR = tmp_path / "unused"
    signing.clear_key_cache()
    token = signing.issue_token(11, now=NOW)
    assert signing.read_token(token).key_id == 7
    assert base64.b32decode(token + "===")[14:] == key.sign(base64.b32decode(token + "===")[:14])
    assert [k["kid"] for k in signing.jwks()["keys"]] == ["7"]
    assert signing.has_key()

    # A PEM squeezed into one environment line with literal \n still loads; without an id one is derived.
    settings.CODE_SIGNING_KEY = pem_of(key).replace("\n", "\\n")
    settings.CODE_SIGNING_KEY_ID = ""
    derived = signing.derived_key_id(key.public_key())
    assert signing.read_token(signing.issue_token(11)).key_id == derived


@pytest.mark.parametrize(
    ("pem", "kid", "message"),
    [
        ("not a key", "1", "PEM"),
        (pem_of(ec.generate_private_key(ec.SECP256R1())), "1", "Ed25519"),
        (pem_of(Ed25519PrivateKey.generate()), "256", "CODE_SIGNING_KEY_ID"),
        (pem_of(Ed25519PrivateKey.generate()), "abc", "CODE_SIGNING_KEY_ID"),
    ],
)
def test_bad_environment_key(settings, pem, kid, message):
    settings.CODE_SIGNING_KEY = pem
    settings.CODE_SIGNING_KEY_ID = kid
    signing.clear_key_cache()
    with pytest.raises(ImproperlyConfigured, match=message):
        signing.issue_token(1)


def test_key_files_and_modes(key_dir):
    kid = signing.rotate_key(key_dir).new_kid
    assert (key_dir / "current").read_text().strip() == str(kid)
    assert (key_dir / f"{kid}.pem").stat().st_mode & 0o777 == 0o600
    assert (key_dir / f"{kid}.pub.pem").exists()
    assert not (key_dir / f"{kid}.retired").exists()
    assert sorted(p.name for p in key_dir.iterdir() if not p.name.startswith(".")) == [
        f"{kid}.pem",
        f"{kid}.pub.pem",
        "current",
    ]


def test_rotation_keeps_old_tokens_verifiable_until_retention_ends(key_dir, settings):
    settings.CODE_KEY_RETENTION_DAYS = 30
    rotated_at = datetime.now(UTC).replace(microsecond=0)
    first = signing.rotate_key(key_dir, now=rotated_at - timedelta(days=1)).new_kid
    old_token = signing.issue_token(1001, now=rotated_at - timedelta(minutes=1))
    assert signing.read_token(old_token).key_id == first

    result = signing.rotate_key(key_dir, now=rotated_at)
    second = result.new_kid
    assert second != first
    assert result.retired_kids == [first]
    assert not (key_dir / f"{first}.pem").exists()  # the retired private key is gone
    assert (key_dir / f"{first}.pub.pem").exists()
    assert datetime.fromisoformat((key_dir / f"{first}.retired").read_text().strip()) == rotated_at

    assert signing.read_token(old_token).key_id == first
    assert signing.read_token(signing.issue_token(1002)).key_id == second
    assert [k["kid"] for k in signing.jwks()["keys"]] == [str(second), str(first)]

    # Pruning inside the retention period keeps the old key; past it removes the old key's files.
    assert signing.prune_keys(key_dir, now=rotated_at + timedelta(days=29)) == []
    assert signing.prune_keys(key_dir, now=rotated_at + timedelta(days=30)) == [first]
    assert not (key_dir / f"{first}.pub.pem").exists()
    assert not (key_dir / f"{first}.retired").exists()
    assert [k["kid"] for k in signing.jwks()["keys"]] == [str(second)]
    with pytest.raises(signing.TokenError) as caught:
        signing.read_token(old_token)
    assert caught.value.reason == "unknown_key"


def test_retention_is_enforced_even_without_pruning(key_dir, settings):
    first = signing.rotate_key(key_dir, now=NOW).new_kid
    old_token = signing.issue_token(1, now=NOW)
    signing.rotate_key(key_dir, now=datetime.now(UTC) - timedelta(days=2))  # retired two days ago
    settings.CODE_KEY_RETENTION_DAYS = 3
    assert signing.read_token(old_token).key_id == first
    settings.CODE_KEY_RETENTION_DAYS = 1
    with pytest.raises(signing.TokenError) as caught:
        signing.read_token(old_token)
    assert caught.value.reason == "unknown_key"
    assert str(first) not in [k["kid"] for k in signing.jwks()["keys"]]


def test_a_key_retired_a_moment_ago_stays_published_whatever_the_retention(key_dir, settings):
    """CODE_KEY_RETENTION_DAYS=0 used to delete the key retired by the rotation itself, so every code shown
    in the minutes before read as forged. A retired key now stays published for a token's lifetime plus the
    clock skew at least."""
    settings.CODE_KEY_RETENTION_DAYS = 0
    settings.CODE_TOKEN_TTL_SECONDS = 300
    settings.FIELD_CODE_PREFETCH_HOURS = (
        0  # no field app's tokens signed ahead (tests/inspections/test_field.py)
    )
    rotated_at = datetime.now(UTC).replace(microsecond=0)
    first = signing.rotate_key(key_dir, now=rotated_at - timedelta(days=1)).new_kid
    shown = signing.issue_token(7, now=rotated_at - timedelta(seconds=10))

    result = signing.rotate_key(key_dir, now=rotated_at)
    assert result.retired_kids == [first] and result.pruned_kids == []
    assert (key_dir / f"{first}.pub.pem").exists()
    assert signing.read_token(shown).key_id == first
    assert str(first) in [k["kid"] for k in signing.jwks()["keys"]]
    call_command("rotate_signing_key", "--if-missing", stdout=io.StringIO())  # prunes: still too young
    assert signing.read_token(shown).key_id == first

    floor = timedelta(seconds=300 + signing.CLOCK_SKEW_SECONDS)
    ring = signing._keyring()
    assert first in ring.published(now=rotated_at + floor - timedelta(seconds=1))
    assert first not in ring.published(now=rotated_at + floor)
    assert signing.prune_keys(key_dir, now=rotated_at + floor - timedelta(seconds=1)) == []
    assert signing.prune_keys(key_dir, now=rotated_at + floor) == [first]


def test_key_ids_wrap_to_free_ids(key_dir, settings):
    settings.CODE_KEY_RETENTION_DAYS = 0  # retired keys go once a token's lifetime has passed
    (key_dir).mkdir()
    (key_dir / "current").write_text("254\n")
    kids = [signing.rotate_key(key_dir).new_kid for _ in range(3)]
    assert kids == [255, 1, 2]
    assert signing.read_token(signing.issue_token(3)).key_id == 2


def test_rotation_in_another_process_is_noticed(key_dir, settings):
    """A running server picks up a key rotated by the command in another process, without a restart."""
    first = signing.rotate_key(key_dir).new_kid
    assert signing.read_token(signing.issue_token(1)).key_id == first  # the key ring is now cached
    env = {**os.environ, "CODE_SIGNING_KEY_DIR": str(key_dir), "CODE_SIGNING_KEY": ""}
    env.pop("CODE_SIGNING_KEY_FILE", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "rotate_signing_key"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "密钥编号" in done.stdout
    second = signing.current_key_id_in(key_dir)
    assert second != first
    assert signing.read_token(signing.issue_token(2)).key_id == second


def test_command_if_missing_and_rotation(key_dir, settings):
    out = io.StringIO()
    call_command("rotate_signing_key", "--if-missing", stdout=out)
    first = signing.current_key_id_in(key_dir)
    assert first is not None
    assert f"密钥编号 {first}" in out.getvalue()

    out = io.StringIO()
    call_command("rotate_signing_key", "--if-missing", stdout=out)
    assert signing.current_key_id_in(key_dir) == first
    assert "已有签名密钥" in out.getvalue()

    out = io.StringIO()
    call_command("rotate_signing_key", stdout=out)
    second = signing.current_key_id_in(key_dir)
    assert second != first
    assert f"密钥编号 {second}" in out.getvalue()
    assert not (key_dir / f"{first}.pem").exists()
    assert (key_dir / f"{second}.pem").stat().st_mode & 0o777 == 0o600


def test_command_leaves_an_environment_key_alone(settings, key_dir):
    settings.CODE_SIGNING_KEY = pem_of(Ed25519PrivateKey.generate())
    out = io.StringIO()
    call_command("rotate_signing_key", "--if-missing", stdout=out)
    assert "CODE_SIGNING_KEY" in out.getvalue()
    assert not key_dir.exists()
    with pytest.raises(CommandError, match="CODE_SIGNING_KEY"):
        call_command("rotate_signing_key")


# ---------------------------------------------------------------- QR


def qr_version(content: str) -> int:
    return segno.make(content, error="q", boost_error=False).version


def test_qr_is_version_8_at_level_q_and_decodes_back(settings):
    settings.CODE_BASE_URL = "https://jcm.sh.gov.cn"
    token = signing.issue_token(signing.MAX_CODE_ID)
    content = signing.qr_content(token)
    symbol = segno.make(content, error="q", boost_error=False)
    assert symbol.mode == "alphanumeric"
    assert symbol.version <= 8

    decoded = zxingcpp.read_barcodes(
        Image.open(io.BytesIO(qr_png(content))), formats=zxingcpp.BarcodeFormat.QRCode
    )
    assert len(decoded) == 1
    assert decoded[0].format == zxingcpp.BarcodeFormat.QRCode
    assert decoded[0].text == content
    assert signing.read_token(signing.token_from_url(decoded[0].text)).code_id == signing.MAX_CODE_ID


def test_longest_origin_that_keeps_version_8(settings):
    """docs/inspection-code.md promises version 8 for origins of up to 29 characters."""
    token = signing.issue_token(1)
    settings.CODE_BASE_URL = "https://" + "a" * 14 + ".gov.cn"
    assert len(settings.CODE_BASE_URL) == 29
    assert qr_version(signing.qr_content(token)) == 8
    settings.CODE_BASE_URL = "https://" + "a" * 15 + ".gov.cn"
    assert qr_version(signing.qr_content(token)) == 9


def test_base_url_path_keeps_its_case(settings):
    settings.CODE_BASE_URL = "https://gov.example.cn/Jcm/"
    assert signing.qr_content("ABC") == "HTTPS://GOV.EXAMPLE.CN/Jcm/C/ABC"
    assert signing.code_url("ABC") == "https://gov.example.cn/Jcm/c/ABC"


def test_qr_svg_is_inline_and_sizable():
    svg = qr_svg("HTTPS://JCM.SH.GOV.CN/C/ABC", title="检查码")
    assert svg.startswith("<svg ")
    assert "<?xml" not in svg
    assert re.search(r'viewBox="0 0 (\d+) \1"', svg)
    assert not re.search(r"<svg[^>]*\swidth=", svg)
    assert "<title>检查码</title>" in svg


# ---------------------------------------------------------------- JWKS


def test_jwks_view(rf: RequestFactory):
    response = jwks_view(rf.get("/.well-known/jwks.json"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jwk-set+json"
    assert response["Cache-Control"] == "public, max-age=300"
    document = json.loads(response.content)
    [jwk] = document["keys"]
    assert set(jwk) == {"kty", "crv", "x", "kid", "use", "alg"}
    assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == ("OKP", "Ed25519", "sig", "EdDSA")
    assert "=" not in jwk["x"]
    assert len(base64.urlsafe_b64decode(jwk["x"] + "=")) == 32
    assert jwk["kid"] == str(signing.read_token(signing.issue_token(1)).key_id)
    assert "d" not in jwk  # never the private part

    assert jwks_view(rf.post("/.well-known/jwks.json")).status_code == 405


# ---------------------------------------------------------------- the docs


def run_verifier(jwks_file: Path, token: str, *now: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(VERIFIER), str(jwks_file), token, *now], capture_output=True, text=True
    )


def test_docs_verifier_accepts_a_genuine_token_and_rejects_a_tampered_one(tmp_path, settings):
    settings.CODE_BASE_URL = "https://jcm.sh.gov.cn"
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(signing.jwks()))
    token = signing.issue_token(314_159_265_358)

    done = run_verifier(jwks_file, signing.qr_content(token))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["code_id"] == 314_159_265_358

    tampered = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    done = run_verifier(jwks_file, tampered)
    assert done.returncode == 1
    assert "NOT VALID" in done.stderr

    stale = signing.issue_token(1, now=datetime.now(UTC) - timedelta(minutes=10))
    assert run_verifier(jwks_file, stale).returncode == 1


def test_docs_worked_example_is_real(tmp_path, settings):
    settings.CODE_SIGNING_KEY = pem_of(EXAMPLE_KEY)
    settings.CODE_SIGNING_KEY_ID = "1"
    settings.CODE_BASE_URL = "https://jcm.sh.gov.cn"
    signing.clear_key_cache()
    token = signing.issue_token(EXAMPLE_CODE_ID, now=NOW, ttl_seconds=300)
    assert token == EXAMPLE_TOKEN  # Ed25519 signatures are deterministic

    doc = DOC.read_text()
    assert pem_of(EXAMPLE_KEY).strip() in doc
    assert token in doc
    assert signing.qr_content(token) in doc
    assert json.dumps(signing.jwks()) in doc
    assert qr_version(signing.qr_content(token)) == 8
    # The snippet shown in the doc is the verifier's own code, not a copy that drifted.
    snippet = re.search(r"```python\n(.*?)```", doc, re.S)[1]
    assert snippet in VERIFIER.read_text()

    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(signing.jwks()))
    done = run_verifier(jwks_file, token, "1772415060")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "kid": 1,
        "code_id": 1250999896491,
        "not_before": 1772415000,
        "lifetime": 300,
    }
    assert run_verifier(jwks_file, token, str(1772415000 + 300 + 60)).returncode == 1


def test_a_key_made_by_another_process_verifies_at_once_on_the_scan_path(key_dir, monkeypatch):
    """read_token trusts a key ring read within KEY_RECHECK_SECONDS without looking at the directory; a token
    signed by a key made since (another process rotated, this one was not told) makes it look at once."""
    signing.rotate_key(key_dir)
    old = signing.issue_token(5, now=NOW)
    assert signing.read_token(old).code_id == 5  # the ring is now read and trusted for a second
    monkeypatch.setattr(signing, "clear_key_cache", lambda: None)  # as in another process: nobody tells us
    new_kid = signing.rotate_key(key_dir).new_kid
    monkeypatch.undo()
    ring = signing._load_keyring(key_dir)
    header = signing._HEADER.pack(
        signing.TOKEN_VERSION, new_kid, (6).to_bytes(6, "big"), int(NOW.timestamp()), 300
    )
    token = forge(header, ring.private_key)
    assert signing.read_token(token).key_id == new_kid
    assert signing.read_token(old).code_id == 5  # the retired key still verifies
