"""Remote commands: issued (scoped, permitted, audited), handed to the hub, their states.

:func:`issue` resolves the targets within the user's scope (a tablet, a selection, a fleet),
checks the user may send that command (admins: all; fleet owners: what the admin allows their
role, :func:`allowed`), and commits the command, one ``command_targets`` row per tablet
(``queued``), the audit row and ``NOTIFY fleethub_commands`` in one transaction. The hub reads
what it has not sent (:func:`unsent`), its writer records what happened (:func:`write_events`),
and :func:`expire` ends what its expiry passed; :func:`finish` audits each command's result
counts once all its targets are final.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from actors.effects import CommandEvent
from config.errors import ConfigError
from contract.commands import COMMAND_NAMES
from store.audit import record
from store.scope import IN_SCOPE, scope_params
from store.users import User

Conn = psycopg.AsyncConnection[tuple[object, ...]]
Cursor = psycopg.AsyncCursor[Any]
CHANNEL = "fleethub_commands"
# What fleet owners may send unless their tenant's admin says otherwise.
OWNER_DEFAULT = ("screenshot", "refresh_manifest", "set_volume", "set_brightness")
PANEL_COMMANDS = tuple(n for n in COMMAND_NAMES if n != "update_app")  # rollouts send that one
MAX_TARGETS = 50_000


class CommandRefused(ConfigError):
    """Not allowed, no such targets, or bad arguments; the message says which."""


@dataclass(frozen=True, slots=True)
class Issued:
    command_id: uuid.UUID
    targets: int


@dataclass(frozen=True, slots=True)
class CommandRow:
    command_id: uuid.UUID
    name: str
    args: dict[str, Any]
    target: str
    issued_by: str
    issued_at: datetime
    expires_at: datetime
    total: int
    queued: int
    delivered: int
    succeeded: int
    failed: int
    expired: int

    @property
    def done(self) -> int:
        return self.succeeded + self.failed + self.expired


@dataclass(frozen=True, slots=True)
class TargetRow:
    tablet_id: str
    car_id: str | None
    state: str
    sent_at: datetime | None
    delivered_at: datetime | None
    done_at: datetime | None
    detail: str | None
    screenshot: str | None  # the screenshot's sha256


ROLES = "SELECT fleet_owner FROM command_roles WHERE tenant_id = %s"
SET_ROLES = """
INSERT INTO command_roles (tenant_id, fleet_owner, updated_by) VALUES (%s, %s, %s)
ON CONFLICT (tenant_id) DO UPDATE SET fleet_owner = excluded.fleet_owner,
    updated_by = excluded.updated_by, updated_at = now()
"""
TARGETS = f"""
SELECT t.tablet_id FROM tablets t JOIN fleets f ON f.fleet_id = t.fleet_id
WHERE t.revoked_at IS NULL AND {IN_SCOPE}
  AND (%(fleet)s::text IS NULL OR t.fleet_id = %(fleet)s)
  AND (%(ids)s::text[] IS NULL OR t.tablet_id = ANY(%(ids)s))
ORDER BY t.tablet_id LIMIT {MAX_TARGETS + 1}
"""  # noqa: S608 - constant fragments only
INSERT = """
INSERT INTO commands (command_id, tenant_id, name, args, target, issued_by, expires_at,
    rollout_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
"""
INSERT_TARGETS = """
INSERT INTO command_targets (command_id, tablet_id) SELECT %s, unnest(%s::text[])
"""
NOTIFY = "SELECT pg_notify('fleethub_commands', %s)"


async def allowed(conn: Conn, user: User) -> tuple[str, ...]:
    """The commands this user may send from the panel, the API and the CLI."""
    if user.is_admin:
        return PANEL_COMMANDS
    if user.role != "fleet_owner":
        return ()
    return await owner_commands(conn, user.tenant_id)


async def owner_commands(conn: Conn, tenant_id: str) -> tuple[str, ...]:
    """What the tenant's fleet owners may send (:data:`OWNER_DEFAULT` until an admin chose)."""
    cur = await conn.execute(ROLES, (tenant_id,))
    row = await cur.fetchone()
    chosen = OWNER_DEFAULT if row is None else tuple(row[0])  # type: ignore[arg-type]
    return tuple(n for n in PANEL_COMMANDS if n in chosen)


async def set_owner_commands(pool: AsyncConnectionPool, user: User, names: Sequence[str]) -> None:
    """What the tenant's fleet owners may send (an admin's choice, audited)."""
    if not user.is_admin:
        raise CommandRefused("only admins choose what fleet owners may send")
    chosen = [n for n in PANEL_COMMANDS if n in names]
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(SET_ROLES, (user.tenant_id, chosen, user.email))
        await record(
            conn,
            user.tenant_id,
            user.email,
            "command.roles",
            "role:fleet_owner",
            {"allowed": chosen},
        )


def check_args(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """The arguments a command takes: ``set_volume``/``set_brightness`` a ``level`` 0–100."""
    if name in ("set_volume", "set_brightness"):
        level = args.get("level")
        if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 100:
            raise CommandRefused("level: a whole number from 0 to 100")
        return {"level": level}
    if name == "update_app":
        return args  # built by the rollouts (store/rollouts.py), never by a user
    if args:
        raise CommandRefused(f"{name} takes no arguments")
    return {}


async def issue(
    conn: Conn,
    user: User,
    name: str,
    args: dict[str, Any],
    *,
    tablets: Sequence[str] | None = None,
    fleet: str | None = None,
    expires_s: int = 3600,
    rollout_id: int | None = None,
) -> Issued:
    """Queue ``name`` for the tablets asked (in scope); :class:`CommandRefused` otherwise."""
    if rollout_id is None and name not in await allowed(conn, user):
        raise CommandRefused(f"you may not send {name}")
    if not 10 <= expires_s <= 7 * 86_400:
        raise CommandRefused("expiry: from 10 seconds to 7 days")
    if tablets is None and fleet is None:
        raise CommandRefused("name the tablets or the fleet")
    clean = check_args(name, args)
    params = scope_params(user, fleet=fleet, ids=list(tablets) if tablets is not None else None)
    async with conn.transaction():
        cur = await conn.execute(TARGETS, params)
        found = [str(r[0]) for r in await cur.fetchall()]
        if not found:
            raise CommandRefused("no such tablets among yours")
        if len(found) > MAX_TARGETS:
            raise CommandRefused(f"at most {MAX_TARGETS} tablets at once")
        if tablets is not None and len(found) < len(set(tablets)):
            missing = sorted(set(tablets) - set(found))
            raise CommandRefused(f"no tablet {missing[0]!r} among yours")
        if fleet is not None:
            target = f"fleet:{fleet}"
        elif len(found) == 1:
            target = f"tablet:{found[0]}"
        else:
            target = f"{len(found)} tablets"
        command_id = uuid.uuid4()
        expires_at = await _now(conn) + timedelta(seconds=expires_s)
        await conn.execute(
            INSERT,
            (command_id, user.tenant_id, name, Jsonb(clean), target, user.email, expires_at,
             rollout_id),
        )  # fmt: skip
        await conn.execute(INSERT_TARGETS, (command_id, found))
        details = {"name": name, "args": clean, "target": target, "tablets": len(found)}
        await record(
            conn, user.tenant_id, user.email, "command.send", f"command:{command_id}", details
        )
        await conn.execute(NOTIFY, (str(command_id),))
    return Issued(command_id, len(found))


async def _now(conn: Conn) -> datetime:
    cur = await conn.execute("SELECT now()")
    row = await cur.fetchone()
    assert row is not None
    return row[0]  # type: ignore[return-value]


# --- the hub ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unsent:
    command_id: uuid.UUID
    tablet_id: str
    name: str
    args: dict[str, Any]
    issued_at: datetime
    expires_at: datetime


UNSENT = """
SELECT c.command_id, t.tablet_id, c.name, c.args, c.issued_at, c.expires_at
FROM command_targets t JOIN commands c USING (command_id)
WHERE t.state = 'queued' AND t.sent_at IS NULL AND c.expires_at > now()
  AND (%(command)s::uuid IS NULL OR c.command_id = %(command)s)
  AND (%(tablets)s::text[] IS NULL OR t.tablet_id = ANY(%(tablets)s))
"""
EXPIRE = """
UPDATE command_targets t SET state = 'expired', done_at = c.expires_at,
    detail = 'not delivered before it expired'
FROM commands c
WHERE c.command_id = t.command_id AND t.state = 'queued' AND c.expires_at <= now()
RETURNING t.command_id
"""
NO_RESULT = """
UPDATE command_targets t SET state = 'failed', done_at = now(),
    detail = 'delivered, but no result before it expired'
FROM commands c
WHERE c.command_id = t.command_id AND t.state = 'delivered'
  AND c.expires_at + %s * interval '1 second' <= now()
"""
RESULT_GRACE_S = 300  # a delivered command's result may come this long after its expiry


async def unsent(
    conn: Conn, command_id: str | None = None, tablets: Sequence[str] | None = None
) -> list[Unsent]:
    """Queued targets not yet published (of one command, or all), not expired."""
    params = {"command": command_id, "tablets": list(tablets) if tablets is not None else None}
    async with conn.cursor(row_factory=class_row(Unsent)) as cur:
        await cur.execute(UNSENT, params)
        return await cur.fetchall()


async def expire(conn: Conn) -> int:
    """Queued targets past their expiry become ``expired`` (never sent after); delivered ones
    without a result :data:`RESULT_GRACE_S` later become ``failed``."""
    async with conn.transaction():
        cur = await conn.execute(EXPIRE)
        n = len(await cur.fetchall())
        cur = await conn.execute(NO_RESULT, (RESULT_GRACE_S,))
        return n + (cur.rowcount or 0)


# Commands whose every target is final, marked finished; each is audited with its counts.
FINISH = """
WITH done AS (
    SELECT c.command_id FROM commands c
    WHERE c.finished_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM command_targets t WHERE t.command_id = c.command_id
                      AND t.state IN ('queued', 'delivered'))
    ORDER BY c.issued_at LIMIT 500 FOR UPDATE SKIP LOCKED
), marked AS (
    UPDATE commands c SET finished_at = now() FROM done
    WHERE c.command_id = done.command_id
    RETURNING c.command_id, c.tenant_id, c.name
)
INSERT INTO audit_log (tenant_id, actor, action, target, details)
SELECT m.tenant_id, 'hub', 'command.done', 'command:' || m.command_id,
       jsonb_build_object('name', m.name, 'tablets', count(t.tablet_id),
           'succeeded', count(*) FILTER (WHERE t.state = 'succeeded'),
           'failed', count(*) FILTER (WHERE t.state = 'failed'),
           'expired', count(*) FILTER (WHERE t.state = 'expired'))
FROM marked m JOIN command_targets t USING (command_id)
GROUP BY m.command_id, m.tenant_id, m.name
"""


async def finish(conn: Conn) -> int:
    """Mark the commands every target of which is final, audited (``command.done``) with how
    many succeeded, failed and expired; how many."""
    async with conn.transaction():
        cur = await conn.execute(FINISH)
        return cur.rowcount or 0


WRITE = """
UPDATE command_targets t SET
    sent_at = coalesce(t.sent_at, e.sent_at),
    delivered_at = CASE WHEN t.state IN ('queued', 'delivered')
                        THEN coalesce(t.delivered_at, e.delivered_at) ELSE t.delivered_at END,
    state = CASE
        WHEN e.final IN ('succeeded', 'failed')
             AND (t.state IN ('queued', 'delivered')
                  OR (t.state = 'expired' AND t.delivered_at IS NOT NULL)) THEN e.final
        WHEN e.final = 'expired' AND t.state = 'queued' THEN 'expired'
        WHEN e.delivered_at IS NOT NULL AND t.state = 'queued' THEN 'delivered'
        ELSE t.state END,
    done_at = CASE
        WHEN e.final IN ('succeeded', 'failed')
             AND (t.state IN ('queued', 'delivered')
                  OR (t.state = 'expired' AND t.delivered_at IS NOT NULL)) THEN e.done_at
        WHEN e.final = 'expired' AND t.state = 'queued' THEN e.done_at
        ELSE t.done_at END,
    detail = CASE
        WHEN e.final IN ('succeeded', 'failed')
             AND (t.state IN ('queued', 'delivered')
                  OR (t.state = 'expired' AND t.delivered_at IS NOT NULL)) THEN e.detail
        ELSE t.detail END
FROM unnest(%b::uuid[], %b::text[], %b::timestamptz[], %b::timestamptz[], %b::text[],
            %b::timestamptz[], %b::text[])
     AS e(command_id, tablet_id, sent_at, delivered_at, final, done_at, detail)
WHERE t.command_id = e.command_id AND t.tablet_id = e.tablet_id
"""


async def write_events(cur: Cursor, events: Sequence[CommandEvent]) -> None:
    """Record what happened to commands, folded per (command, tablet) in order: the first
    publish, the first delivery, the first final state (a repeated report changes nothing)."""
    folded: dict[tuple[str, str], list[Any]] = {}
    for ev in events:
        row = folded.setdefault((ev.command_id, ev.tablet_id), [None, None, None, None, None])
        if ev.event == "sent":
            row[0] = row[0] or ev.at
        elif ev.event == "received":
            row[1] = row[1] or ev.at
        elif row[2] is None:
            row[2], row[3], row[4] = ev.event, ev.at, ev.detail
            if ev.event != "expired":
                row[1] = row[1] or ev.at
    keys = list(folded)
    rows = list(folded.values())
    await cur.execute(
        WRITE,
        (
            [uuid.UUID(k[0]) for k in keys],
            [k[1] for k in keys],
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [r[3] for r in rows],
            [r[4][:1024] if r[4] else None for r in rows],
        ),
    )


# --- the panel ------------------------------------------------------------------

LISTING = f"""
SELECT c.command_id, c.name, c.args, c.target, c.issued_by, c.issued_at, c.expires_at,
       count(*)::int AS total,
       count(*) FILTER (WHERE t.state = 'queued')::int AS queued,
       count(*) FILTER (WHERE t.state = 'delivered')::int AS delivered,
       count(*) FILTER (WHERE t.state = 'succeeded')::int AS succeeded,
       count(*) FILTER (WHERE t.state = 'failed')::int AS failed,
       count(*) FILTER (WHERE t.state = 'expired')::int AS expired
FROM commands c
JOIN command_targets t USING (command_id)
JOIN tablets tb ON tb.tablet_id = t.tablet_id
JOIN fleets f ON f.fleet_id = tb.fleet_id
WHERE c.tenant_id = %(tenant)s AND {IN_SCOPE}
  AND (%(command)s::uuid IS NULL OR c.command_id = %(command)s)
  AND (%(tablet)s::text IS NULL OR t.tablet_id = %(tablet)s)
GROUP BY c.command_id
ORDER BY c.issued_at DESC LIMIT %(limit)s
"""  # noqa: S608 - constant fragments only
TARGET_ROWS = f"""
SELECT t.tablet_id, tb.car_id, t.state, t.sent_at, t.delivered_at, t.done_at, t.detail,
       s.sha256 AS screenshot
FROM command_targets t
JOIN tablets tb ON tb.tablet_id = t.tablet_id
JOIN fleets f ON f.fleet_id = tb.fleet_id
LEFT JOIN screenshots s ON s.command_id = t.command_id AND s.tablet_id = t.tablet_id
WHERE t.command_id = %(command)s AND {IN_SCOPE}
ORDER BY t.tablet_id LIMIT %(limit)s
"""  # noqa: S608 - constant fragments only


async def listing(
    pool: AsyncConnectionPool,
    user: User,
    *,
    command_id: uuid.UUID | None = None,
    tablet_id: str | None = None,
    limit: int = 50,
) -> list[CommandRow]:
    """Commands with their counts by state (of the targets in the user's scope)."""
    params = scope_params(user, command=command_id, tablet=tablet_id, limit=limit)
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(CommandRow)) as cur:
        await cur.execute(LISTING, params)
        return await cur.fetchall()


async def targets(
    pool: AsyncConnectionPool, user: User, command_id: uuid.UUID, limit: int = 500
) -> list[TargetRow]:
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(TargetRow)) as cur:
        await cur.execute(TARGET_ROWS, scope_params(user, command=command_id, limit=limit))
        return await cur.fetchall()


async def states(conn: Conn, command_id: uuid.UUID) -> dict[str, int]:
    """Targets by state, whatever the scope (the CLI and the benchmark)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT state, count(*)::int AS n FROM command_targets WHERE command_id = %s"
            " GROUP BY state",
            (command_id,),
        )
        return {str(r["state"]): int(r["n"]) for r in await cur.fetchall()}
