"""The public lead form's CSRF token: signed, bound to its QR code, expiring, carrying a nonce.

An anonymous form has no session to hold a CSRF secret, so the page carries an HS256 token
(PyJWT) signed with a key derived from the panel's secret key (never the API tokens' key
itself, and with its own audience). The token names the QR code it was rendered for and a
fresh nonce; the nonce becomes the lead's ``submit_key``, so posting the same form twice
stores one lead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

AUDIENCE = "fleethub:lead-form"
ALGORITHM = "HS256"
LIFETIME = timedelta(hours=2)  # a ride is shorter; a stale page asks for a reload


@dataclass(frozen=True, slots=True)
class FormToken:
    code: str
    nonce: str


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"fleethub lead form v1", hashlib.sha256).digest()


def issue(secret: str, code: str, lifetime: timedelta = LIFETIME) -> str:
    now = datetime.now(UTC)
    claims = {
        "aud": AUDIENCE,
        "code": code,
        "nonce": secrets.token_urlsafe(18),
        "iat": now,
        "exp": now + lifetime,
    }
    return jwt.encode(claims, _key(secret), algorithm=ALGORITHM)


def verify(secret: str, token: str | None, code: str) -> FormToken | None:
    """The token's nonce when it is genuine, unexpired and made for ``code``; else None."""
    if not token or len(token) > 1024:
        return None
    try:
        claims = jwt.decode(
            token,
            _key(secret),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["exp", "aud", "code", "nonce"]},
        )
    except jwt.PyJWTError:
        return None
    nonce, bound = claims.get("nonce"), claims.get("code")
    if not isinstance(nonce, str) or not 16 <= len(nonce) <= 64 or bound != code:
        return None
    return FormToken(code, nonce)
