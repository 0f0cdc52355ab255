"""The running campaigns as the hub hands them to the tablet actors
(:class:`~actors.rules.targeting.Book`): each campaign's flight, fleets, dayparts, zones,
creatives (the pinned media versions as manifest items) and pacing multiplier, and the index
of every zone they target. Zone keys are ``tenant:zone`` (zone ids are per tenant).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import psycopg

from actors.rules.dayparts import Daypart
from actors.rules.geo import ZoneIndex
from actors.rules.targeting import Book, CampaignRule, Creative, Hysteresis

Conn = psycopg.AsyncConnection[Any]

RUNNING = """
SELECT c.tenant_id, c.campaign_id, c.flight_start, c.flight_end, c.priority, c.share_of_voice,
       c.all_fleets, coalesce(p.multiplier, 1.0)
FROM campaigns c
LEFT JOIN campaign_pacing p ON p.tenant_id = c.tenant_id AND p.campaign_id = c.campaign_id
WHERE c.status = 'running'
ORDER BY c.tenant_id, c.campaign_id
"""
FLEETS = "SELECT tenant_id, fleet_id FROM fleets WHERE tenant_id = ANY(%s)"
TARGETED_FLEETS = """
SELECT cf.tenant_id, cf.campaign_id, cf.fleet_id FROM campaign_fleets cf
JOIN campaigns c USING (tenant_id, campaign_id) WHERE c.status = 'running'
"""
DAYPARTS = """
SELECT d.tenant_id, d.campaign_id, d.days, d.start_time, d.end_time FROM campaign_dayparts d
JOIN campaigns c USING (tenant_id, campaign_id) WHERE c.status = 'running'
ORDER BY d.position
"""
ZONES = """
SELECT cz.tenant_id, cz.campaign_id, z.zone_id, z.geometry FROM campaign_zones cz
JOIN campaigns c USING (tenant_id, campaign_id)
JOIN zones z ON z.tenant_id = cz.tenant_id AND z.zone_id = cz.zone_id
WHERE c.status = 'running'
"""
CREATIVES = """
SELECT cc.tenant_id, cc.campaign_id, cc.media_id, cc.media_version, v.sha256, v.bytes,
       coalesce(v.duration_ms, m.image_duration_ms)
FROM campaign_creatives cc
JOIN campaigns c USING (tenant_id, campaign_id)
JOIN media m ON m.tenant_id = cc.tenant_id AND m.media_id = cc.media_id
JOIN media_versions v ON v.tenant_id = cc.tenant_id AND v.media_id = cc.media_id
                     AND v.version = cc.media_version
WHERE c.status = 'running'
ORDER BY cc.position
"""


def zone_key(tenant_id: str, zone_id: str) -> str:
    return f"{tenant_id}:{zone_id}"


async def load(conn: Conn, origin: str, hysteresis: Hysteresis, version: int) -> Book:
    """The book of every running campaign; ``origin``: where manifests name library files."""
    fleets: dict[tuple[str, str], set[str]] = defaultdict(set)
    for tenant, campaign, fleet in await (await conn.execute(TARGETED_FLEETS)).fetchall():
        fleets[(tenant, campaign)].add(fleet)
    dayparts: dict[tuple[str, str], list[Daypart]] = defaultdict(list)
    for tenant, campaign, days, start, end in await (await conn.execute(DAYPARTS)).fetchall():
        picked = None if days is None else [int(d) for d in days]
        dayparts[(tenant, campaign)].append(Daypart.of(picked, start, end))
    zones: dict[tuple[str, str], set[str]] = defaultdict(set)
    shapes: dict[str, Any] = {}
    for tenant, campaign, zone_id, geometry in await (await conn.execute(ZONES)).fetchall():
        zkey = zone_key(tenant, zone_id)
        zones[(tenant, campaign)].add(zkey)
        shapes[zkey] = geometry
    creatives: dict[tuple[str, str], list[Creative]] = defaultdict(list)
    for tenant, campaign, media_id, version_no, sha, size, ms in await (
        await conn.execute(CREATIVES)
    ).fetchall():
        item = {
            "ad_id": media_id,
            "campaign_id": campaign,
            "url": f"{origin}/media/{sha}",
            "sha256": sha,
            "duration_ms": int(ms),
            "media_id": media_id,
            "media_version": int(version_no),
        }
        creatives[(tenant, campaign)].append(Creative(item, int(size)))
    rules: list[CampaignRule] = []
    for tenant, campaign, start, end, priority, sov, all_fleets, multiplier in await (
        await conn.execute(RUNNING)
    ).fetchall():
        ckey = (tenant, campaign)
        rules.append(
            CampaignRule(
                tenant_id=tenant,
                campaign_id=campaign,
                flight_start=start,
                flight_end=end,
                creatives=tuple(creatives[ckey]),
                priority=int(priority),
                share_of_voice=None if sov is None else int(sov),
                fleets=None if all_fleets else frozenset(fleets[ckey]),
                dayparts=tuple(dayparts[ckey]),
                zones=frozenset(zones[ckey]),
                multiplier=float(multiplier),
            )
        )
    tenants = sorted({r.tenant_id for r in rules})
    by_fleet: dict[str, list[CampaignRule]] = defaultdict(list)
    for tenant, fleet in await (await conn.execute(FLEETS, (tenants,))).fetchall():
        for r in rules:
            if r.tenant_id == tenant and (r.fleets is None or fleet in r.fleets):
                by_fleet[fleet].append(r)
    index = ZoneIndex.of(shapes.items()) if shapes else None
    return Book.of({f: tuple(rs) for f, rs in by_fleet.items()}, index, hysteresis, version)
