"""Tenants and panel users (``fleethub tenant add``, ``fleethub user add``).

Passwords are hashed with argon2id (argon2-cffi); a common or easily guessed one is
refused when it is set (zxcvbn: its lists of common passwords, words, names and
keyboard patterns). A fleet owner sees the fleets linked to them; an admin sees
every fleet of the tenant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from config.errors import ConfigError
from store.audit import record

Role = Literal["admin", "fleet_owner", "agent", "advertiser", "driver"]
# The roles an admin gives (CLI, panel); drivers come from the driver register instead.
ROLES: tuple[str, ...] = tuple(r for r in get_args(Role) if r != "driver")
TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD = 8
# zxcvbn's score: 0 and 1 are guessed in under a million tries (common passwords, a word
# with a digit, "Passw0rd!"); 2 and up are not.
MIN_PASSWORD_SCORE = 2

HASHER = PasswordHasher()
# Verified against when the e-mail is unknown, so both paths cost the same.
_DUMMY_HASH = HASHER.hash("not a password of anyone")


@dataclass(frozen=True, slots=True)
class User:
    user_id: int
    tenant_id: str
    email: str
    name: str
    role: Role
    # None: every fleet of the tenant (admins); else the fleets linked to the user.
    fleets: tuple[str, ...] | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def can_view_fleet(self) -> bool:
        return self.role in ("admin", "fleet_owner")


USER_COLUMNS = """
u.user_id, u.tenant_id, u.email, u.name, u.role,
CASE WHEN u.role = 'admin' THEN NULL
     ELSE coalesce((SELECT array_agg(uf.fleet_id ORDER BY uf.fleet_id) FROM user_fleets uf
                    WHERE uf.user_id = u.user_id), '{}') END AS fleets
"""


def user_from_row(row: tuple[object, ...]) -> User:
    user_id, tenant_id, email, name, role, fleets = row
    assert isinstance(fleets, list | None)
    return User(
        int(str(user_id)),
        str(tenant_id),
        str(email),
        str(name),
        role,  # type: ignore[arg-type]
        None if fleets is None else tuple(str(f) for f in fleets),
    )


async def add_tenant(
    conn: psycopg.AsyncConnection[tuple[object, ...]], tenant_id: str, name: str, actor: str
) -> bool:
    """Create a tenant (or rename it); True when created."""
    if not TENANT_ID.match(tenant_id):
        raise ConfigError(
            f"invalid tenant id {tenant_id!r}: lower-case letters, digits and '-' (a slug)"
        )
    async with conn.transaction():
        cur = await conn.execute(
            "INSERT INTO tenants (tenant_id, name) VALUES (%s, %s) ON CONFLICT (tenant_id)"
            " DO UPDATE SET name = excluded.name RETURNING (xmax = 0)",
            (tenant_id, name),
        )
        row = await cur.fetchone()
        created = bool(row and row[0])
        await record(
            conn,
            tenant_id,
            actor,
            "tenant.add" if created else "tenant.update",
            f"tenant:{tenant_id}",
            {"name": name},
        )
    return created


async def add_user(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    *,
    tenant_id: str,
    email: str,
    name: str,
    role: str,
    password: str,
    fleets: list[str],
    actor: str,
) -> int:
    """Create a user or reset their name, role, password and fleets; returns the user id."""
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise ConfigError(f"invalid e-mail {email!r}")
    if role not in ROLES:
        raise ConfigError(f"invalid role {role!r}: one of {', '.join(ROLES)}")
    check_password(password, email, name)
    async with conn.transaction():
        cur = await conn.execute("SELECT 1 FROM tenants WHERE tenant_id = %s", (tenant_id,))
        if await cur.fetchone() is None:
            raise ConfigError(f"no tenant {tenant_id!r}: create it with `fleethub tenant add`")
        cur = await conn.execute(
            "SELECT fleet_id FROM fleets WHERE tenant_id = %s AND fleet_id = ANY(%s)",
            (tenant_id, fleets),
        )
        owned = {str(r[0]) for r in await cur.fetchall()}
        if missing := sorted(set(fleets) - owned):
            raise ConfigError(f"tenant {tenant_id!r} has no fleet {', '.join(missing)}")
        cur = await conn.execute("SELECT tenant_id FROM users WHERE email = %s", (email,))
        other = await cur.fetchone()
        if other is not None and other[0] != tenant_id:
            raise ConfigError(f"{email} belongs to another tenant")
        cur = await conn.execute(
            "INSERT INTO users (tenant_id, email, name, role, password_hash)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (email) DO UPDATE SET name = excluded.name,"
            " role = excluded.role, password_hash = excluded.password_hash, disabled_at = NULL"
            " RETURNING user_id",
            (tenant_id, email, name, role, HASHER.hash(password)),
        )
        row = await cur.fetchone()
        assert row is not None
        user_id = int(str(row[0]))
        await conn.execute("DELETE FROM user_fleets WHERE user_id = %s", (user_id,))
        async with conn.cursor() as many:
            await many.executemany(
                "INSERT INTO user_fleets (user_id, fleet_id) VALUES (%s, %s)",
                [(user_id, f) for f in sorted(set(fleets))],
            )
        await conn.execute("DELETE FROM web_sessions WHERE user_id = %s", (user_id,))
        await record(
            conn,
            tenant_id,
            actor,
            "user.add",
            f"user:{email}",
            {"role": role, "fleets": sorted(set(fleets))},
        )
    return user_id


def check_password(password: str, *user_inputs: str) -> None:
    """Refuse a short, common or easily guessed password (ConfigError says why and what helps);
    ``user_inputs`` (the e-mail, the name) count as known to an attacker."""
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"the password needs at least {MIN_PASSWORD} characters")
    result = zxcvbn(password[:100], user_inputs=[u for u in user_inputs if u])
    if result["score"] < MIN_PASSWORD_SCORE:
        feedback = result["feedback"]
        why = feedback["warning"] or "This password is too easy to guess."
        hints = " ".join(feedback["suggestions"])
        raise ConfigError(f"the password is refused: {why} {hints}".strip())


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists."""
    try:
        return HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def with_password_hash(
    conn: psycopg.AsyncConnection[tuple[object, ...]], email: str
) -> tuple[User, str] | None:
    """The enabled user of this (normalised) e-mail and their password hash, for sign-in."""
    cur = await conn.execute(
        f"SELECT {USER_COLUMNS}, u.password_hash FROM users u"  # noqa: S608 - constant
        " WHERE u.email = %s AND u.disabled_at IS NULL",
        (email,),
    )
    row = await cur.fetchone()
    return None if row is None else (user_from_row(row[:-1]), str(row[-1]))


async def agent_id(conn: psycopg.AsyncConnection[tuple[object, ...]], email: str) -> int | None:
    """The user id of the enabled agent signing in with ``email`` (``fleethub agent``), if any."""
    cur = await conn.execute(
        "SELECT user_id FROM users WHERE email = %s AND role = 'agent' AND disabled_at IS NULL",
        (email.strip().lower(),),
    )
    row = await cur.fetchone()
    return None if row is None else int(str(row[0]))
