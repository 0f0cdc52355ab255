"""Loading tablet snapshots from the store, so actors are rebuilt after a restart."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.rows import dict_row

from actors.messages import IncidentRef, Position, TabletConfig, TabletSnapshot
from actors.rules.health import HEALTH_KINDS
from actors.rules.hours import parse_hours
from config.errors import ConfigError
from config.health import DEFAULT_HEALTH, HealthPolicy

log = logging.getLogger(__name__)

SNAPSHOTS = """
SELECT t.tablet_id, t.fleet_id, t.car_id, t.heartbeat_interval_s, t.offline_after_s,
       f.alert_after_s, f.flap_limit, f.timezone, f.operating_hours, f.health_policy,
       s.state, s.state_since, s.last_heartbeat_at, s.boot_id, s.last_seq, s.recent_boots,
       s.desired_etag,
       s.applied_etag, s.uptime_until, s.battery, s.app_version, s.ad_id, s.campaign_id,
       s.lat, s.lon, s.position_at,
       i.incident_id, i.kind AS incident_kind, i.opened_at AS incident_opened_at,
       (SELECT array_agg(p.time ORDER BY p.time) FROM presence_transitions p
         WHERE p.tablet_id = t.tablet_id AND p.time > %(since)s AND p.from_state <> 'unknown')
         AS recent,
       (SELECT array_agg(ARRAY[h.incident_id::text, h.kind, h.opened_at::text])
          FROM incidents h
         WHERE h.tablet_id = t.tablet_id AND h.resolved_at IS NULL
           AND h.kind = ANY(%(health)s)) AS open_health
FROM tablets t
JOIN fleets f USING (fleet_id)
LEFT JOIN tablet_state s USING (tablet_id)
LEFT JOIN incidents i ON i.incident_id = s.open_incident_id AND i.resolved_at IS NULL
WHERE t.revoked_at IS NULL
  AND (%(ids)s::text[] IS NULL OR t.tablet_id = ANY(%(ids)s))
  AND (%(fleets)s::text[] IS NULL OR t.fleet_id = ANY(%(fleets)s))
"""


async def load_snapshots(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    tablet_ids: Sequence[str] | None = None,
    fleet_ids: Sequence[str] | None = None,
    health: HealthPolicy = DEFAULT_HEALTH,
) -> list[TabletSnapshot]:
    """The registered tablets' snapshots; ``health`` is the default policy each fleet's
    overrides apply to."""
    since = datetime.now(UTC) - timedelta(hours=1)
    params = {
        "health": list(HEALTH_KINDS),
        "since": since,
        "ids": list(tablet_ids) if tablet_ids is not None else None,
        "fleets": list(fleet_ids) if fleet_ids is not None else None,
    }
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(SNAPSHOTS, params)
        rows = await cur.fetchall()
    hours_cache: dict[tuple[str, str], object] = {}
    policies: dict[str, HealthPolicy] = {}
    out = []
    for r in rows:
        key = (r["timezone"], r["operating_hours"])
        hours = hours_cache.get(key) or parse_hours(r["operating_hours"], r["timezone"])
        hours_cache[key] = hours
        cfg = TabletConfig(
            tablet_id=r["tablet_id"],
            fleet_id=r["fleet_id"],
            car_id=r["car_id"],
            heartbeat_interval_s=r["heartbeat_interval_s"],
            offline_after_s=r["offline_after_s"],
            alert_after_s=r["alert_after_s"],
            flap_limit=r["flap_limit"],
            hours=hours,  # type: ignore[arg-type]
            health=_policy(policies, r["fleet_id"], r["health_policy"], health),
        )
        incident = (
            IncidentRef(str(r["incident_id"]), r["incident_kind"], r["incident_opened_at"])
            if r["incident_id"]
            else None
        )
        out.append(
            TabletSnapshot(
                config=cfg,
                state=r["state"] or "unknown",
                state_since=r["state_since"],
                last_heartbeat_at=r["last_heartbeat_at"],
                boot_id=r["boot_id"],
                last_seq=r["last_seq"],
                recent_boots=tuple((str(b), int(n)) for b, n in r["recent_boots"] or ()),
                desired_etag=r["desired_etag"],
                applied_etag=r["applied_etag"],
                uptime_until=r["uptime_until"],
                open_incident=incident,
                recent_transitions=tuple(r["recent"] or ()),
                battery=r["battery"],
                app_version=r["app_version"],
                ad_id=r["ad_id"],
                campaign_id=r["campaign_id"],
                open_health=tuple(
                    IncidentRef(ident, kind, datetime.fromisoformat(opened))
                    for ident, kind, opened in r["open_health"] or ()
                ),
                position=(
                    Position(r["lat"], r["lon"], r["position_at"])
                    if r["lat"] is not None and r["position_at"] is not None
                    else None
                ),
            )
        )
    return out


def _policy(
    cache: dict[str, HealthPolicy],
    fleet_id: str,
    overrides: Mapping[str, object],
    defaults: HealthPolicy,
) -> HealthPolicy:
    """The fleet's policy: the defaults with its overrides (an override the defaults no
    longer allow is left out, logged, rather than costing the fleet its tablets)."""
    if fleet_id not in cache:
        try:
            cache[fleet_id] = defaults.merged(overrides or {})
        except ConfigError as exc:
            log.warning("fleet %s: health policy ignored: %s", fleet_id, exc)
            cache[fleet_id] = defaults
    return cache[fleet_id]
