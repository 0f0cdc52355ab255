"""Panel credentials: browser sessions with CSRF tokens, API bearer tokens (JWT).

A session cookie holds a random token; the store keeps only its SHA-256, the
user and a per-session CSRF token that every form posts back. API clients trade
an e-mail and password for a short-lived HS256 JWT bound to a session of its own
(``kind = 'api'``): the token names it (``sid``) and dies with it. The login form,
which has no session yet, carries a signed double-submit token (:func:`login_csrf`).
Sign-in throttling is web/auth/throttle.py.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from psycopg_pool import AsyncConnectionPool

from config.settings import Settings
from store import api_tokens, web_sessions
from store.users import User, verify_password, with_password_hash
from store.web_sessions import BrowserSession

SESSION_COOKIE = "fleethub_session"
JWT_ALGORITHM = "HS256"


def secret_key(settings: Settings) -> str:
    """The configured key, else one generated once under ``var_dir`` (local mode only)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    path = settings.var_dir / "panel.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(path, secrets.token_urlsafe(48))
    return path.read_text().strip()


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def authenticate(pool: AsyncConnectionPool, email: str, password: str) -> User | None:
    async with pool.connection() as conn:
        found = await with_password_hash(conn, email.strip().lower())
    if not verify_password(found[1] if found else None, password) or found is None:
        return None
    return found[0]


async def open_session(
    pool: AsyncConnectionPool, user: User, lifetime: timedelta, kind: str = "browser"
) -> str:
    """A new session of ``kind`` ('browser': a cookie; 'api': a bearer token's); its token."""
    token = secrets.token_urlsafe(32)
    async with pool.connection() as conn:
        await web_sessions.open_session(
            conn,
            _digest(token),
            user.user_id,
            secrets.token_urlsafe(24),
            datetime.now(UTC) + lifetime,
            kind,
        )
    return token


async def load_session(pool: AsyncConnectionPool, token: str) -> BrowserSession | None:
    """The session's user, CSRF token and time zones, or None when unknown or expired."""
    async with pool.connection() as conn:
        return await web_sessions.browser_session(conn, _digest(token))


async def close_session(pool: AsyncConnectionPool, token: str) -> None:
    async with pool.connection() as conn:
        await web_sessions.close_session(conn, _digest(token))


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def issue_token(user: User, key: str, minutes: int, session: str) -> str:
    """A bearer token for ``user``, bound to the API session ``session`` (see open_session)."""
    now = datetime.now(UTC)
    claims = {
        "sub": str(user.user_id),
        "tenant": user.tenant_id,
        "sid": session,
        "iat": now,
        "exp": now + timedelta(minutes=minutes),
    }
    return jwt.encode(claims, key, algorithm=JWT_ALGORITHM)


def token_claims(token: str, key: str) -> tuple[int, str] | None:
    """The user id and session of a valid, unexpired token; None otherwise."""
    try:
        claims = jwt.decode(
            token, key, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "sub", "sid"]}
        )
        return int(claims["sub"]), str(claims["sid"])
    except (jwt.PyJWTError, KeyError, ValueError):
        return None


PERSONAL_PREFIX = "fhp_"  # a personal API token (the profile page), not a JWT


def new_personal_token() -> tuple[str, str, str]:
    """A new personal API token: (token, its SHA-256 to store, its last 4 characters)."""
    token = PERSONAL_PREFIX + secrets.token_urlsafe(32)
    return token, _digest(token), token[-4:]


async def personal_token_user(pool: AsyncConnectionPool, token: str) -> User | None:
    """The user of a live personal API token."""
    async with pool.connection() as conn:
        return await api_tokens.user_of(conn, _digest(token))


async def load_api_session(pool: AsyncConnectionPool, user_id: int, session: str) -> User | None:
    """The user of a live API session (a bearer token's), None once it ended or expired."""
    async with pool.connection() as conn:
        return await web_sessions.api_session(conn, _digest(session), user_id)


# --- the login form's CSRF token (no session yet: a signed double-submit cookie) ---------------
LOGIN_CSRF_COOKIE = "fleethub_login_csrf"


def _login_csrf_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"fleethub login form v1", hashlib.sha256).digest()


def new_login_nonce() -> str:
    """The random value the login CSRF cookie holds."""
    return secrets.token_urlsafe(24)


def login_csrf(secret: str, nonce: str) -> str:
    """The form's token for the cookie's ``nonce``: only the panel, with its key, can make it."""
    return hmac.new(_login_csrf_key(secret), nonce.encode(), hashlib.sha256).hexdigest()


def login_csrf_ok(secret: str, nonce: str | None, given: str | None) -> bool:
    """The posted token matches the cookie the same browser got with the form."""
    if not nonce or not given or len(nonce) > 64 or len(given) > 128:
        return False
    return hmac.compare_digest(login_csrf(secret, nonce).encode(), given.encode())
