"""The panel's user management, per tenant: list, invite, change role and fleets, deactivate
and reactivate, reset.

An invited or reset user has no usable password until they open their one-time link
(:mod:`store.user_links`). Every change is one transaction with its audit row. An admin
cannot demote or deactivate themselves, nor leave the tenant without an active admin.
Deactivating ends the user's sessions (browser and API); reactivating an agent re-offers
the unassigned leads of their campaigns (:mod:`store.lead_reoffer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from config.errors import ConfigError
from store import lead_reoffer, user_links
from store.audit import record
from store.users import EMAIL, ROLES

Conn = psycopg.AsyncConnection[tuple[object, ...]]
MAX_NAME = 120


class EmailTaken(ConfigError):
    """The e-mail already signs in to fleethub (in this tenant or another)."""


@dataclass(frozen=True, slots=True)
class UserRow:
    user_id: int
    email: str
    name: str
    role: str
    fleets: list[str]
    created_at: datetime
    disabled_at: datetime | None
    has_password: bool
    link_purpose: str | None
    link_expires_at: datetime | None

    @property
    def status(self) -> str:
        if self.disabled_at is not None:
            return "deactivated"
        if not self.has_password:
            return "invited" if self.link_purpose == "invite" else "reset pending"
        return "active"


USERS = """
SELECT u.user_id, u.email, u.name, u.role,
       coalesce((SELECT array_agg(uf.fleet_id ORDER BY uf.fleet_id) FROM user_fleets uf
                 WHERE uf.user_id = u.user_id), '{}') AS fleets,
       u.created_at, u.disabled_at, u.password_hash <> %(unset)s AS has_password,
       l.purpose AS link_purpose, l.expires_at AS link_expires_at
FROM users u
LEFT JOIN LATERAL (SELECT purpose, expires_at FROM user_links x WHERE x.user_id = u.user_id
                   AND x.used_at IS NULL AND x.expires_at > now()
                   ORDER BY created_at DESC LIMIT 1) l ON true
WHERE u.tenant_id = %(tenant)s AND (%(user)s::bigint IS NULL OR u.user_id = %(user)s)
  AND u.role <> 'driver'  -- drivers are managed in the driver register (web/drivers)
ORDER BY u.disabled_at IS NOT NULL, u.role, u.email
"""


async def users(conn: Conn, tenant_id: str) -> list[UserRow]:
    async with conn.cursor(row_factory=class_row(UserRow)) as cur:
        await cur.execute(USERS, {"tenant": tenant_id, "user": None, "unset": _unset()})
        return await cur.fetchall()


async def user(conn: Conn, tenant_id: str, user_id: int) -> UserRow | None:
    """The user, when of the tenant."""
    async with conn.cursor(row_factory=class_row(UserRow)) as cur:
        await cur.execute(USERS, {"tenant": tenant_id, "user": user_id, "unset": _unset()})
        return await cur.fetchone()


def _unset() -> str:
    return user_links.NO_PASSWORD


def _check(email: str, name: str, role: str) -> None:
    if not EMAIL.match(email) or len(email) > 254:
        raise ConfigError(f"invalid e-mail {email!r}")
    if not 0 < len(name) <= MAX_NAME:
        raise ConfigError(f"a name has 1 to {MAX_NAME} characters")
    if role not in ROLES:
        raise ConfigError(f"invalid role {role!r}: one of {', '.join(ROLES)}")


async def _set_fleets(
    conn: Conn, tenant_id: str, user_id: int, role: str, fleets: list[str]
) -> list[str]:
    """The user's fleets (a fleet owner's; other roles have none): each of the tenant."""
    wanted = sorted(set(fleets)) if role == "fleet_owner" else []
    cur = await conn.execute(
        "SELECT fleet_id FROM fleets WHERE tenant_id = %s AND fleet_id = ANY(%s)",
        (tenant_id, wanted),
    )
    owned = {str(r[0]) for r in await cur.fetchall()}
    if missing := sorted(set(wanted) - owned):
        raise ConfigError(f"no fleet {', '.join(missing)}")
    await conn.execute("DELETE FROM user_fleets WHERE user_id = %s", (user_id,))
    async with conn.cursor() as many:
        await many.executemany(
            "INSERT INTO user_fleets (user_id, fleet_id) VALUES (%s, %s)",
            [(user_id, f) for f in wanted],
        )
    return wanted


async def invite(
    conn: Conn,
    tenant_id: str,
    *,
    email: str,
    name: str,
    role: str,
    fleets: list[str],
    actor: str,
) -> tuple[int, str]:
    """A new user without a password, and the token of their one-time set-password link."""
    email = email.strip().lower()
    name = name.strip() or email
    _check(email, name, role)
    async with conn.transaction():
        cur = await conn.execute(
            "INSERT INTO users (tenant_id, email, name, role, password_hash)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (email) DO NOTHING RETURNING user_id",
            (tenant_id, email, name, role, user_links.NO_PASSWORD),
        )
        row = await cur.fetchone()
        if row is None:
            raise EmailTaken("that e-mail already has an account: invite another one")
        user_id = int(str(row[0]))
        kept = await _set_fleets(conn, tenant_id, user_id, role, fleets)
        token = await user_links.issue(conn, user_id, "invite", actor)
        await record(
            conn, tenant_id, actor, "user.invite", f"user:{email}", {"role": role, "fleets": kept}
        )
    return user_id, token


async def _locked(conn: Conn, tenant_id: str, user_id: int) -> tuple[str, str, bool] | None:
    cur = await conn.execute(
        "SELECT email, role, disabled_at IS NULL FROM users WHERE tenant_id = %s AND user_id = %s"
        " FOR UPDATE",
        (tenant_id, user_id),
    )
    row = await cur.fetchone()
    return None if row is None else (str(row[0]), str(row[1]), bool(row[2]))


async def _another_admin(conn: Conn, tenant_id: str, user_id: int) -> bool:
    cur = await conn.execute(
        "SELECT 1 FROM users WHERE tenant_id = %s AND user_id <> %s AND role = 'admin'"
        " AND disabled_at IS NULL LIMIT 1",
        (tenant_id, user_id),
    )
    return await cur.fetchone() is not None


async def update(
    conn: Conn,
    tenant_id: str,
    user_id: int,
    *,
    name: str,
    role: str,
    fleets: list[str],
    actor: str,
    by_user_id: int,
) -> bool:
    """Change the user's name, role and (a fleet owner's) fleets; False when not of the
    tenant."""
    name = name.strip()
    async with conn.transaction():
        found = await _locked(conn, tenant_id, user_id)
        if found is None:
            return False
        email, old_role, _ = found
        _check(email, name, role)
        if old_role == "admin" and role != "admin":
            if user_id == by_user_id:
                raise ConfigError("you cannot take the admin role from yourself")
            if not await _another_admin(conn, tenant_id, user_id):
                raise ConfigError("the tenant needs at least one active admin")
        await conn.execute(
            "UPDATE users SET name = %s, role = %s WHERE user_id = %s", (name, role, user_id)
        )
        kept = await _set_fleets(conn, tenant_id, user_id, role, fleets)
        await record(
            conn,
            tenant_id,
            actor,
            "user.update",
            f"user:{email}",
            {"name": name, "role": role, "from_role": old_role, "fleets": kept},
        )
    return True


async def set_active(
    conn: Conn, tenant_id: str, user_id: int, active: bool, *, actor: str, by_user_id: int
) -> str | None:
    """Deactivate (sessions end) or reactivate the user; their e-mail, None when not of the
    tenant. Reactivating an agent re-offers the unassigned leads of their campaigns."""
    async with conn.transaction():
        found = await _locked(conn, tenant_id, user_id)
        if found is None:
            return None
        email, role, was_active = found
        if not active and user_id == by_user_id:
            raise ConfigError("you cannot deactivate yourself")
        if not active and role == "admin" and not await _another_admin(conn, tenant_id, user_id):
            raise ConfigError("the tenant needs at least one active admin")
        if active == was_active:
            return email
        await conn.execute(
            "UPDATE users SET disabled_at = CASE WHEN %s THEN NULL ELSE now() END"
            " WHERE user_id = %s",
            (active, user_id),
        )
        if not active:
            await conn.execute("DELETE FROM web_sessions WHERE user_id = %s", (user_id,))
        action = "user.reactivate" if active else "user.deactivate"
        await record(conn, tenant_id, actor, action, f"user:{email}", {"role": role})
        if active and role == "agent":
            await lead_reoffer.agent_back(conn, tenant_id, user_id, actor)
    return email


async def reset(conn: Conn, tenant_id: str, user_id: int, *, actor: str) -> tuple[str, str] | None:
    """End the user's password and sessions; (their e-mail, the token of a one-time link to
    set a new one). None when not of the tenant; a deactivated user is refused."""
    async with conn.transaction():
        found = await _locked(conn, tenant_id, user_id)
        if found is None:
            return None
        email, _, active = found
        if not active:
            raise ConfigError(f"{email} is deactivated: reactivate them first")
        await conn.execute(
            "UPDATE users SET password_hash = %s WHERE user_id = %s",
            (user_links.NO_PASSWORD, user_id),
        )
        await conn.execute("DELETE FROM web_sessions WHERE user_id = %s", (user_id,))
        token = await user_links.issue(conn, user_id, "reset", actor)
        await record(conn, tenant_id, actor, "user.reset", f"user:{email}", {})
    return email, token
