"""Panel sessions (``web_sessions``): a browser's cookie session with its CSRF token, or the
session an API bearer token is bound to (``kind = 'api'``).

The store keeps only a session token's hash (the caller's); a session of a disabled user,
or past ``expires_at``, is not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from store.profiles import CHOSEN_ZONE, FLEET_ZONES
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


BROWSER_SESSION = f"""
SELECT {USER_COLUMNS}, s.csrf_token, {CHOSEN_ZONE}, {FLEET_ZONES}
FROM web_sessions s JOIN users u USING (user_id)
WHERE s.token_hash = %s AND s.kind = 'browser' AND s.expires_at > now()
  AND u.disabled_at IS NULL
"""  # noqa: S608 - constant fragments


@dataclass(frozen=True, slots=True)
class BrowserSession:
    user: User
    csrf: str
    zone_choice: str | None  # the time zone the user chose on their profile
    fleet_zones: tuple[str, ...]  # the zones of the fleets the user sees


async def browser_session(conn: Conn, token_hash: str) -> BrowserSession | None:
    """A live browser session's user, CSRF token and time zones."""
    cur = await conn.execute(BROWSER_SESSION, (token_hash,))
    row = await cur.fetchone()
    if row is None:
        return None
    *user, csrf, chosen, zones = row
    assert isinstance(zones, list)
    return BrowserSession(
        user_from_row(tuple(user)),
        str(csrf),
        None if chosen is None else str(chosen),
        tuple(str(z) for z in zones),
    )


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
