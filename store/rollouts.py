"""Staged app rollouts: created by an admin, stepped by hub shard 0, halted, resumed, cancelled.

:func:`create` commits the rollout and starts its first wave in one transaction. Each wave
takes the fleet's tablets no wave took yet, in an order fixed per rollout (md5 of rollout and
tablet: a sample, not the first ids), up to its percentage of the fleet, and queues one
``update_app`` command for them (store/commands.py, with the version, package URL and
SHA-256). :func:`step` judges each running rollout whose wave soaked (actors/rules/rollouts.py)
and starts the next wave, finishes it, or halts it: audited, and an alert (``rollout_halted``)
for the fleet's alert channels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from actors.rules.rollouts import Rates, verdict, wave_target
from config.errors import ConfigError
from store import commands
from store.audit import record
from store.users import User

Conn = psycopg.AsyncConnection[tuple[object, ...]]
COMMAND_EXPIRY_S = 7 * 86_400  # a tablet back within a week still updates


class RolloutRefused(ConfigError):
    """Not allowed, or not in a state for it; the message says which."""


@dataclass(frozen=True, slots=True)
class RolloutSpec:
    fleet_id: str
    app_version: str
    package_url: str
    sha256: str
    waves: list[int]
    soak_s: int
    crash_excess_pct: float
    offline_excess_pct: float


@dataclass(frozen=True, slots=True)
class Rollout:
    rollout_id: int
    tenant_id: str
    fleet_id: str
    fleet_name: str
    app_version: str
    package_url: str
    sha256: str
    waves: list[int]
    soak_s: int
    crash_excess_pct: float
    offline_excess_pct: float
    state: str
    wave: int
    wave_started_at: datetime
    reason: str | None
    created_by: str
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class WaveRow:
    """A wave's tablets by their command's state."""

    wave: int
    tablets: int
    succeeded: int
    failed: int
    waiting: int  # queued or delivered
    expired: int


COLUMNS = """
SELECT r.rollout_id, r.tenant_id, r.fleet_id, f.name AS fleet_name, r.app_version,
       r.package_url, r.sha256, r.waves::int[] AS waves, r.soak_s,
       r.crash_excess_pct::float8 AS crash_excess_pct,
       r.offline_excess_pct::float8 AS offline_excess_pct, r.state, r.wave::int AS wave,
       r.wave_started_at, r.reason, r.created_by, r.created_at, r.finished_at
FROM rollouts r JOIN fleets f ON f.fleet_id = r.fleet_id
"""
ONE = f"{COLUMNS} WHERE r.tenant_id = %s AND r.rollout_id = %s"
FLEET = "SELECT 1 FROM fleets WHERE fleet_id = %s AND tenant_id = %s"
ACTIVE = "SELECT 1 FROM rollouts WHERE fleet_id = %s AND state IN ('running', 'halted')"
INSERT = """
INSERT INTO rollouts (tenant_id, fleet_id, app_version, package_url, sha256, waves, soak_s,
    crash_excess_pct, offline_excess_pct, created_by)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
RETURNING rollout_id
"""
FLEET_SIZE = "SELECT count(*) FROM tablets WHERE fleet_id = %s AND revoked_at IS NULL"
TAKEN = "SELECT count(*) FROM rollout_tablets WHERE rollout_id = %s"
NEXT_TABLETS = """
SELECT t.tablet_id FROM tablets t
WHERE t.fleet_id = %(fleet)s AND t.revoked_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM rollout_tablets rt
                  WHERE rt.rollout_id = %(rollout)s AND rt.tablet_id = t.tablet_id)
ORDER BY md5(%(rollout)s::text || ':' || t.tablet_id) LIMIT %(n)s
"""
ADD_TABLETS = """
INSERT INTO rollout_tablets (rollout_id, tablet_id, wave, command_id)
SELECT %s, unnest(%s::text[]), %s, %s
"""
DUE = f"""{COLUMNS}
WHERE r.state = 'running' AND r.wave_started_at + r.soak_s * interval '1 second' <= now()
ORDER BY r.rollout_id FOR UPDATE OF r SKIP LOCKED
"""
# Of the wave's tablets and of the rest of the fleet (no wave took them yet): how many, how
# many opened a crash loop and how many an offline incident since the wave started.
RATES = """
WITH wave AS (
    SELECT tablet_id FROM rollout_tablets WHERE rollout_id = %(rollout)s AND wave = %(wave)s
), rest AS (
    SELECT t.tablet_id FROM tablets t
    WHERE t.fleet_id = %(fleet)s AND t.revoked_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM rollout_tablets rt
                      WHERE rt.rollout_id = %(rollout)s AND rt.tablet_id = t.tablet_id)
), hit AS (
    SELECT tablet_id, bool_or(kind = 'crash_loop') AS crashed, bool_or(kind = 'offline') AS off
    FROM incidents
    WHERE fleet_id = %(fleet)s AND opened_at >= %(since)s AND kind IN ('crash_loop', 'offline')
    GROUP BY tablet_id
)
SELECT g.part, count(*)::int, count(*) FILTER (WHERE h.crashed)::int,
       count(*) FILTER (WHERE h.off)::int
FROM (SELECT 'wave' AS part, tablet_id FROM wave UNION ALL
      SELECT 'rest', tablet_id FROM rest) g
LEFT JOIN hit h USING (tablet_id)
GROUP BY g.part
"""
SET_STATE = """
UPDATE rollouts SET state = %(state)s, reason = %(reason)s,
    finished_at = CASE WHEN %(state)s IN ('done', 'cancelled') THEN now() END
WHERE rollout_id = %(rollout)s
"""
NEXT_WAVE = """
UPDATE rollouts SET wave = wave + 1, wave_started_at = now() WHERE rollout_id = %s
"""
RESUME = """
UPDATE rollouts SET state = 'running', reason = NULL, wave_started_at = now()
WHERE rollout_id = %s
"""
ALERT = """
INSERT INTO notifications (fleet_id, tablet_id, kind, payload, dedupe_key)
VALUES (%s, NULL, 'rollout_halted', %s, %s) ON CONFLICT (dedupe_key) DO NOTHING
"""
NOTIFY_ALERTS = "SELECT pg_notify('fleethub_alerts', %s)"


def _actor(rollout_id: int) -> str:
    return f"rollout {rollout_id}"


async def _count(conn: Conn, query: str, params: tuple[Any, ...]) -> int:
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    return int(row[0]) if row is not None else 0  # type: ignore[call-overload]


async def _load(conn: Conn, tenant_id: str, rollout_id: int) -> Rollout | None:
    async with conn.cursor(row_factory=class_row(Rollout)) as cur:
        await cur.execute(ONE, (tenant_id, rollout_id))
        return await cur.fetchone()


async def _start_wave(conn: Conn, r: Rollout, index: int) -> int:
    """Queue ``update_app`` for the tablets wave ``index`` adds; how many."""
    size = await _count(conn, FLEET_SIZE, (r.fleet_id,))
    wanted = wave_target(r.waves[index], size) - await _count(conn, TAKEN, (r.rollout_id,))
    if wanted <= 0:
        return 0
    params = {"fleet": r.fleet_id, "rollout": r.rollout_id, "n": wanted}
    cur = await conn.execute(NEXT_TABLETS, params)
    tablets = [str(row[0]) for row in await cur.fetchall()]
    if not tablets:
        return 0
    args = {"version": r.app_version, "url": r.package_url, "sha256": r.sha256}
    system = User(0, r.tenant_id, _actor(r.rollout_id), "rollout", "admin", None)
    issued = await commands.issue(
        conn, system, "update_app", args, tablets=tablets, expires_s=COMMAND_EXPIRY_S,
        rollout_id=r.rollout_id,
    )  # fmt: skip
    await conn.execute(ADD_TABLETS, (r.rollout_id, tablets, index, issued.command_id))
    return len(tablets)


async def create(conn: Conn, user: User, spec: RolloutSpec) -> int:
    """Commit the rollout and start its first wave; :class:`RolloutRefused` for a non-admin,
    a fleet not of the tenant, or a fleet with a rollout running or halted."""
    if not user.is_admin:
        raise RolloutRefused("only admins roll out app versions")
    async with conn.transaction():
        if await (await conn.execute(FLEET, (spec.fleet_id, user.tenant_id))).fetchone() is None:
            raise RolloutRefused(f"Fleet: no fleet {spec.fleet_id!r}")
        if await (await conn.execute(ACTIVE, (spec.fleet_id,))).fetchone() is not None:
            raise RolloutRefused("Fleet: a rollout is running or halted there: finish it first")
        params = {
            "tenant": user.tenant_id,
            "fleet": spec.fleet_id,
            "version": spec.app_version,
            "url": spec.package_url,
            "sha": spec.sha256,
            "waves": spec.waves,
            "soak": spec.soak_s,
            "crash": spec.crash_excess_pct,
            "offline": spec.offline_excess_pct,
            "by": user.email,
        }
        rollout_id = await _count(conn, INSERT, tuple(params.values()))
        created = await _load(conn, user.tenant_id, rollout_id)
        assert created is not None
        started = await _start_wave(conn, created, 0)
        details = {**params, "first_wave_tablets": started}
        del details["tenant"], details["by"]
        await record(
            conn, user.tenant_id, user.email, "rollout.create", f"rollout:{rollout_id}", details
        )
    return rollout_id


async def _rates(conn: Conn, r: Rollout) -> tuple[Rates, Rates]:
    params = {
        "rollout": r.rollout_id,
        "wave": r.wave,
        "fleet": r.fleet_id,
        "since": r.wave_started_at,
    }
    cur = await conn.execute(RATES, params)
    found = {str(row[0]): Rates(*(int(str(v)) for v in row[1:])) for row in await cur.fetchall()}
    empty = Rates(0, 0, 0)
    return found.get("wave", empty), found.get("rest", empty)


async def _halt(conn: Conn, r: Rollout, reason: str) -> None:
    await conn.execute(SET_STATE, {"state": "halted", "reason": reason, "rollout": r.rollout_id})
    await record(
        conn, r.tenant_id, _actor(r.rollout_id), "rollout.halted", f"rollout:{r.rollout_id}",
        {"wave": r.wave + 1, "reason": reason},
    )  # fmt: skip
    payload = {
        "v": 1,
        "event": "opened",
        "kind": "rollout_halted",
        "fleet_id": r.fleet_id,
        "tablet_id": None,
        "rollout_id": r.rollout_id,
        "app_version": r.app_version,
        "wave": r.wave + 1,
        "detail": reason,
        "at": datetime.now(r.wave_started_at.tzinfo).isoformat(),
    }
    key = f"rollout:{r.rollout_id}:halted:{r.wave}:{r.wave_started_at.isoformat()}"
    await conn.execute(ALERT, (r.fleet_id, json.dumps(payload), key))
    await conn.execute(NOTIFY_ALERTS, (r.fleet_id,))


async def step(conn: Conn) -> list[tuple[int, str]]:
    """Judge every running rollout whose wave soaked; what became of each (``advanced``,
    ``done``, ``halted``)."""
    out: list[tuple[int, str]] = []
    async with conn.transaction(), conn.cursor(row_factory=class_row(Rollout)) as cur:
        await cur.execute(DUE)
        due = await cur.fetchall()
        for r in due:
            wave, rest = await _rates(conn, r)
            reason = verdict(wave, rest, r.crash_excess_pct, r.offline_excess_pct)
            if reason is not None:
                await _halt(conn, r, f"wave {r.wave + 1} ({r.waves[r.wave]} %): {reason}")
                out.append((r.rollout_id, "halted"))
            elif r.wave + 1 >= len(r.waves):
                await conn.execute(
                    SET_STATE, {"state": "done", "reason": None, "rollout": r.rollout_id}
                )
                out.append((r.rollout_id, "done"))
            else:
                await conn.execute(NEXT_WAVE, (r.rollout_id,))
                await _start_wave(conn, r, r.wave + 1)
                out.append((r.rollout_id, "advanced"))
    return out


# --- the panel ------------------------------------------------------------------

LISTING = f"{COLUMNS} WHERE r.tenant_id = %s ORDER BY r.created_at DESC LIMIT %s"
WAVES = """
SELECT rt.wave::int AS wave, count(*)::int AS tablets,
       count(*) FILTER (WHERE ct.state = 'succeeded')::int AS succeeded,
       count(*) FILTER (WHERE ct.state = 'failed')::int AS failed,
       count(*) FILTER (WHERE ct.state IN ('queued', 'delivered'))::int AS waiting,
       count(*) FILTER (WHERE ct.state = 'expired')::int AS expired
FROM rollout_tablets rt
JOIN command_targets ct ON ct.command_id = rt.command_id AND ct.tablet_id = rt.tablet_id
WHERE rt.rollout_id = %s GROUP BY rt.wave ORDER BY rt.wave
"""


async def listing(pool: AsyncConnectionPool, user: User, limit: int = 50) -> list[Rollout]:
    """The tenant's rollouts, newest first (admins only: the pages check)."""
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Rollout)) as cur:
        await cur.execute(LISTING, (user.tenant_id, limit))
        return await cur.fetchall()


async def one(pool: AsyncConnectionPool, user: User, rollout_id: int) -> Rollout | None:
    async with pool.connection() as conn:
        return await _load(conn, user.tenant_id, rollout_id)


async def waves(pool: AsyncConnectionPool, rollout_id: int) -> list[WaveRow]:
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(WaveRow)) as cur:
        await cur.execute(WAVES, (rollout_id,))
        return await cur.fetchall()


async def change(pool: AsyncConnectionPool, user: User, rollout_id: int, action: str) -> None:
    """``halt`` a running rollout, ``resume`` a halted one (its wave soaks again from now),
    ``cancel`` either (no further waves; commands already sent stay); audited."""
    if not user.is_admin:
        raise RolloutRefused("only admins change rollouts")
    allowed = {"halt": ("running",), "resume": ("halted",), "cancel": ("running", "halted")}
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT state FROM rollouts WHERE tenant_id = %s AND rollout_id = %s FOR UPDATE",
            (user.tenant_id, rollout_id),
        )
        row = await cur.fetchone()
        if row is None:
            raise LookupError(rollout_id)
        if row[0] not in allowed[action]:
            raise RolloutRefused(f"a {row[0]} rollout cannot be told to {action}")
        if action == "resume":
            await conn.execute(RESUME, (rollout_id,))
        else:
            state, reason = ("halted", f"halted by {user.email}") if action == "halt" else (
                "cancelled", None)  # fmt: skip
            await conn.execute(SET_STATE, {"state": state, "reason": reason, "rollout": rollout_id})
        await record(
            conn, user.tenant_id, user.email, f"rollout.{action}", f"rollout:{rollout_id}", {}
        )
