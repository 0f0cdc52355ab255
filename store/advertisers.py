"""Advertiser accounts (``advertisers``) and the advertiser users acting for each
(``user_advertisers``): an advertiser user sees its account's campaigns only (docs/campaigns.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import class_row

from config.errors import ConfigError
from store.audit import record

Conn = psycopg.AsyncConnection[Any]
ADVERTISER_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True, slots=True)
class Advertiser:
    advertiser_id: str
    name: str
    users: list[str]  # the e-mails of the advertiser users acting for it
    campaigns: int


LIST = """
SELECT a.advertiser_id, a.name,
       coalesce((SELECT array_agg(u.email ORDER BY u.email) FROM user_advertisers ua
                 JOIN users u ON u.user_id = ua.user_id
                 WHERE ua.tenant_id = a.tenant_id AND ua.advertiser_id = a.advertiser_id),
                '{}') AS users,
       (SELECT count(*) FROM campaigns c
        WHERE c.tenant_id = a.tenant_id AND c.advertiser_id = a.advertiser_id) AS campaigns
FROM advertisers a
WHERE a.tenant_id = %(tenant)s AND (%(id)s::text IS NULL OR a.advertiser_id = %(id)s)
ORDER BY a.name, a.advertiser_id
"""


async def listing(conn: Conn, tenant_id: str, advertiser_id: str | None = None) -> list[Advertiser]:
    async with conn.cursor(row_factory=class_row(Advertiser)) as cur:
        await cur.execute(LIST, {"tenant": tenant_id, "id": advertiser_id})
        return await cur.fetchall()


async def one(conn: Conn, tenant_id: str, advertiser_id: str) -> Advertiser | None:
    found = await listing(conn, tenant_id, advertiser_id)
    return found[0] if found else None


async def add(conn: Conn, tenant_id: str, advertiser_id: str, name: str, actor: str) -> bool:
    """Create the account (or rename it); True when created. Audited."""
    if not ADVERTISER_ID.match(advertiser_id):
        raise ConfigError(
            f"invalid advertiser id {advertiser_id!r}: lower-case letters, digits and '-'"
        )
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise ConfigError("an advertiser's name is 1 to 200 characters")
    async with conn.transaction():
        cur = await conn.execute(
            "INSERT INTO advertisers (tenant_id, advertiser_id, name, created_by)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (tenant_id, advertiser_id)"
            " DO UPDATE SET name = excluded.name RETURNING (xmax = 0)",
            (tenant_id, advertiser_id, name, actor),
        )
        row = await cur.fetchone()
        created = bool(row and row[0])
        await record(
            conn,
            tenant_id,
            actor,
            "advertiser.add" if created else "advertiser.rename",
            f"advertiser:{advertiser_id}",
            {"name": name},
        )
    return created


async def link_user(conn: Conn, tenant_id: str, advertiser_id: str, email: str, actor: str) -> None:
    """Make the tenant's advertiser user ``email`` act for the account (audited)."""
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT user_id, role FROM users WHERE tenant_id = %s AND email = %s",
            (tenant_id, email.strip().lower()),
        )
        row = await cur.fetchone()
        if row is None:
            raise ConfigError("no user with that e-mail in this tenant")
        if row[1] != "advertiser":
            raise ConfigError(f"that user is not an advertiser user (role {row[1]})")
        if await one(conn, tenant_id, advertiser_id) is None:
            raise ConfigError(f"no advertiser {advertiser_id!r}")
        await conn.execute(
            "INSERT INTO user_advertisers (user_id, tenant_id, advertiser_id) VALUES (%s, %s, %s)"
            " ON CONFLICT (user_id) DO UPDATE SET tenant_id = excluded.tenant_id,"
            " advertiser_id = excluded.advertiser_id",
            (row[0], tenant_id, advertiser_id),
        )
        await record(
            conn,
            tenant_id,
            actor,
            "advertiser.link_user",
            f"advertiser:{advertiser_id}",
            {"email": email.strip().lower()},
        )


async def of_user(conn: Conn, user_id: int) -> str | None:
    """The account an advertiser user acts for (None: not linked to one)."""
    cur = await conn.execute(
        "SELECT advertiser_id FROM user_advertisers WHERE user_id = %s", (user_id,)
    )
    row = await cur.fetchone()
    return None if row is None else str(row[0])


async def advertiser_users(conn: Conn, tenant_id: str) -> list[tuple[str, str | None]]:
    """The tenant's advertiser users and the account each acts for."""
    cur = await conn.execute(
        "SELECT u.email, ua.advertiser_id FROM users u"
        " LEFT JOIN user_advertisers ua ON ua.user_id = u.user_id"
        " WHERE u.tenant_id = %s AND u.role = 'advertiser' AND u.disabled_at IS NULL"
        " ORDER BY u.email",
        (tenant_id,),
    )
    return [(str(e), None if a is None else str(a)) for e, a in await cur.fetchall()]
