"""Panel sessions (``web_sessions``): a browser's cookie session with its CSRF token, or the
session an API bearer token is bound to (``kind = 'api'``).

The store keeps only a session token's hash (the caller's); a session of a disabled user,
or past ``expires_at``, is not found.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from store.users import USER_COLUMNS, User, user_from_row

Conn = psycopg.AsyncConnection[tuple[object, ...]]


async def open_session(
    conn: Conn, token_hash: str, user_id: int, csrf_token: str, expires_at: datetime, kind: str
) -> None:
    """A new session; the user's expired ones go (API clients rarely sign out; each token
    has one)."""
    await conn.execute(
        "DELETE FROM web_sessions WHERE user_id = %s AND expires_at < now()", (user_id,)
    )
    await conn.execute(
        "INSERT INTO web_sessions (token_hash, user_id, csrf_token, expires_at, kind)"
        " VALUES (%s, %s, %s, %s, %s)",
        (token_hash, user_id, csrf_token, expires_at, kind),
    )


async def browser_session(conn: Conn, token_hash: str) -> tuple[User, str] | None:
    """A live browser session's user and CSRF token."""
    cur = await conn.execute(
        f"SELECT {USER_COLUMNS}, s.csrf_token FROM web_sessions s"  # noqa: S608 - constant
        " JOIN users u USING (user_id)"
        " WHERE s.token_hash = %s AND s.kind = 'browser' AND s.expires_at > now()"
        " AND u.disabled_at IS NULL",
        (token_hash,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return user_from_row(row[:-1]), str(row[-1])


async def close_session(conn: Conn, token_hash: str) -> None:
    """End the session (and every expired one)."""
    await conn.execute(
        "DELETE FROM web_sessions WHERE token_hash = %s OR expires_at < now()", (token_hash,)
    )


async def api_session(conn: Conn, token_hash: str, user_id: int) -> User | None:
    """The user of a live API session, when it is theirs."""
    cur = await conn.execute(
        f"SELECT {USER_COLUMNS} FROM web_sessions s"  # noqa: S608 - constant
        " JOIN users u USING (user_id)"
        " WHERE s.token_hash = %s AND s.kind = 'api' AND s.user_id = %s"
        " AND s.expires_at > now() AND u.disabled_at IS NULL",
        (token_hash, user_id),
    )
    row = await cur.fetchone()
    return None if row is None else user_from_row(row)
