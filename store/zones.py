"""Named zones (``zones``): a tenant's polygons, reusable across its campaigns.

The geometry is stored as validated (actors/rules/geo.py); a change bumps ``version``, is
audited and wakes the hubs (``NOTIFY fleethub_campaigns``) so that tablets in a running
campaign's zone are re-evaluated against the new shape. A zone a campaign targets cannot be
deleted (the store refuses it).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from actors.rules.geo import ZoneShape
from config.errors import ConfigError
from store.audit import record

Conn = psycopg.AsyncConnection[Any]
CHANNEL = "fleethub_campaigns"
MAX_NAME = 120


@dataclass(frozen=True, slots=True)
class Zone:
    zone_id: str
    name: str
    geometry: dict[str, Any]
    vertices: int
    area_km2: float
    source: str
    version: int
    created_by: str
    updated_at: datetime
    campaigns: list[str]  # the campaigns targeting it (of the advertiser, when one is given)


LIST = """
SELECT z.zone_id, z.name, z.geometry, z.vertices, z.area_km2, z.source, z.version, z.created_by,
       z.updated_at,
       coalesce((SELECT array_agg(cz.campaign_id ORDER BY cz.campaign_id) FROM campaign_zones cz
                 JOIN campaigns c USING (tenant_id, campaign_id)
                 WHERE cz.tenant_id = z.tenant_id AND cz.zone_id = z.zone_id
                   AND (%(advertiser)s::text IS NULL OR c.advertiser_id = %(advertiser)s)),
                '{}') AS campaigns
FROM zones z
WHERE z.tenant_id = %(tenant)s AND (%(id)s::text IS NULL OR z.zone_id = %(id)s)
ORDER BY z.name
"""


def new_zone_id() -> str:
    return "z-" + secrets.token_hex(6)


def _name(name: str) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= MAX_NAME:
        raise ConfigError(f"a zone's name is 1 to {MAX_NAME} characters")
    return name


async def listing(
    conn: Conn, tenant_id: str, zone_id: str | None = None, advertiser_id: str | None = None
) -> list[Zone]:
    """The tenant's zones (every user of the tenant may see them: zones are shared), each with
    the campaigns targeting it: only ``advertiser_id``'s when given (an advertiser user sees no
    other advertiser's campaigns)."""
    params = {"tenant": tenant_id, "id": zone_id, "advertiser": advertiser_id}
    async with conn.cursor(row_factory=class_row(Zone)) as cur:
        await cur.execute(LIST, params)
        return await cur.fetchall()


async def one(
    conn: Conn, tenant_id: str, zone_id: str, advertiser_id: str | None = None
) -> Zone | None:
    found = await listing(conn, tenant_id, zone_id, advertiser_id)
    return found[0] if found else None


async def _name_taken(conn: Conn, tenant_id: str, name: str, zone_id: str | None) -> bool:
    cur = await conn.execute(
        "SELECT 1 FROM zones WHERE tenant_id = %s AND name = %s AND zone_id IS DISTINCT FROM %s",
        (tenant_id, name, zone_id),
    )
    return await cur.fetchone() is not None


async def add(
    conn: Conn, tenant_id: str, name: str, zone: ZoneShape, source: str, actor: str
) -> str:
    """A new zone (audited); its id."""
    name = _name(name)
    zone_id = new_zone_id()
    async with conn.transaction():
        if await _name_taken(conn, tenant_id, name, None):
            raise ConfigError(f"a zone named {name!r} exists already: choose another name")
        await conn.execute(
            "INSERT INTO zones (tenant_id, zone_id, name, geometry, vertices, area_km2, source,"
            " created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                tenant_id,
                zone_id,
                name,
                Jsonb(zone.geometry),
                zone.vertices,
                zone.area_km2,
                source,
                actor,
            ),
        )
        await record(
            conn,
            tenant_id,
            actor,
            "zone.add",
            f"zone:{zone_id}",
            {"name": name, "source": source, "vertices": zone.vertices, "area_km2": zone.area_km2},
        )
    return zone_id


async def update(
    conn: Conn, tenant_id: str, zone_id: str, name: str, zone: ZoneShape | None, actor: str
) -> bool:
    """Rename the zone and, given ``zone``, replace its shape (audited); False when the
    tenant has no such zone."""
    name = _name(name)
    async with conn.transaction():
        if await _name_taken(conn, tenant_id, name, zone_id):
            raise ConfigError(f"a zone named {name!r} exists already: choose another name")
        if zone is None:
            cur = await conn.execute(
                "UPDATE zones SET name = %s, updated_at = now()"
                " WHERE tenant_id = %s AND zone_id = %s RETURNING version",
                (name, tenant_id, zone_id),
            )
        else:
            cur = await conn.execute(
                "UPDATE zones SET name = %s, geometry = %s, vertices = %s, area_km2 = %s,"
                " version = version + 1, updated_at = now()"
                " WHERE tenant_id = %s AND zone_id = %s RETURNING version",
                (name, Jsonb(zone.geometry), zone.vertices, zone.area_km2, tenant_id, zone_id),
            )
        row = await cur.fetchone()
        if row is None:
            return False
        details: dict[str, Any] = {"name": name, "version": row[0]}
        if zone is not None:
            details |= {"vertices": zone.vertices, "area_km2": zone.area_km2}
        await record(conn, tenant_id, actor, "zone.update", f"zone:{zone_id}", details)
        await conn.execute("SELECT pg_notify(%s, 'zones')", (CHANNEL,))
    return True


async def delete(conn: Conn, tenant_id: str, zone_id: str, actor: str) -> bool:
    """Delete a zone no campaign targets (audited); False when there is no such zone."""
    async with conn.transaction():
        found = await one(conn, tenant_id, zone_id)
        if found is None:
            return False
        if found.campaigns:
            raise ConfigError(
                f"the zone is targeted by {', '.join(found.campaigns)}: remove it from them first"
            )
        await conn.execute(
            "DELETE FROM zones WHERE tenant_id = %s AND zone_id = %s", (tenant_id, zone_id)
        )
        await record(conn, tenant_id, actor, "zone.delete", f"zone:{zone_id}", {"name": found.name})
    return True


async def by_name(conn: Conn, tenant_id: str, name: str) -> str | None:
    cur = await conn.execute(
        "SELECT zone_id FROM zones WHERE tenant_id = %s AND name = %s", (tenant_id, name)
    )
    row = await cur.fetchone()
    return None if row is None else str(row[0])
