"""Personal API tokens: a signed-in user's bearer tokens for scripts (``api_tokens``).

The store keeps a token's SHA-256 (the caller's) and its last characters to tell tokens
apart; the token itself is shown once, when made. A token works until it is revoked or
expires, and only while its user is enabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from store.audit import record
from store.users import USER_COLUMNS, User, user_from_row

Conn = psycopg.AsyncConnection[tuple[object, ...]]
MAX_LIVE = 20  # live tokens per user


@dataclass(frozen=True, slots=True)
class ApiToken:
    token_id: int
    name: str
    hint: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def live(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class TooManyTokens(Exception):
    """The user already has :data:`MAX_LIVE` live tokens."""


async def create(
    conn: Conn, user: User, name: str, token_hash: str, hint: str, expires_at: datetime | None
) -> int:
    """Store a new token of ``user``; raises :class:`TooManyTokens` past the cap."""
    async with conn.transaction():
        await conn.execute("SELECT 1 FROM users WHERE user_id = %s FOR UPDATE", (user.user_id,))
        cur = await conn.execute(
            "SELECT count(*) FROM api_tokens WHERE user_id = %s AND revoked_at IS NULL"
            " AND (expires_at IS NULL OR expires_at > now())",
            (user.user_id,),
        )
        row = await cur.fetchone()
        if row is not None and int(str(row[0])) >= MAX_LIVE:
            raise TooManyTokens
        cur = await conn.execute(
            "INSERT INTO api_tokens (user_id, name, token_hash, hint, expires_at)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING token_id",
            (user.user_id, name, token_hash, hint, expires_at),
        )
        created = await cur.fetchone()
        assert created is not None
        token_id = int(str(created[0]))
        await record(
            conn,
            user.tenant_id,
            user.email,
            "api_token.create",
            f"user:{user.email}",
            {
                "token_id": token_id,
                "name": name,
                "expires_at": expires_at and expires_at.isoformat(),
            },
        )
    return token_id


async def tokens(conn: Conn, user: User) -> list[ApiToken]:
    """The user's tokens, newest first (revoked and expired ones too)."""
    async with conn.cursor(row_factory=class_row(ApiToken)) as cur:
        await cur.execute(
            "SELECT token_id, name, hint, created_at, expires_at, last_used_at, revoked_at"
            " FROM api_tokens WHERE user_id = %s ORDER BY created_at DESC, token_id DESC"
            " LIMIT 100",
            (user.user_id,),
        )
        return await cur.fetchall()


async def revoke(conn: Conn, user: User, token_id: int) -> bool:
    """End one of the user's tokens now; False when it is not theirs or already ended."""
    async with conn.transaction():
        cur = await conn.execute(
            "UPDATE api_tokens SET revoked_at = now()"
            " WHERE token_id = %s AND user_id = %s AND revoked_at IS NULL RETURNING name",
            (token_id, user.user_id),
        )
        row = await cur.fetchone()
        if row is None:
            return False
        await record(
            conn,
            user.tenant_id,
            user.email,
            "api_token.revoke",
            f"user:{user.email}",
            {"token_id": token_id, "name": str(row[0])},
        )
    return True


async def user_of(conn: Conn, token_hash: str) -> User | None:
    """The enabled user of a live token (and its last use noted, at most once a minute)."""
    await conn.execute(
        "UPDATE api_tokens t SET last_used_at = now()"
        " WHERE t.token_hash = %s AND t.revoked_at IS NULL"
        " AND (t.expires_at IS NULL OR t.expires_at > now())"
        " AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute')",
        (token_hash,),
    )
    found = await conn.execute(
        f"SELECT {USER_COLUMNS} FROM api_tokens t JOIN users u USING (user_id)"  # noqa: S608 - constant
        " WHERE t.token_hash = %s AND t.revoked_at IS NULL"
        " AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.disabled_at IS NULL",
        (token_hash,),
    )
    row = await found.fetchone()
    return None if row is None else user_from_row(row)
