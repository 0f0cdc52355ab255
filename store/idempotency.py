"""Idempotency keys of the device API: the first answer to ``(scope, key)``, kept 24 h.

A request :func:`begin`\\ s its key: the first one takes it (an answer still to come), a
retry of the same request (the same body hash) gets the stored answer, a different
request under the same key a mismatch, and one that comes while the first is still in
progress is told so. The first request then :func:`finish`\\ es it with its answer, or
:func:`release`\\ s it when it failed, so that a retry runs again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import psycopg

Conn = psycopg.AsyncConnection[Any]
KEEP = timedelta(hours=24)
ABANDONED = timedelta(minutes=1)  # a first request still unanswered after this has died

TAKE = """
WITH gone AS (  -- past its 24 h, or left in progress for a minute (its request died)
    DELETE FROM device_idempotency
    WHERE scope = %(scope)s AND key = %(key)s
      AND (expires_at < now()
           OR (status IS NULL AND expires_at < now() + %(keep)s - %(abandoned)s))
)
INSERT INTO device_idempotency (scope, key, request_hash, expires_at)
VALUES (%(scope)s, %(key)s, %(hash)s, now() + %(keep)s)
ON CONFLICT (scope, key) DO NOTHING
RETURNING 1
"""
READ = (
    "SELECT request_hash, status, answer FROM device_idempotency"
    " WHERE scope = %s AND key = %s AND expires_at >= now()"
)
FINISH = "UPDATE device_idempotency SET status = %s, answer = %s WHERE scope = %s AND key = %s"
RELEASE = "DELETE FROM device_idempotency WHERE scope = %s AND key = %s AND status IS NULL"
PURGE = "DELETE FROM device_idempotency WHERE expires_at < now()"


@dataclass(frozen=True, slots=True)
class Begun:
    outcome: Literal["first", "replay", "mismatch", "in_progress"]
    status: int | None = None
    answer: bytes | None = None


async def begin(conn: Conn, scope: str, key: str, request_hash: bytes) -> Begun:
    params = {
        "scope": scope,
        "key": key,
        "hash": request_hash,
        "keep": KEEP,
        "abandoned": ABANDONED,
    }
    cur = await conn.execute(TAKE, params)
    if await cur.fetchone() is not None:
        return Begun("first")
    cur = await conn.execute(READ, (scope, key))
    row = await cur.fetchone()
    if row is None:  # it expired between the two statements: taken again next time
        return Begun("in_progress")
    stored_hash, status, answer = row
    if bytes(stored_hash) != request_hash:
        return Begun("mismatch")
    if status is None:
        return Begun("in_progress")
    return Begun("replay", int(status), bytes(answer))


async def finish(conn: Conn, scope: str, key: str, status: int, answer: bytes) -> None:
    await conn.execute(FINISH, (status, answer, scope, key))


async def release(conn: Conn, scope: str, key: str) -> None:
    await conn.execute(RELEASE, (scope, key))


async def purge(conn: Conn) -> int:
    """Forget answers past their 24 h (the hub's retention loop)."""
    cur = await conn.execute(PURGE)
    return cur.rowcount
