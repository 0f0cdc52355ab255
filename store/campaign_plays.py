"""Proof of play attributed to campaigns: each stored play of a campaign (its ``campaign_id``
is one of the tablet's tenant's campaigns) gets the zone it happened in, whether it was
outside the campaign's targeting (``out_of_target``, not counted towards its goal), its H3
cell and its local hour and day in the campaign's zone (the rollups ``campaign_delivery`` and
``campaign_cells``, added in the same statement as the play: store/plays.py).

The position is the event's lat/lon, else the tablet's last fix (``tablet_state``). The rules
are the actors' (:meth:`actors.rules.targeting.CampaignRule.targets`): flight, dayparts in the
fleet's zone, fleets, zones. Plays of ids that are no campaign of the tenant (a playlist's
free-text campaign) get no marks. Parsed zones are kept by (zone, version).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import psycopg
import shapely
from shapely.geometry import shape

from actors.rules.dayparts import Daypart
from actors.rules.geo import cell_of
from actors.rules.targeting import CampaignRule

if TYPE_CHECKING:
    from store.plays import PlayRow

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class Mark:
    tenant_id: str
    zone_id: str | None
    out_of_target: bool
    h3_cell: str | None
    hour: datetime  # the start of the play's local hour in the campaign's zone
    day: date  # the play's local day there


@dataclass(frozen=True, slots=True)
class _Campaign:
    rule: CampaignRule
    timezone: str
    zones: tuple[tuple[str, Any], ...]  # (zone id, prepared geometry), by id


CAMPAIGNS = """
SELECT c.tenant_id, c.campaign_id, c.timezone, c.flight_start, c.flight_end, c.all_fleets,
       coalesce((SELECT array_agg(cf.fleet_id) FROM campaign_fleets cf
                 WHERE cf.tenant_id = c.tenant_id AND cf.campaign_id = c.campaign_id), '{}'),
       coalesce((SELECT json_agg(json_build_array(d.days, d.start_time, d.end_time)
                                 ORDER BY d.position)
                 FROM campaign_dayparts d
                 WHERE d.tenant_id = c.tenant_id AND d.campaign_id = c.campaign_id), '[]'),
       coalesce((SELECT json_agg(json_build_array(z.zone_id, z.version, z.geometry)
                                 ORDER BY z.zone_id)
                 FROM campaign_zones cz JOIN zones z
                   ON z.tenant_id = cz.tenant_id AND z.zone_id = cz.zone_id
                 WHERE cz.tenant_id = c.tenant_id AND cz.campaign_id = c.campaign_id), '[]')
FROM campaigns c
JOIN fleets f ON f.tenant_id = c.tenant_id
WHERE c.campaign_id = ANY(%(campaigns)s) AND f.fleet_id = ANY(%(fleets)s)
GROUP BY c.tenant_id, c.campaign_id
"""
FLEETS = "SELECT fleet_id, tenant_id, timezone FROM fleets WHERE fleet_id = ANY(%s)"
FIXES = "SELECT tablet_id, lat, lon FROM tablet_state WHERE tablet_id = ANY(%s) AND lat IS NOT NULL"


async def marks(conn: Conn, rows: Sequence[PlayRow]) -> list[Mark | None]:
    """One mark per row (None: not a campaign's play); one query when no row is a campaign's."""
    campaign_ids = sorted({r.event.campaign_id for r in rows})
    fleet_ids = sorted({r.fleet_id for r in rows})
    found = await (
        await conn.execute(CAMPAIGNS, {"campaigns": campaign_ids, "fleets": fleet_ids})
    ).fetchall()
    if not found:
        return [None] * len(rows)
    campaigns = {(str(r[0]), str(r[1])): _campaign(r) for r in found}
    fleets = {
        str(f): (str(t), str(tz))
        for f, t, tz in await (await conn.execute(FLEETS, (fleet_ids,))).fetchall()
    }
    wanted = sorted(
        {r.tablet_id for r in rows if r.event.lat is None and r.event.campaign_id in campaign_ids}
    )
    fixes = {
        str(t): (float(lat), float(lon))
        for t, lat, lon in await (await conn.execute(FIXES, (wanted,))).fetchall()
    }
    out: list[Mark | None] = []
    for row in rows:
        tenant, fleet_zone = fleets.get(row.fleet_id, ("", "UTC"))
        campaign = campaigns.get((tenant, row.event.campaign_id))
        out.append(None if campaign is None else _mark(row, tenant, fleet_zone, campaign, fixes))
    return out


def _mark(
    row: PlayRow,
    tenant: str,
    fleet_zone: str,
    campaign: _Campaign,
    fixes: dict[str, tuple[float, float]],
) -> Mark:
    e = row.event
    where = (e.lat, e.lon) if e.lat is not None and e.lon is not None else fixes.get(row.tablet_id)
    inside: frozenset[str] | None = None
    cell = None
    if where is not None:
        lat, lon = where
        inside = frozenset(z for z, geom in campaign.zones if shapely.intersects_xy(geom, lon, lat))
        cell = cell_of(lat, lon)
    targeted = campaign.rule.targets(e.started_at, row.fleet_id, fleet_zone, inside)
    local = e.started_at.astimezone(ZoneInfo(campaign.timezone))
    hour = local.replace(minute=0, second=0, microsecond=0)
    zone = min(inside) if inside else None
    return Mark(tenant, zone, not targeted, cell, hour, local.date())


def _campaign(row: Sequence[Any]) -> _Campaign:
    tenant, campaign_id, timezone, start, end, all_fleets, fleets, dayparts, zones = row
    parts = tuple(
        Daypart.of(
            None if days is None else [int(d) for d in days],
            None if s is None else datetime.strptime(s, "%H:%M:%S").time(),
            None if t is None else datetime.strptime(t, "%H:%M:%S").time(),
        )
        for days, s, t in dayparts
    )
    prepared = tuple(
        (str(zone_id), _prepared(tenant, str(zone_id), int(version), json.dumps(geometry)))
        for zone_id, version, geometry in zones
    )
    rule = CampaignRule(
        tenant_id=str(tenant),
        campaign_id=str(campaign_id),
        flight_start=start,
        flight_end=end,
        creatives=(),
        fleets=None if all_fleets else frozenset(str(f) for f in fleets),
        dayparts=parts,
        zones=frozenset(z for z, _ in prepared),
    )
    return _Campaign(rule, str(timezone), prepared)


@lru_cache(maxsize=4096)
def _prepared(tenant: str, zone_id: str, version: int, geometry: str) -> Any:
    """A zone's geometry, prepared; kept per (tenant, zone, version)."""
    del tenant, zone_id, version  # the key; the geometry is what they name
    geom = shape(json.loads(geometry))
    shapely.prepare(geom)
    return geom


def rollup_arrays(found: Sequence[Mark | None]) -> list[list[Any]]:
    """The marks as the store statement's arrays (NULL for plays of no campaign)."""
    columns: dict[str, list[Any]] = defaultdict(list)
    for m in found:
        columns["tenant"].append(None if m is None else m.tenant_id)
        columns["zone"].append(None if m is None else m.zone_id)
        columns["out"].append(None if m is None else m.out_of_target)
        columns["cell"].append(None if m is None else m.h3_cell)
        columns["hour"].append(None if m is None else m.hour)
        columns["day"].append(None if m is None else m.day)
    return [columns[k] for k in ("tenant", "zone", "out", "cell", "hour", "day")]
