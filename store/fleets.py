"""Fleet and tablet registration and the status view (``fleet add``, ``tablet add``, ``status``),
the fleet of each tablet (the play ingest's lookup) and the fleets a panel user sees, with their
zone and hours (the reports)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from actors.rules.hours import parse_hours
from config.errors import ConfigError
from store.audit import record
from store.scope import IN_SCOPE, scope_params
from store.users import User

FLEET_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
TABLET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CAR_ID = TABLET_ID
DEFAULT_HEARTBEAT_S = 60
DEFAULT_ALERT_AFTER_S = 300


@dataclass(frozen=True, slots=True)
class FleetSpec:
    fleet_id: str
    timezone: str = "UTC"
    alert_after_s: int = DEFAULT_ALERT_AFTER_S
    hours: str = ""
    flap_limit: int = 6
    name: str | None = None
    tenant_id: str = "default"


@dataclass(frozen=True, slots=True)
class TabletSpec:
    tablet_id: str
    fleet_id: str
    car_id: str | None = None
    heartbeat_interval_s: int = DEFAULT_HEARTBEAT_S
    offline_after_s: int | None = None  # default: 3 × heartbeat interval


UPSERT_FLEET = """
INSERT INTO fleets (fleet_id, tenant_id, name, timezone, operating_hours, alert_after_s,
    flap_limit) VALUES (%(fleet)s, %(tenant)s, coalesce(%(name)s, %(fleet)s), %(timezone)s,
    %(hours)s, %(alert_after_s)s, %(flap_limit)s)
ON CONFLICT (fleet_id) DO UPDATE SET name = coalesce(%(name)s, fleets.name),
    timezone = excluded.timezone, operating_hours = excluded.operating_hours,
    alert_after_s = excluded.alert_after_s, flap_limit = excluded.flap_limit
WHERE fleets.tenant_id = excluded.tenant_id AND NOT %(new_only)s
RETURNING (xmax = 0)
"""
MAX_NAME = 120


async def add_fleet(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    spec: FleetSpec,
    actor: str,
    *,
    new_only: bool = False,
) -> bool:
    """Create or update a fleet (its name only when ``spec.name`` is given); returns True when
    it was created. ``new_only``: an existing fleet of that id is refused, not updated."""
    if not FLEET_ID.match(spec.fleet_id):
        raise ConfigError(
            f"invalid fleet id {spec.fleet_id!r}: lower-case letters, digits and '-' (a slug)"
        )
    if spec.name is not None and not 0 < len(spec.name) <= MAX_NAME:
        raise ConfigError(f"a fleet's name has 1 to {MAX_NAME} characters")
    if spec.alert_after_s <= 0 or spec.flap_limit <= 0:
        raise ConfigError("the alert delay and the flap limit must be positive")
    hours = parse_hours(spec.hours, spec.timezone)  # validates both
    async with conn.transaction():
        cur = await conn.execute(
            UPSERT_FLEET,
            {
                "fleet": spec.fleet_id,
                "tenant": spec.tenant_id,
                "name": spec.name,
                "timezone": spec.timezone,
                "hours": hours.text,
                "alert_after_s": spec.alert_after_s,
                "flap_limit": spec.flap_limit,
                "new_only": new_only,
            },
        )
        row = await cur.fetchone()
        if row is None:
            if new_only:
                raise ConfigError(f"the fleet id {spec.fleet_id!r} is taken: choose another")
            raise ConfigError(f"fleet {spec.fleet_id!r} belongs to another tenant")
        created = bool(row[0])
        details: dict[str, object] = {
            "timezone": spec.timezone,
            "hours": hours.text,
            "alert_after_s": spec.alert_after_s,
            "flap_limit": spec.flap_limit,
        }
        if spec.name is not None:
            details["name"] = spec.name
        action = "fleet.add" if created else "fleet.update"
        await record(conn, spec.tenant_id, actor, action, f"fleet:{spec.fleet_id}", details)
        await conn.execute("SELECT pg_notify('fleethub_tablets', %s)", (f"fleet:{spec.fleet_id}",))
    return created


async def add_tablet(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    spec: TabletSpec,
    actor: str,
    *,
    new_only: bool = False,
) -> bool:
    """Register (or update) a tablet; returns True when it was created. ``new_only``: a
    tablet of that id already registered is refused, not updated."""
    if not TABLET_ID.match(spec.tablet_id):
        raise ConfigError(
            f"invalid tablet id {spec.tablet_id!r}: letters, digits, '.', '_' or '-', at most 64"
        )
    if spec.car_id is not None and not CAR_ID.match(spec.car_id):
        raise ConfigError(
            f"invalid car id {spec.car_id!r}: letters, digits, '.', '_' or '-', at most 64"
        )
    if spec.heartbeat_interval_s <= 0:
        raise ConfigError("the heartbeat interval must be positive")
    offline_after = spec.offline_after_s or 3 * spec.heartbeat_interval_s
    if offline_after <= spec.heartbeat_interval_s:
        raise ConfigError("--offline-after must be longer than --heartbeat-interval")
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT tenant_id FROM fleets WHERE fleet_id = %s", (spec.fleet_id,)
        )
        known = await cur.fetchone()
        if known is None:
            raise ConfigError(f"unknown fleet {spec.fleet_id!r}: add it with `fleethub fleet add`")
        tenant_id = str(known[0])
        owner = await (
            await conn.execute(
                "SELECT f.tenant_id FROM tablets t JOIN fleets f USING (fleet_id)"
                " WHERE t.tablet_id = %s FOR UPDATE OF t",
                (spec.tablet_id,),
            )
        ).fetchone()
        if owner is not None and owner[0] != tenant_id:  # ids are global: never moved across
            raise ConfigError(f"tablet {spec.tablet_id!r} belongs to another tenant")
        if owner is not None and new_only:
            raise ConfigError(f"tablet {spec.tablet_id!r} is already registered")
        if spec.car_id:
            await _car_in_fleet(conn, spec.car_id, spec.fleet_id, tenant_id)
        cur = await conn.execute(
            "INSERT INTO tablets (tablet_id, fleet_id, car_id, heartbeat_interval_s,"
            " offline_after_s) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (tablet_id) DO UPDATE SET fleet_id = excluded.fleet_id,"
            " car_id = excluded.car_id, heartbeat_interval_s = excluded.heartbeat_interval_s,"
            " offline_after_s = excluded.offline_after_s, revoked_at = NULL"
            " RETURNING (xmax = 0)",
            (spec.tablet_id, spec.fleet_id, spec.car_id, spec.heartbeat_interval_s, offline_after),
        )
        row = await cur.fetchone()
        created = bool(row and row[0])
        await conn.execute(
            "INSERT INTO tablet_state (tablet_id) VALUES (%s) ON CONFLICT DO NOTHING",
            (spec.tablet_id,),
        )
        await record(
            conn,
            tenant_id,
            actor,
            "tablet.add" if created else "tablet.update",
            f"tablet:{spec.tablet_id}",
            {"fleet_id": spec.fleet_id, "car_id": spec.car_id},
        )
        await conn.execute(
            "SELECT pg_notify('fleethub_tablets', %s)", (f"tablet:{spec.tablet_id}",)
        )
    return created


async def _car_in_fleet(
    conn: psycopg.AsyncConnection[tuple[object, ...]], car_id: str, fleet_id: str, tenant_id: str
) -> None:
    """The car, created in the fleet when new; refused when it is another fleet's."""
    cur = await conn.execute(
        "INSERT INTO cars (car_id, fleet_id) VALUES (%s, %s)"
        " ON CONFLICT (car_id) DO UPDATE SET car_id = excluded.car_id"
        " RETURNING fleet_id, (SELECT f.tenant_id FROM fleets f WHERE f.fleet_id = cars.fleet_id)",
        (car_id, fleet_id),
    )
    car = await cur.fetchone()
    if car is None or car[0] == fleet_id:
        return
    if car[1] != tenant_id:  # another tenant's car: its fleet is not ours to name
        raise ConfigError(f"the car id {car_id!r} is taken: choose another")
    raise ConfigError(f"car {car_id!r} belongs to fleet {car[0]!r}")


@dataclass(frozen=True, slots=True)
class StatusRow:
    tablet_id: str
    fleet_id: str
    state: str
    last_heartbeat_at: datetime | None
    desired_etag: str | None
    applied_etag: str | None
    open_incident: str | None


STATUS = """
SELECT t.tablet_id, t.fleet_id, coalesce(s.state, 'unknown') AS state, s.last_heartbeat_at,
       s.desired_etag, s.applied_etag, i.kind AS open_incident
FROM tablets t
LEFT JOIN tablet_state s USING (tablet_id)
LEFT JOIN incidents i ON i.incident_id = s.open_incident_id AND i.resolved_at IS NULL
JOIN fleets f ON f.fleet_id = t.fleet_id
WHERE t.revoked_at IS NULL AND (%(fleet)s::text IS NULL OR t.fleet_id = %(fleet)s)
  AND (%(tenant)s::text IS NULL OR f.tenant_id = %(tenant)s)
ORDER BY t.fleet_id, t.tablet_id
"""


async def status(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    fleet_id: str | None,
    tenant_id: str | None = None,
) -> list[StatusRow]:
    async with conn.cursor(row_factory=class_row(StatusRow)) as cur:
        await cur.execute(STATUS, {"fleet": fleet_id, "tenant": tenant_id})
        return await cur.fetchall()


async def tablet_fleets(
    conn: psycopg.AsyncConnection[tuple[object, ...]], tablet_ids: set[str]
) -> dict[str, str]:
    """The fleet of each of the tablets the store knows."""
    cur = await conn.execute(
        "SELECT tablet_id, fleet_id FROM tablets WHERE tablet_id = ANY(%s)",
        (sorted(tablet_ids),),
    )
    return {str(tablet_id): str(fleet_id) for tablet_id, fleet_id in await cur.fetchall()}


@dataclass(frozen=True, slots=True)
class Fleet:
    """A fleet as the reports read it: its zone and operating hours."""

    fleet_id: str
    name: str
    timezone: str
    operating_hours: str


SCOPED = (
    "SELECT f.fleet_id, f.name, f.timezone, f.operating_hours FROM fleets f"  # noqa: S608
    f" WHERE {IN_SCOPE} ORDER BY f.name, f.fleet_id"
)


async def scoped(pool: AsyncConnectionPool, user: User) -> list[Fleet]:
    """The fleets the user sees, with their zone and hours."""
    async with pool.connection() as conn:
        cur = await conn.execute(SCOPED, scope_params(user))
        return [Fleet(*(str(v) for v in row)) for row in await cur.fetchall()]


@dataclass(frozen=True, slots=True)
class FleetRef:
    fleet_id: str
    name: str


FLEET_IN_SCOPE = f"""
SELECT f.fleet_id, f.name FROM fleets f WHERE f.fleet_id = %(fleet)s AND {IN_SCOPE}
"""  # noqa: S608 - constant fragments only


async def fleet_in_scope(
    conn: psycopg.AsyncConnection[tuple[object, ...]], user: User, fleet_id: str
) -> FleetRef | None:
    """The fleet, when the user may see it."""
    async with conn.cursor(row_factory=class_row(FleetRef)) as cur:
        await cur.execute(FLEET_IN_SCOPE, scope_params(user, fleet=fleet_id))
        return await cur.fetchone()


async def tablet_ids(conn: psycopg.AsyncConnection[tuple[object, ...]], fleet_id: str) -> set[str]:
    """Every tablet registered in the fleet, revoked ones included."""
    cur = await conn.execute("SELECT tablet_id FROM tablets WHERE fleet_id = %s", (fleet_id,))
    return {str(r[0]) for r in await cur.fetchall()}


async def tenant_of(conn: psycopg.AsyncConnection[tuple[object, ...]], fleet_id: str) -> str | None:
    """The tenant the fleet belongs to (None when there is no such fleet)."""
    cur = await conn.execute("SELECT tenant_id FROM fleets WHERE fleet_id = %s", (fleet_id,))
    row = await cur.fetchone()
    return None if row is None else str(row[0])
