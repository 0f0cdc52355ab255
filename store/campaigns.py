"""Campaigns (``campaigns`` and its targeting rows): read within a scope, saved, and moved
through their states, each step audited (docs/campaigns.md).

States: ``draft`` → (an admin approves) ``approved`` → (its flight starts) ``running`` →
(its flight ends, or its total goal is delivered) ``finished``; an admin may pause an approved
or running campaign (``paused``), resume it (approved again, running at once inside its
flight) or finish it early. A campaign is edited only as a draft or paused. The hubs run
what is ``running`` (store/campaign_book.py); every change of state, and every change of a
zone, wakes them with ``NOTIFY fleethub_campaigns``.

A scope is a tenant and, for an advertiser user, their account: a campaign outside it does
not exist (the panel answers 404).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.rows import class_row, dict_row

from actors.rules.dayparts import Daypart
from config.errors import ConfigError
from store import billing_settings
from store.audit import record
from store.zones import CHANNEL

Conn = psycopg.AsyncConnection[Any]
Status = Literal["draft", "approved", "running", "paused", "finished"]
Action = Literal["approve", "pause", "resume", "finish"]
CAMPAIGN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
EDITABLE = ("draft", "paused")
RESERVED_IDS = ("new",)  # panel paths under /campaigns/
MAX_CREATIVES = 20
MAX_DAYPARTS = 14
# What each admin action moves from, and to.
ACTIONS: dict[str, tuple[tuple[str, ...], Status]] = {
    "approve": (("draft",), "approved"),
    "pause": (("approved", "running"), "paused"),
    "resume": (("paused",), "approved"),
    "finish": (("draft", "approved", "running", "paused"), "finished"),
}


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose campaigns: a tenant's, and only one advertiser's (an advertiser user) or all."""

    tenant_id: str
    advertiser_id: str | None = None  # None: every advertiser of the tenant (an admin)


@dataclass(frozen=True, slots=True)
class Spec:
    """A campaign as the panel, the API or the CLI gives it."""

    campaign_id: str
    advertiser_id: str
    name: str
    timezone: str
    flight_start: datetime
    flight_end: datetime
    brand: str = ""
    goal_unit: Literal["plays", "seconds"] = "plays"
    daily_goal: int | None = None
    total_goal: int | None = None
    priority: int = 1
    share_of_voice: int | None = None
    fleets: tuple[str, ...] = ()  # none: every fleet of the tenant
    dayparts: tuple[Daypart, ...] = ()
    zones: tuple[str, ...] = ()
    creatives: tuple[str, ...] = ()  # media ids, in play order

    def check(self) -> None:
        if not CAMPAIGN_ID.match(self.campaign_id) or self.campaign_id in RESERVED_IDS:
            raise ConfigError(
                "a campaign id is 1 to 64 letters, digits, '.', '_' or '-' (starting with a"
                " letter or digit)"
            )
        if not 1 <= len(self.name.strip()) <= 200:
            raise ConfigError("a campaign's name is 1 to 200 characters")
        if len(self.brand) > 200:
            raise ConfigError("a brand is at most 200 characters")
        if self.flight_end <= self.flight_start:
            raise ConfigError("the flight must end after it starts")
        for label, goal in (("daily", self.daily_goal), ("total", self.total_goal)):
            if goal is not None and not 0 < goal < 2**62:
                raise ConfigError(f"the {label} goal must be a positive number")
        if not 1 <= self.priority <= 10:
            raise ConfigError("the priority is 1 (lowest) to 10")
        if self.share_of_voice is not None and not 1 <= self.share_of_voice <= 90:
            raise ConfigError("the share of voice is 1 to 90 % of the loop")
        if len(self.creatives) > MAX_CREATIVES:
            raise ConfigError(f"at most {MAX_CREATIVES} creatives")
        if len(set(self.creatives)) != len(self.creatives):
            raise ConfigError("a creative is chosen twice")
        if len(self.dayparts) > MAX_DAYPARTS:
            raise ConfigError(f"at most {MAX_DAYPARTS} dayparts")


@dataclass(frozen=True, slots=True)
class Creative:
    media_id: str
    media_version: int
    name: str
    kind: str
    sha256: str
    duration_ms: int


@dataclass(frozen=True, slots=True)
class Pacing:
    day: Any
    multiplier: float
    pods: int
    status: str
    delivered: int
    expected: int | None
    goal: int | None
    computed_at: datetime


@dataclass(frozen=True, slots=True)
class Campaign:
    tenant_id: str
    campaign_id: str
    advertiser_id: str
    advertiser_name: str
    name: str
    brand: str
    timezone: str
    flight_start: datetime
    flight_end: datetime
    goal_unit: str
    daily_goal: int | None
    total_goal: int | None
    priority: int
    share_of_voice: int | None
    all_fleets: bool
    status: Status
    status_at: datetime
    created_by: str
    updated_at: datetime
    fleets: list[str] = field(default_factory=list)
    zones: list[tuple[str, str]] = field(default_factory=list)  # (zone id, name)
    dayparts: list[Daypart] = field(default_factory=list)
    creatives: list[Creative] = field(default_factory=list)
    pacing: Pacing | None = None

    @property
    def editable(self) -> bool:
        return self.status in EDITABLE


LIST = """
SELECT c.tenant_id, c.campaign_id, c.advertiser_id, a.name AS advertiser_name, c.name, c.brand,
       c.timezone, c.flight_start, c.flight_end, c.goal_unit, c.daily_goal, c.total_goal,
       c.priority, c.share_of_voice, c.all_fleets, c.status, c.status_at, c.created_by, c.updated_at
FROM campaigns c
JOIN advertisers a ON a.tenant_id = c.tenant_id AND a.advertiser_id = c.advertiser_id
WHERE c.tenant_id = %(tenant)s
  AND (%(advertiser)s::text IS NULL OR c.advertiser_id = %(advertiser)s)
  AND (%(id)s::text IS NULL OR c.campaign_id = %(id)s)
  AND (%(status)s::text IS NULL OR c.status = %(status)s)
ORDER BY (c.status = 'running') DESC, c.flight_start DESC, c.campaign_id
"""


async def listing(
    conn: Conn, scope: Scope, campaign_id: str | None = None, status: str | None = None
) -> list[Campaign]:
    params = {
        "tenant": scope.tenant_id,
        "advertiser": scope.advertiser_id,
        "id": campaign_id,
        "status": status,
    }
    async with conn.cursor(row_factory=class_row(Campaign)) as cur:
        await cur.execute(LIST, params)
        found = await cur.fetchall()
    pacing = await _pacing(conn, scope.tenant_id, [c.campaign_id for c in found])
    return [_with(c, pacing=pacing.get(c.campaign_id)) for c in found]


def _with(c: Campaign, **changes: Any) -> Campaign:
    return replace(c, **changes)


async def _pacing(conn: Conn, tenant_id: str, ids: list[str]) -> dict[str, Pacing]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT campaign_id, day, multiplier, pods, status, delivered, expected, goal,"
            " computed_at FROM campaign_pacing WHERE tenant_id = %s AND campaign_id = ANY(%s)",
            (tenant_id, ids),
        )
        rows = await cur.fetchall()
    return {r.pop("campaign_id"): Pacing(**r) for r in rows}


async def one(conn: Conn, scope: Scope, campaign_id: str) -> Campaign | None:
    """The campaign with its targeting and creatives; None outside the scope."""
    found = await listing(conn, scope, campaign_id)
    if not found:
        return None
    c = found[0]
    key = (scope.tenant_id, campaign_id)
    fleets = await conn.execute(
        "SELECT fleet_id FROM campaign_fleets WHERE tenant_id = %s AND campaign_id = %s"
        " ORDER BY fleet_id",
        key,
    )
    zones = await conn.execute(
        "SELECT z.zone_id, z.name FROM campaign_zones cz JOIN zones z"
        " ON z.tenant_id = cz.tenant_id AND z.zone_id = cz.zone_id"
        " WHERE cz.tenant_id = %s AND cz.campaign_id = %s ORDER BY z.name",
        key,
    )
    dayparts = await conn.execute(
        "SELECT days, start_time, end_time FROM campaign_dayparts"
        " WHERE tenant_id = %s AND campaign_id = %s ORDER BY position",
        key,
    )
    async with conn.cursor(row_factory=class_row(Creative)) as cur:
        await cur.execute(
            "SELECT cc.media_id, cc.media_version, m.name, m.kind, v.sha256,"
            " coalesce(v.duration_ms, m.image_duration_ms) AS duration_ms"
            " FROM campaign_creatives cc"
            " JOIN media m ON m.tenant_id = cc.tenant_id AND m.media_id = cc.media_id"
            " JOIN media_versions v ON v.tenant_id = cc.tenant_id AND v.media_id = cc.media_id"
            "  AND v.version = cc.media_version"
            " WHERE cc.tenant_id = %s AND cc.campaign_id = %s ORDER BY cc.position",
            key,
        )
        creatives = await cur.fetchall()
    return _with(
        c,
        fleets=[str(r[0]) for r in await fleets.fetchall()],
        zones=[(str(r[0]), str(r[1])) for r in await zones.fetchall()],
        dayparts=[_daypart(r) for r in await dayparts.fetchall()],
        creatives=creatives,
    )


def _daypart(row: Sequence[Any]) -> Daypart:
    days, start, end = row
    return Daypart.of(None if days is None else [int(d) for d in days], start, end)


async def exists(conn: Conn, tenant_id: str, campaign_id: str) -> bool:
    cur = await conn.execute(
        "SELECT 1 FROM campaigns WHERE tenant_id = %s AND campaign_id = %s",
        (tenant_id, campaign_id),
    )
    return await cur.fetchone() is not None


async def save(conn: Conn, scope: Scope, spec: Spec, actor: str, *, create: bool) -> None:
    """Create a draft (``create``) or change a draft or paused campaign, in one transaction
    with its audit row. An advertiser's scope saves only for its own account."""
    spec.check()
    tenant = scope.tenant_id
    if scope.advertiser_id is not None and spec.advertiser_id != scope.advertiser_id:
        raise ConfigError("advertisers create campaigns for their own account only")
    async with conn.transaction():
        await _check_refs(conn, tenant, spec)
        row = await (
            await conn.execute(
                "SELECT status, advertiser_id FROM campaigns"
                " WHERE tenant_id = %s AND campaign_id = %s FOR UPDATE",
                (tenant, spec.campaign_id),
            )
        ).fetchone()
        if create and row is not None:
            raise ConfigError(f"a campaign {spec.campaign_id!r} exists already: choose another id")
        if not create:
            if row is None or (scope.advertiser_id not in (None, row[1])):
                raise LookupError(spec.campaign_id)
            if row[0] not in EDITABLE:
                raise ConfigError(f"a {row[0]} campaign cannot be changed: pause it first")
        values = (
            spec.advertiser_id,
            spec.name.strip(),
            spec.brand.strip(),
            spec.timezone,
            spec.flight_start,
            spec.flight_end,
            spec.goal_unit,
            spec.daily_goal,
            spec.total_goal,
            spec.priority,
            spec.share_of_voice,
            not spec.fleets,
        )
        if create:
            await conn.execute(
                "INSERT INTO campaigns (advertiser_id, name, brand, timezone, flight_start,"
                " flight_end, goal_unit, daily_goal, total_goal, priority, share_of_voice,"
                " all_fleets, tenant_id, campaign_id, created_by)"
                " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                (*values, tenant, spec.campaign_id, actor),
            )
        else:
            await conn.execute(
                "UPDATE campaigns SET advertiser_id = %s, name = %s, brand = %s, timezone = %s,"
                " flight_start = %s, flight_end = %s, goal_unit = %s, daily_goal = %s,"
                " total_goal = %s, priority = %s, share_of_voice = %s, all_fleets = %s,"
                " updated_at = now() WHERE tenant_id = %s AND campaign_id = %s",
                (*values, tenant, spec.campaign_id),
            )
        await _replace_targeting(conn, tenant, spec)
        await record(
            conn,
            tenant,
            actor,
            "campaign.create" if create else "campaign.update",
            f"campaign:{spec.campaign_id}",
            details(spec),
        )


def details(spec: Spec) -> dict[str, Any]:
    return {
        "advertiser_id": spec.advertiser_id,
        "name": spec.name,
        "flight": [spec.flight_start.isoformat(), spec.flight_end.isoformat(), spec.timezone],
        "goals": {"unit": spec.goal_unit, "daily": spec.daily_goal, "total": spec.total_goal},
        "priority": spec.priority,
        "share_of_voice": spec.share_of_voice,
        "fleets": list(spec.fleets) or "all",
        "dayparts": [d.label() for d in spec.dayparts],
        "zones": list(spec.zones),
        "creatives": list(spec.creatives),
    }


async def _check_refs(conn: Conn, tenant: str, spec: Spec) -> None:
    """Everything the spec names is the tenant's; each missing one is named."""
    cur = await conn.execute(
        "SELECT 1 FROM advertisers WHERE tenant_id = %s AND advertiser_id = %s",
        (tenant, spec.advertiser_id),
    )
    if await cur.fetchone() is None:
        raise ConfigError(f"no advertiser {spec.advertiser_id!r}")
    for table, column, wanted in (
        ("fleets", "fleet_id", spec.fleets),
        ("zones", "zone_id", spec.zones),
        ("media", "media_id", spec.creatives),
    ):
        if not wanted:
            continue
        query = {
            "fleets": "SELECT fleet_id FROM fleets WHERE tenant_id = %s AND fleet_id = ANY(%s)",
            "zones": "SELECT zone_id FROM zones WHERE tenant_id = %s AND zone_id = ANY(%s)",
            "media": "SELECT media_id FROM media WHERE tenant_id = %s AND media_id = ANY(%s)",
        }[table]
        found = {
            str(r[0]) for r in await (await conn.execute(query, (tenant, list(wanted)))).fetchall()
        }
        if missing := [w for w in wanted if w not in found]:
            raise ConfigError(
                f"no {column.removesuffix('_id')} {', '.join(missing)} in this tenant"
            )


async def _replace_targeting(conn: Conn, tenant: str, spec: Spec) -> None:
    key = (tenant, spec.campaign_id)
    for table in ("campaign_fleets", "campaign_zones", "campaign_dayparts", "campaign_creatives"):
        delete = sql.SQL("DELETE FROM {} WHERE tenant_id = %s AND campaign_id = %s")
        await conn.execute(delete.format(sql.Identifier(table)), key)
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO campaign_fleets (tenant_id, campaign_id, fleet_id) VALUES (%s, %s, %s)",
            [(*key, f) for f in spec.fleets],
        )
        await cur.executemany(
            "INSERT INTO campaign_zones (tenant_id, campaign_id, zone_id) VALUES (%s, %s, %s)",
            [(*key, z) for z in spec.zones],
        )
        await cur.executemany(
            "INSERT INTO campaign_dayparts (tenant_id, campaign_id, position, days, start_time,"
            " end_time) VALUES (%s, %s, %s, %s, %s, %s)",
            [(*key, n, d.day_list, d.start, d.end) for n, d in enumerate(spec.dayparts)],
        )
        await cur.executemany(
            "INSERT INTO campaign_creatives (tenant_id, campaign_id, position, media_id,"
            " media_version) SELECT %s, %s, %s, media_id, version FROM media"
            " WHERE tenant_id = %s AND media_id = %s",
            [(*key, n, tenant, m) for n, m in enumerate(spec.creatives)],
        )


async def act(
    conn: Conn, tenant_id: str, campaign_id: str, action: Action, actor: str, now: datetime
) -> Status:
    """An admin's action on the campaign (audited; an approval inside the flight starts it at
    once, audited as the system's start). LookupError: no such campaign."""
    if action not in ACTIONS:
        raise ConfigError(f"unknown action {action!r}")
    sources, target = ACTIONS[action]
    async with conn.transaction():
        row = await (
            await conn.execute(
                "SELECT status, flight_start, flight_end FROM campaigns"
                " WHERE tenant_id = %s AND campaign_id = %s FOR UPDATE",
                (tenant_id, campaign_id),
            )
        ).fetchone()
        if row is None:
            raise LookupError(campaign_id)
        status, start, end = row
        if status not in sources:
            raise ConfigError(f"a {status} campaign cannot be {_past(action)}")
        if target == "approved" and end <= now:
            raise ConfigError("its flight is over: change the flight first (pause, edit)")
        if action == "approve":
            await _check_creatives(conn, tenant_id, campaign_id)
        await _move(conn, tenant_id, campaign_id, status, target, actor, f"campaign.{action}")
        if target == "approved" and start <= now:
            await _move(conn, tenant_id, campaign_id, target, "running", "system", "campaign.start")
            target = "running"
        await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"campaign:{campaign_id}"))
    return target


def _past(action: str) -> str:
    return {"approve": "approved", "pause": "paused", "resume": "resumed"}.get(action, "finished")


async def _check_creatives(conn: Conn, tenant_id: str, campaign_id: str) -> None:
    cur = await conn.execute(
        "SELECT count(*) FROM campaign_creatives WHERE tenant_id = %s AND campaign_id = %s",
        (tenant_id, campaign_id),
    )
    row = await cur.fetchone()
    if row is None or int(row[0]) == 0:
        raise ConfigError("a campaign without creatives cannot be approved")


async def _move(
    conn: Conn,
    tenant_id: str,
    campaign_id: str,
    before: str,
    after: str,
    actor: str,
    action: str,
    reason: str | None = None,
) -> None:
    await conn.execute(
        "UPDATE campaigns SET status = %s, status_at = now() WHERE tenant_id = %s"
        " AND campaign_id = %s",
        (after, tenant_id, campaign_id),
    )
    details: dict[str, Any] = {"from": before, "to": after}
    if reason:
        details["reason"] = reason
    await record(conn, tenant_id, actor, action, f"campaign:{campaign_id}", details)


ADVANCE = """
SELECT c.tenant_id, c.campaign_id, c.status, c.flight_start, c.flight_end, c.goal_unit,
       c.total_goal,
       (SELECT CASE WHEN c.goal_unit = 'plays' THEN sum(d.in_target)
                    ELSE sum(d.in_target_ms) / 1000 END
        FROM campaign_delivery d
        WHERE d.tenant_id = c.tenant_id AND d.campaign_id = c.campaign_id) AS delivered
FROM campaigns c
WHERE c.status IN ('approved', 'running')
FOR UPDATE OF c
"""


async def advance(conn: Conn, now: datetime) -> list[tuple[str, str, str]]:
    """The system's steps (audited): an approved campaign whose flight started runs; a running
    one whose flight ended, or whose total goal is delivered, is finished. Returns
    (tenant, campaign, new status) of each step, and wakes the hubs when there is one."""
    moved: list[tuple[str, str, str]] = []
    async with conn.transaction():
        rows = await (await conn.execute(ADVANCE)).fetchall()
        for tenant, campaign, status, start, end, _unit, total, delivered in rows:
            if end <= now:
                await _move(
                    conn,
                    tenant,
                    campaign,
                    status,
                    "finished",
                    "system",
                    "campaign.finish",
                    "the flight ended",
                )
                moved.append((tenant, campaign, "finished"))
            elif status == "running" and total is not None and (delivered or 0) >= total:
                await _move(
                    conn,
                    tenant,
                    campaign,
                    status,
                    "finished",
                    "system",
                    "campaign.finish",
                    "the total goal is delivered",
                )
                moved.append((tenant, campaign, "finished"))
            elif status == "approved" and start <= now:
                await _move(conn, tenant, campaign, status, "running", "system", "campaign.start")
                moved.append((tenant, campaign, "running"))
        if moved:
            await conn.execute("SELECT pg_notify(%s, 'advance')", (CHANNEL,))
    return moved


async def next_flight_edge(conn: Conn) -> datetime | None:
    """When the next approved campaign's flight starts or a live one's ends."""
    cur = await conn.execute(
        "SELECT min(at) FROM (SELECT flight_start AS at FROM campaigns WHERE status = 'approved'"
        " UNION ALL SELECT flight_end FROM campaigns WHERE status IN ('approved', 'running')) s"
        " WHERE at > now()"
    )
    row = await cur.fetchone()
    return row[0] if row and isinstance(row[0], datetime) else None


async def default_timezone(conn: Conn, tenant_id: str) -> str:
    """The tenant's zone for a new campaign: its fleets' one zone, else its billing zone."""
    cur = await conn.execute(
        "SELECT DISTINCT timezone FROM fleets WHERE tenant_id = %s", (tenant_id,)
    )
    zones = [str(r[0]) for r in await cur.fetchall()]
    if len(zones) == 1:
        return zones[0]
    return (await billing_settings.get(conn, tenant_id)).timezone


async def fleet_choices(conn: Conn, tenant_id: str) -> list[tuple[str, str]]:
    """The tenant's fleets (id, name) a campaign may target."""
    cur = await conn.execute(
        "SELECT fleet_id, coalesce(name, fleet_id) FROM fleets WHERE tenant_id = %s ORDER BY 2, 1",
        (tenant_id,),
    )
    return [(str(f), str(n)) for f, n in await cur.fetchall()]


async def audit_trail(conn: Conn, tenant_id: str, campaign_id: str) -> list[tuple[Any, ...]]:
    """The campaign's audited steps, newest first: (at, actor, action, details)."""
    cur = await conn.execute(
        "SELECT at, actor, action, details FROM audit_log WHERE tenant_id = %s AND target = %s"
        " ORDER BY at DESC, audit_id DESC LIMIT 50",
        (tenant_id, f"campaign:{campaign_id}"),
    )
    return list(await cur.fetchall())
