"""Desired playlists: assignments in the store resolved to one manifest per tablet.

An assignment targets a tablet, a car, a fleet or all tablets, with a priority
and a validity window. For each tablet the winner is the active assignment with
the highest priority (emergency over normal), then the most specific target,
then the newest. A tablet whose assignments all expired gets an empty manifest
so an expired emergency never keeps playing.

A normal assignment may also have a daypart (:mod:`actors.rules.dayparts`: weekdays and a
local time window, read in the timezone of the tablet's fleet). Outside its window
it does not compete, so the next assignment wins (or the empty manifest). The
manifest itself does not carry the daypart: the hub republishes at every window
edge, because :func:`next_expiry` returns the next edge as well as the next
``valid_from``/``valid_until``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.rows import dict_row

from actors.rules.dayparts import ALWAYS, Daypart
from config.errors import ConfigError
from contract.manifest import EMPTY_PLAYLIST_ID, Manifest, Priority, items_id, normalise
from contract.media import manifest_item
from contract.payloads import PlaylistItem
from store.audit import record

RESOLVE = """
SELECT DISTINCT ON (t.tablet_id)
       t.tablet_id, a.assignment_id, a.tenant_id, a.playlist_id, p.version, a.priority,
       a.valid_until, a.created_at
FROM tablets t
JOIN playlist_assignments a
  ON a.revoked_at IS NULL
 AND a.valid_from <= %(now)s AND (a.valid_until IS NULL OR a.valid_until > %(now)s)
 AND (   (a.target_kind = 'tablet' AND a.target_id = t.tablet_id)
      OR (a.target_kind = 'car' AND a.target_id = t.car_id)
      OR (a.target_kind = 'fleet' AND a.target_id = t.fleet_id)
      OR a.target_kind = 'all')
JOIN fleets f ON f.fleet_id = t.fleet_id AND f.tenant_id = a.tenant_id
JOIN playlists p ON p.tenant_id = a.tenant_id AND p.playlist_id = a.playlist_id
WHERE t.revoked_at IS NULL AND (%(ids)s::text[] IS NULL OR t.tablet_id = ANY(%(ids)s))
  AND (   (a.daypart_days IS NULL AND a.daypart_start IS NULL)
       OR fleethub_daypart_active(a.daypart_days, a.daypart_start, a.daypart_end, f.timezone,
                                  %(now)s))
ORDER BY t.tablet_id,
         (a.priority = 'emergency') DESC,
         CASE a.target_kind WHEN 'tablet' THEN 3 WHEN 'car' THEN 2 WHEN 'fleet' THEN 1 ELSE 0 END
             DESC,
         a.created_at DESC, a.assignment_id DESC
"""

DAYPART_LOOKAHEAD = timedelta(days=8)

# The next change of any live assignment: its start, its expiry, or an edge of its daypart
# in the timezone of each fleet it reaches (an 'all' assignment reaches every fleet of its
# tenant; a car or tablet the fleet of its tablets).
NEXT_CHANGE = """
WITH live AS (
    SELECT * FROM playlist_assignments
    WHERE revoked_at IS NULL AND (valid_until IS NULL OR valid_until > now())
), dayparted AS (
    SELECT DISTINCT a.daypart_days, a.daypart_start, a.daypart_end, a.valid_from,
           a.valid_until, f.timezone
    FROM live a
    JOIN fleets f ON f.tenant_id = a.tenant_id
    WHERE (a.daypart_days IS NOT NULL OR a.daypart_start IS NOT NULL)
      AND (   a.target_kind = 'all'
           OR (a.target_kind = 'fleet' AND a.target_id = f.fleet_id)
           OR (a.target_kind = 'tablet' AND EXISTS (
                   SELECT 1 FROM tablets t WHERE t.tablet_id = a.target_id
                                             AND t.fleet_id = f.fleet_id))
           OR (a.target_kind = 'car' AND EXISTS (
                   SELECT 1 FROM tablets t WHERE t.car_id = a.target_id
                                             AND t.fleet_id = f.fleet_id)))
)
SELECT min(at) FROM (
    SELECT valid_until AS at FROM live
    UNION ALL SELECT valid_from FROM live
    UNION ALL SELECT e.at
    FROM dayparted d
    CROSS JOIN LATERAL fleethub_daypart_edges(
        d.daypart_days, d.daypart_start, d.daypart_end, d.timezone,
        greatest(now(), d.valid_from), now() + %(lookahead)s) AS e(at)
    WHERE d.valid_until IS NULL OR e.at < d.valid_until
) s
WHERE at > now()
"""

# The items of the given (tenant, playlist) pairs: a playlist id names one playlist per tenant.
ITEMS = """
SELECT tenant_id, playlist_id, position, ad_id, campaign_id, url, sha256, duration_ms, media_id,
       media_version
FROM playlist_items
WHERE (tenant_id, playlist_id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
ORDER BY tenant_id, playlist_id, position
"""

TARGET_COUNT = """
SELECT count(*) FROM tablets t JOIN fleets f ON f.fleet_id = t.fleet_id
WHERE t.revoked_at IS NULL AND f.tenant_id = %(tenant)s AND (
       (%(kind)s = 'tablet' AND t.tablet_id = %(id)s)
    OR (%(kind)s = 'car' AND t.car_id = %(id)s)
    OR (%(kind)s = 'fleet' AND t.fleet_id = %(id)s)
    OR %(kind)s = 'all')
"""


# Content-addressed storage of a playlist within its tenant, shared by the CLI and the panel:
# the same items in two tenants are two playlists (of one id), never one shared row.
INSERT_PLAYLIST = (
    "INSERT INTO playlists (tenant_id, playlist_id, name) VALUES (%s, %s, %s)"
    " ON CONFLICT (tenant_id, playlist_id) DO NOTHING"
)
INSERT_ITEM = (
    "INSERT INTO playlist_items (tenant_id, playlist_id, position, ad_id, campaign_id, url,"
    " sha256, duration_ms, media_id, media_version) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (tenant_id, playlist_id, position) DO NOTHING"
)
INSERT_TENANT_PLAYLIST = (
    "INSERT INTO tenant_playlists (tenant_id, playlist_id, name) VALUES (%s, %s, %s)"
    " ON CONFLICT (tenant_id, playlist_id) DO NOTHING RETURNING playlist_id"
)


def item_rows(
    tenant_id: str, playlist_id: str, items: list[PlaylistItem]
) -> list[tuple[object, ...]]:
    return [
        (
            tenant_id,
            playlist_id,
            i.position,
            i.ad_id,
            i.campaign_id,
            i.url,
            i.sha256,
            i.duration_ms,
            getattr(i, "media_id", None),  # a library item's (contract/media.py)
            getattr(i, "media_version", None),
        )
        for i in items
    ]


@dataclass(frozen=True, slots=True)
class Target:
    kind: str
    id: str | None

    @classmethod
    def parse(cls, text: str) -> Target:
        if text == "all":
            return cls("all", None)
        kind, sep, ident = text.partition(":")
        if not sep or kind not in ("tablet", "car", "fleet") or not ident:
            raise ConfigError(f"invalid target {text!r}: use tablet:ID, car:ID, fleet:ID or all")
        return cls(kind, ident)

    def __str__(self) -> str:
        return "all" if self.id is None else f"{self.kind}:{self.id}"


TARGET_TENANTS = """
SELECT DISTINCT f.tenant_id FROM tablets t JOIN fleets f ON f.fleet_id = t.fleet_id
WHERE t.revoked_at IS NULL AND (   (%(kind)s = 'tablet' AND t.tablet_id = %(id)s)
                                OR (%(kind)s = 'car' AND t.car_id = %(id)s))
UNION
SELECT tenant_id FROM fleets WHERE %(kind)s = 'fleet' AND fleet_id = %(id)s
"""
TENANTS = "SELECT tenant_id FROM tenants ORDER BY tenant_id"


async def target_tenant(
    conn: psycopg.AsyncConnection[tuple[object, ...]], target: Target, tenant_id: str | None
) -> str:
    """The tenant a push to ``target`` belongs to (the operator's CLI): a tablet's, car's or
    fleet's own (ids are global); for ``all`` the one named, or the only one there is.
    ``tenant_id``, when given, must be that tenant."""
    if target.kind == "all":
        cur = await conn.execute(TENANTS)
        known = [str(r[0]) for r in await cur.fetchall()]
        if tenant_id is None:
            if len(known) != 1:
                raise ConfigError(f"--to all needs --tenant (one of: {', '.join(known)})")
            return known[0]
        if tenant_id not in known:
            raise ConfigError(f"no tenant {tenant_id!r}")
        return tenant_id
    cur = await conn.execute(TARGET_TENANTS, {"kind": target.kind, "id": target.id})
    owners = [str(r[0]) for r in await cur.fetchall()]
    if not owners:
        raise ConfigError(f"no registered tablet matches {target}")
    if tenant_id is None:
        return owners[0]  # one: a fleet, a car and a tablet are each in one tenant
    if tenant_id not in owners:
        raise ConfigError(f"{target} belongs to another tenant than {tenant_id}")
    return tenant_id


@dataclass(frozen=True, slots=True)
class PushResult:
    etag: str
    playlist_id: str
    targeted: int
    assignment_id: int


def empty_manifest(refresh_s: int) -> Manifest:
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return Manifest(EMPTY_PLAYLIST_ID, 1, "normal", epoch, None, refresh_s, ())


async def push(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    target: Target,
    items: list[PlaylistItem],
    *,
    emergency: bool,
    expires_s: int | None,
    reason: str | None,
    actor: str,
    refresh_s: int,
    now: datetime | None = None,
    tenant_id: str = "default",
    name: str | None = None,
    daypart: Daypart = ALWAYS,
) -> PushResult:
    """Store a playlist assignment (desired state) and wake the hub with ``NOTIFY``.

    ``daypart``: when a normal assignment competes (fleet local time; default: always).
    """
    if not items:
        raise ConfigError("a playlist needs at least one item")
    now = now or datetime.now(UTC)
    items = normalise(items)
    positions = [i.position for i in items]
    if len(set(positions)) != len(positions):
        raise ConfigError("item positions must be unique")
    playlist_id = items_id(items)
    priority: Priority = "emergency" if emergency else "normal"
    daypart.check_priority(priority)
    valid_until = now + timedelta(seconds=expires_s) if expires_s else None
    async with conn.transaction():
        targeted = await target_count(conn, tenant_id, target)
        if target.kind != "all" and targeted == 0:
            raise ConfigError(f"no registered tablet matches {target}")
        title = name or reason or playlist_id
        await conn.execute(INSERT_PLAYLIST, (tenant_id, playlist_id, title))
        await conn.execute(INSERT_TENANT_PLAYLIST, (tenant_id, playlist_id, title))
        async with conn.cursor() as many:
            await many.executemany(INSERT_ITEM, item_rows(tenant_id, playlist_id, items))
        cur = await conn.execute(
            "INSERT INTO playlist_assignments (tenant_id, playlist_id, target_kind, target_id,"
            " priority, valid_from, valid_until, reason, created_by, daypart_days,"
            " daypart_start, daypart_end)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING assignment_id",
            (
                tenant_id,
                playlist_id,
                target.kind,
                target.id,
                priority,
                now,
                valid_until,
                reason,
                actor,
                daypart.day_list,
                daypart.start,
                daypart.end,
            ),
        )
        row = await cur.fetchone()
        assert row is not None
        assignment_id = int(str(row[0]))
        manifest = Manifest(
            playlist_id,
            1,
            priority,
            now,
            valid_until,
            refresh_s,
            tuple(i.model_dump() for i in items),
        )
        await record(
            conn,
            tenant_id,
            actor,
            "playlist.push",
            str(target),
            {
                "assignment_id": assignment_id,
                "playlist_id": playlist_id,
                "etag": manifest.etag,
                "priority": priority,
                "reason": reason,
                "valid_until": valid_until.isoformat() if valid_until else None,
                "targeted": targeted,
                "daypart": daypart.details(),
            },
        )
        await conn.execute("SELECT pg_notify('fleethub_playlists', %s)", (str(assignment_id),))
    return PushResult(manifest.etag, playlist_id, targeted, assignment_id)


async def target_count(
    conn: psycopg.AsyncConnection[tuple[object, ...]], tenant_id: str, target: Target
) -> int:
    cur = await conn.execute(
        TARGET_COUNT, {"tenant": tenant_id, "kind": target.kind, "id": target.id}
    )
    row = await cur.fetchone()
    return int(str(row[0])) if row else 0


async def resolve(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    refresh_s: int,
    tablet_ids: list[str] | None = None,
    now: datetime | None = None,
) -> dict[str, Manifest]:
    """The desired manifest of every (or the given) registered tablet."""
    now = now or datetime.now(UTC)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(RESOLVE, {"now": now, "ids": tablet_ids})
        winners = await cur.fetchall()
        keys = sorted({(w["tenant_id"], w["playlist_id"]) for w in winners})
        await cur.execute(ITEMS, ([k[0] for k in keys], [k[1] for k in keys]))
        items: dict[tuple[str, str], list[dict[str, object]]] = {}
        for row in await cur.fetchall():
            key = (row.pop("tenant_id"), row.pop("playlist_id"))
            items.setdefault(key, []).append(manifest_item(row))
    # Tablets sharing an assignment share one Manifest object (encoded once by the caller).
    by_assignment: dict[int, Manifest] = {}
    for w in winners:
        if w["assignment_id"] not in by_assignment:
            by_assignment[w["assignment_id"]] = Manifest(
                playlist_id=w["playlist_id"],
                version=w["version"],
                priority=w["priority"],
                issued_at=w["created_at"],
                valid_until=w["valid_until"],
                refresh_interval_s=refresh_s,
                items=tuple(items.get((w["tenant_id"], w["playlist_id"]), [])),
            )
    return {w["tablet_id"]: by_assignment[w["assignment_id"]] for w in winners}


async def next_expiry(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> datetime | None:
    """When the next assignment expires or starts, or a daypart window opens or closes.

    The reconciler sleeps until then. Window edges are looked for in the coming
    ``DAYPART_LOOKAHEAD`` only, in the timezone of every fleet the assignment reaches
    (the reconciler asks again when it wakes).
    """
    cur = await conn.execute(NEXT_CHANGE, {"lookahead": DAYPART_LOOKAHEAD})
    row = await cur.fetchone()
    return row[0] if row and isinstance(row[0], datetime) else None


async def fleet_has_assignment(
    conn: psycopg.AsyncConnection[tuple[object, ...]], fleet_id: str
) -> bool:
    """Whether a playlist assignment targets the fleet itself and was not revoked."""
    cur = await conn.execute(
        "SELECT 1 FROM playlist_assignments WHERE target_kind = 'fleet' AND target_id = %s"
        " AND revoked_at IS NULL",
        (fleet_id,),
    )
    return await cur.fetchone() is not None
