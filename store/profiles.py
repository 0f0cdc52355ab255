"""A panel user's own settings (``user_settings``): the time zone they want times shown in.

Without a choice the panel shows times in the zone of the user's fleets (when they share
one); the zones the user's scope holds are read with the session (store/web_sessions.py).
"""

from __future__ import annotations

import psycopg

from store.audit import record
from store.users import User

Conn = psycopg.AsyncConnection[tuple[object, ...]]

# The zones of the fleets a user sees: a fleet owner's own, every fleet of the tenant for
# the other roles (agents' leads come from any of them). ``u`` is the users row.
FLEET_ZONES = """
ARRAY(SELECT DISTINCT f.timezone FROM fleets f
      WHERE f.tenant_id = u.tenant_id
        AND (u.role <> 'fleet_owner' OR f.fleet_id IN (
             SELECT uf.fleet_id FROM user_fleets uf WHERE uf.user_id = u.user_id))
      ORDER BY 1)
"""
CHOSEN_ZONE = "(SELECT us.timezone FROM user_settings us WHERE us.user_id = u.user_id)"


async def set_timezone(conn: Conn, user: User, timezone: str | None) -> None:
    """Show this user's times in ``timezone`` (an IANA name the caller checked); None: the
    fleets' zone again."""
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO user_settings (user_id, timezone) VALUES (%s, %s)"
            " ON CONFLICT (user_id) DO UPDATE SET timezone = excluded.timezone",
            (user.user_id, timezone),
        )
        await record(
            conn,
            user.tenant_id,
            user.email,
            "profile.timezone",
            f"user:{user.email}",
            {"timezone": timezone},
        )
