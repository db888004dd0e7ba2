"""Verify an inspection code (检查码) with nothing but Python and the `cryptography` package.

usage: python verify_code.py JWKS TOKEN_OR_URL [NOW]
  JWKS          a file, or the https URL of <origin>/.well-known/jwks.json
  TOKEN_OR_URL  the token, or the whole URL read from the QR (either case)
  NOW           unix seconds to judge the validity window at (default: the current time)
Prints the fields and exits 0 for a genuine, current code; exits 1 with the reason otherwise.
"""

import base64
import json
import struct
import sys
import time
import urllib.request

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SKEW = 60  # seconds of clock difference tolerated at both ends of the window


def verify(jwks: dict, token: str, now: float) -> dict:
    token = token.strip().rstrip("/").rsplit("/", 1)[-1].upper()
    data = base64.b32decode(token + "=" * (-len(token) % 8))
    if base64.b32encode(data).decode().rstrip("=") != token or len(data) != 78 or data[0] != 1:
        raise ValueError("malformed token or unsupported version")
    _version, kid, code_id, not_before, lifetime = struct.unpack(">BB6sIH", data[:14])
    jwk = next((k for k in jwks["keys"] if k.get("kid") == str(kid) and k.get("crv") == "Ed25519"), None)
    if jwk is None:
        raise ValueError(f"unknown key id {kid}")
    x = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    Ed25519PublicKey.from_public_bytes(x).verify(data[14:], data[:14])  # raises InvalidSignature
    if not not_before - SKEW <= now < not_before + lifetime + SKEW:
        raise ValueError("outside its validity window: stale or not yet valid")
    return {
        "kid": kid,
        "code_id": int.from_bytes(code_id, "big"),
        "not_before": not_before,
        "lifetime": lifetime,
    }


if __name__ == "__main__":
    source, token = sys.argv[1], sys.argv[2]
    now = float(sys.argv[3]) if len(sys.argv) > 3 else time.time()
    if source.startswith("https://"):
        raw = urllib.request.urlopen(source, timeout=10).read()
    else:
        with open(source, "rb") as fh:
            raw = fh.read()
    try:
        print(json.dumps(verify(json.loads(raw), token, now)))
    except Exception as exc:  # any failure means the code is not valid; say why
        sys.exit(f"NOT VALID: {type(exc).__name__}: {exc}")
