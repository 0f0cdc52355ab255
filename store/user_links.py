"""One-time set-password links: an invited user's first password, a reset user's next one.

A link is ``/password/{token}``; the token is 32 random bytes (URL-safe base64), shown once
to the admin who made it. The store keeps its SHA-256 (``user_links``). It works once, until
it expires, for an enabled user; a newer link of the same user ends the older ones. Setting
the password ends every session of the user and is written to the audit log.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import psycopg

from config.errors import ConfigError
from store.audit import record
from store.users import HASHER, check_password

Conn = psycopg.AsyncConnection[tuple[object, ...]]
Purpose = Literal["invite", "reset", "signin"]  # signin: a driver's (store/driver_links.py)
LIFETIME = timedelta(days=7)
# What an invited or reset user's password hash is until they set one: no password
# verifies against it (argon2 refuses it as a hash), so nobody signs in with it.
NO_PASSWORD = "!unset"  # noqa: S105 - a marker, not a password


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(
    conn: Conn, user_id: int, purpose: Purpose, actor: str, lifetime: timedelta = LIFETIME
) -> str:
    """A new link's token for the user (in the caller's transaction); older links end."""
    token = secrets.token_urlsafe(32)
    await conn.execute("DELETE FROM user_links WHERE user_id = %s AND used_at IS NULL", (user_id,))
    await conn.execute(
        "INSERT INTO user_links (token_hash, user_id, purpose, created_by, expires_at)"
        " VALUES (%s, %s, %s, %s, now() + %s)",
        (digest(token), user_id, purpose, actor, lifetime),
    )
    return token


@dataclass(frozen=True, slots=True)
class LinkUser:
    user_id: int
    tenant_id: str
    email: str
    name: str
    purpose: Purpose
    expires_at: datetime


VALID = """
SELECT u.user_id, u.tenant_id, u.email, u.name, l.purpose, l.expires_at
FROM user_links l JOIN users u USING (user_id)
WHERE l.token_hash = %s AND l.used_at IS NULL AND l.expires_at > now()
  AND u.disabled_at IS NULL AND l.purpose = ANY(%s)
"""


async def valid(
    conn: Conn, token: str, purposes: tuple[Purpose, ...] = ("invite", "reset")
) -> LinkUser | None:
    """The user a live link of one of ``purposes`` is for; None when it is unknown, used,
    expired, of another purpose (a driver's sign-in link sets no password) or the user is
    deactivated."""
    if not 20 <= len(token) <= 64:
        return None
    row = await (await conn.execute(VALID, (digest(token), list(purposes)))).fetchone()
    if row is None:
        return None
    user_id, tenant_id, email, name, purpose, expires_at = row
    assert isinstance(expires_at, datetime)
    return LinkUser(int(str(user_id)), str(tenant_id), str(email), str(name), purpose, expires_at)  # type: ignore[arg-type]


async def set_password(conn: Conn, token: str, password: str) -> LinkUser:
    """Use the link: the user's new password, every session of theirs ended, the link spent.
    Raises ConfigError (the password refused, or the link no longer valid)."""
    async with conn.transaction():
        found = await valid(conn, token)
        if found is None:
            raise ConfigError(
                "this link has expired or was already used: ask an admin for a new one"
            )
        check_password(password, found.email, found.name)
        cur = await conn.execute(
            "UPDATE user_links SET used_at = now() WHERE token_hash = %s AND used_at IS NULL"
            " RETURNING 1",
            (digest(token),),
        )
        if await cur.fetchone() is None:  # used at the same moment by another request
            raise ConfigError("this link was already used: ask an admin for a new one")
        await conn.execute(
            "UPDATE users SET password_hash = %s WHERE user_id = %s",
            (HASHER.hash(password), found.user_id),
        )
        await conn.execute("DELETE FROM web_sessions WHERE user_id = %s", (found.user_id,))
        await record(
            conn,
            found.tenant_id,
            found.email,
            "user.password_set",
            f"user:{found.email}",
            {"link": found.purpose},
        )
    return found
