"""Drivers sign in by a one-time link (``/signin/{token}``) that an admin or the fleet owner
makes and sends them (by chat or SMS; the panel shows it once).

The first link creates the driver's panel login: a user of role ``driver`` in the tenant,
with no password (nobody signs in with one) and an address of the reserved ``.invalid``
domain (the register has no e-mail); the register row points at it. A link works once,
until it expires; a newer link ends the older ones (:mod:`store.user_links`). Using it opens
a session like a password would; revoking access deactivates the login (its sessions end).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg

from billing.errors import BillingError
from store import user_links
from store.audit import record
from store.users import USER_COLUMNS, User, user_from_row

Conn = psycopg.AsyncConnection[Any]
LIFETIME = timedelta(hours=72)

DRIVER = """
SELECT d.name, d.user_id FROM drivers d WHERE d.driver_id = %s AND d.tenant_id = %s FOR UPDATE
"""
NEW_LOGIN = """
INSERT INTO users (tenant_id, email, name, role, password_hash)
VALUES (%s, %s, %s, 'driver', %s) RETURNING user_id
"""
LINK_LOGIN = "UPDATE drivers SET user_id = %s WHERE driver_id = %s"
ENABLE = "UPDATE users SET disabled_at = NULL, name = %s WHERE user_id = %s AND role = 'driver'"
DISABLE = "UPDATE users SET disabled_at = now() WHERE user_id = %s AND role = 'driver'"
END_SESSIONS = "DELETE FROM web_sessions WHERE user_id = %s"
END_LINKS = "DELETE FROM user_links WHERE user_id = %s AND used_at IS NULL"
SPEND = """
UPDATE user_links SET used_at = now()
WHERE token_hash = %s AND used_at IS NULL AND purpose = 'signin' RETURNING user_id
"""
USER = f"SELECT {USER_COLUMNS} FROM users u WHERE u.user_id = %s AND u.role = 'driver'"  # noqa: S608


def login_email(driver_id: int) -> str:
    return f"driver-{driver_id}@drivers.invalid"


async def issue(conn: Conn, tenant_id: str, driver_id: int, actor: str) -> str:
    """A new sign-in link's token for the driver (their login made or re-enabled); the
    caller has checked the driver is in its user's scope. LookupError: no such driver."""
    async with conn.transaction():
        row = await (await conn.execute(DRIVER, (driver_id, tenant_id))).fetchone()
        if row is None:
            raise LookupError(driver_id)
        name, user_id = str(row[0]), row[1]
        if user_id is None:
            cur = await conn.execute(
                NEW_LOGIN, (tenant_id, login_email(driver_id), name, user_links.NO_PASSWORD)
            )
            made = await cur.fetchone()
            assert made is not None
            user_id = int(str(made[0]))
            await conn.execute(LINK_LOGIN, (user_id, driver_id))
        else:
            await conn.execute(ENABLE, (name, user_id))
        token = await user_links.issue(conn, int(str(user_id)), "signin", actor, LIFETIME)
        await record(conn, tenant_id, actor, "driver.link", f"driver:{driver_id}", {"hours": 72})
    return token


async def revoke(conn: Conn, tenant_id: str, driver_id: int, actor: str) -> bool:
    """End the driver's access: their login deactivated, sessions and links ended. False
    when they had none."""
    async with conn.transaction():
        row = await (await conn.execute(DRIVER, (driver_id, tenant_id))).fetchone()
        if row is None:
            raise LookupError(driver_id)
        if row[1] is None:
            return False
        user_id = int(str(row[1]))
        await conn.execute(DISABLE, (user_id,))
        await conn.execute(END_SESSIONS, (user_id,))
        await conn.execute(END_LINKS, (user_id,))
        await record(conn, tenant_id, actor, "driver.revoke", f"driver:{driver_id}", {})
    return True


async def preview(conn: Conn, token: str) -> user_links.LinkUser | None:
    """Who a live sign-in link is for (the page asks them to confirm), None otherwise."""
    return await user_links.valid(conn, token, ("signin",))


async def use(conn: Conn, token: str) -> User:
    """Spend the link: the driver it signs in (BillingError: expired, used or revoked)."""
    gone = BillingError("this sign-in link has expired or was already used: ask for a new one")
    async with conn.transaction():
        found = await preview(conn, token)
        if found is None:
            raise gone
        if await (await conn.execute(SPEND, (user_links.digest(token),))).fetchone() is None:
            raise gone  # used at the same moment by another request
        row = await (await conn.execute(USER, (found.user_id,))).fetchone()
        if row is None:
            raise gone
        user = user_from_row(row)
        await record(conn, user.tenant_id, user.email, "driver.signin", f"user:{user.email}", {})
    return user
