"""Signed webhooks: ``X-Fleethub-Signature: sha256=HMAC(secret, "{timestamp}.{body}")``.

The timestamp (``X-Fleethub-Timestamp``, Unix seconds) is signed with the body, so a receiver
that refuses timestamps older than a few minutes refuses a replayed request (docs/device-ops.md
shows the check).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOLERANCE_S = 300


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signed: str,
    now: float,
    tolerance_s: int = TOLERANCE_S,
) -> bool:
    """What a receiver checks: a fresh timestamp and a matching signature."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, ts, body), signed)
