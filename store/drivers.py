"""The driver register (``drivers``) and who drove which car when (``driver_assignments``),
per tenant and scoped like every panel query (an admin's tenant, a fleet owner's fleets);
what tablets report as ``driver_id`` matched to the register; a driver's own view (their
car's tablets and open incidents).

Every write is one transaction with its audit row; assignments run under the tenant's
billing lock and meet the rules of :mod:`billing.assignments`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

from billing.assignments import Assignment, check_assignment, check_end
from billing.errors import BillingError
from store import billing_closes
from store.audit import record
from store.scope import IN_SCOPE, scope_params
from store.users import User

Conn = psycopg.AsyncConnection[Any]
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
MAX_NAME = 120
MAX_PHONE = 32


@dataclass(frozen=True, slots=True)
class DriverRow:
    driver_id: int
    tenant_id: str
    fleet_id: str
    fleet_name: str
    timezone: str
    code: str
    name: str
    phone: str | None
    user_id: int | None
    car_today: str | None
    created_at: datetime


DRIVERS = f"""
SELECT d.driver_id, d.tenant_id, d.fleet_id, f.name AS fleet_name, f.timezone, d.code, d.name,
       d.phone, d.user_id,
       (SELECT a.car_id FROM driver_assignments a WHERE a.driver_id = d.driver_id
          AND a.valid_from <= (now() AT TIME ZONE f.timezone)::date
          AND (a.valid_to IS NULL OR a.valid_to >= (now() AT TIME ZONE f.timezone)::date)
        LIMIT 1) AS car_today,
       d.created_at
FROM drivers d JOIN fleets f ON f.fleet_id = d.fleet_id AND f.tenant_id = d.tenant_id
WHERE {IN_SCOPE} AND (%(fleet)s::text IS NULL OR f.fleet_id = %(fleet)s)
  AND (%(driver)s::bigint IS NULL OR d.driver_id = %(driver)s)
  AND (%(user_id)s::bigint IS NULL OR d.user_id = %(user_id)s)
ORDER BY f.name, d.name, d.driver_id
"""  # noqa: S608 - constant fragments only


async def drivers(conn: Conn, user: User, fleet_id: str | None = None) -> list[DriverRow]:
    """The drivers of the fleets the user sees (or of one of them)."""
    params = scope_params(user, fleet=fleet_id, driver=None, user_id=None)
    async with conn.cursor(row_factory=class_row(DriverRow)) as cur:
        await cur.execute(DRIVERS, params)
        return await cur.fetchall()


async def driver(conn: Conn, user: User, driver_id: int) -> DriverRow | None:
    """The driver, when in the user's scope."""
    params = scope_params(user, fleet=None, driver=driver_id, user_id=None)
    async with conn.cursor(row_factory=class_row(DriverRow)) as cur:
        await cur.execute(DRIVERS, params)
        return await cur.fetchone()


async def of_user(conn: Conn, user: User) -> DriverRow | None:
    """The register entry a driver signs in as (their own, in their tenant)."""
    params = {
        "tenant": user.tenant_id,
        "fleets": None,
        "fleet": None,
        "driver": None,
        "user_id": user.user_id,
    }
    async with conn.cursor(row_factory=class_row(DriverRow)) as cur:
        await cur.execute(DRIVERS, params)
        return await cur.fetchone()


def _fields(code: str, name: str, phone: str | None) -> tuple[str, str, str | None]:
    code, name = code.strip(), " ".join(name.split())
    if not CODE.match(code):
        raise BillingError(
            f"the driver code {code[:70]!r} is what the tablet reports as driver_id: letters,"
            " digits, '.', '_', ':' or '-', at most 64"
        )
    if not 1 <= len(name) <= MAX_NAME:
        raise BillingError(f"the name has 1 to {MAX_NAME} characters")
    phone = (phone or "").strip() or None
    if phone is not None and len(phone) > MAX_PHONE:
        raise BillingError(f"the phone has at most {MAX_PHONE} characters")
    return code, name, phone


FLEET_IN_SCOPE = f"SELECT f.tenant_id FROM fleets f WHERE f.fleet_id = %(fleet)s AND {IN_SCOPE}"  # noqa: S608
CODE_TAKEN = "SELECT name FROM drivers WHERE tenant_id = %s AND code = %s AND driver_id <> %s"
INSERT = """
INSERT INTO drivers (tenant_id, fleet_id, code, name, phone, created_by)
VALUES (%s, %s, %s, %s, %s, %s) RETURNING driver_id
"""
UPDATE = "UPDATE drivers SET code = %s, name = %s, phone = %s WHERE driver_id = %s"
RENAME_LOGIN = "UPDATE users SET name = %s WHERE user_id = %s AND role = 'driver'"


async def _code_free(conn: Conn, tenant_id: str, code: str, driver_id: int) -> None:
    row = await (await conn.execute(CODE_TAKEN, (tenant_id, code, driver_id))).fetchone()
    if row is not None:
        raise BillingError(f"the code {code} is already {row[0]}'s: each driver has their own")


async def add(
    conn: Conn, user: User, fleet_id: str, code: str, name: str, phone: str | None, actor: str
) -> int:
    """A new driver of a fleet in the user's scope (LookupError: no such fleet)."""
    code, name, phone = _fields(code, name, phone)
    async with conn.transaction():
        row = await (
            await conn.execute(FLEET_IN_SCOPE, scope_params(user, fleet=fleet_id))
        ).fetchone()
        if row is None:
            raise LookupError(fleet_id)
        await _code_free(conn, user.tenant_id, code, 0)
        cur = await conn.execute(INSERT, (user.tenant_id, fleet_id, code, name, phone, actor))
        created = await cur.fetchone()
        assert created is not None
        driver_id = int(str(created[0]))
        await record(
            conn,
            user.tenant_id,
            actor,
            "driver.add",
            f"driver:{driver_id}",
            {"fleet": fleet_id, "code": code, "name": name},
        )
    return driver_id


async def update(
    conn: Conn, user: User, driver_id: int, code: str, name: str, phone: str | None, actor: str
) -> None:
    """Change a driver's code, name and phone (LookupError: not in scope)."""
    code, name, phone = _fields(code, name, phone)
    async with conn.transaction():
        found = await driver(conn, user, driver_id)
        if found is None:
            raise LookupError(driver_id)
        await _code_free(conn, user.tenant_id, code, driver_id)
        await conn.execute(UPDATE, (code, name, phone, driver_id))
        if found.user_id is not None:
            await conn.execute(RENAME_LOGIN, (name, found.user_id))
        await record(
            conn,
            user.tenant_id,
            actor,
            "driver.update",
            f"driver:{driver_id}",
            {"code": code, "name": name, "was": {"code": found.code, "name": found.name}},
        )


# --- assignments ----------------------------------------------------------------------------

ASSIGNMENTS = """
SELECT a.assignment_id, a.driver_id, d.name AS driver_name, a.car_id, a.valid_from, a.valid_to
FROM driver_assignments a JOIN drivers d USING (driver_id)
WHERE a.tenant_id = %(tenant)s
  AND (%(driver)s::bigint IS NULL OR a.driver_id = %(driver)s OR a.car_id = %(car)s)
ORDER BY a.valid_from DESC, a.assignment_id DESC
"""
CAR_OF_FLEET = "SELECT 1 FROM cars WHERE car_id = %s AND fleet_id = %s"
INSERT_ASSIGNMENT = """
INSERT INTO driver_assignments (tenant_id, driver_id, car_id, valid_from, valid_to, created_by)
VALUES (%s, %s, %s, %s, %s, %s) RETURNING assignment_id
"""
END_ASSIGNMENT = "UPDATE driver_assignments SET valid_to = %s WHERE assignment_id = %s"


async def assignments(
    conn: Conn, tenant_id: str, driver_id: int, car_id: str = ""
) -> list[Assignment]:
    """The driver's assignments and those of ``car_id``, latest first."""
    params = {"tenant": tenant_id, "driver": driver_id, "car": car_id}
    async with conn.cursor(row_factory=class_row(Assignment)) as cur:
        await cur.execute(ASSIGNMENTS, params)
        return await cur.fetchall()


async def assign(
    conn: Conn,
    user: User,
    driver_id: int,
    car_id: str,
    valid_from: date,
    valid_to: date | None,
    actor: str,
) -> int:
    """``driver_id`` drives ``car_id`` (a car of their fleet) from ``valid_from`` to
    ``valid_to``; LookupError when the driver is not in scope, BillingError when refused."""
    async with conn.transaction():
        await billing_closes.lock(conn, user.tenant_id)
        found = await driver(conn, user, driver_id)
        if found is None:
            raise LookupError(driver_id)
        car_id = car_id.strip()
        if await (await conn.execute(CAR_OF_FLEET, (car_id, found.fleet_id))).fetchone() is None:
            raise BillingError(f"fleet {found.fleet_name} has no car {car_id[:64]!r}")
        new = Assignment(0, driver_id, found.name, car_id, valid_from, valid_to)
        others = await assignments(conn, user.tenant_id, driver_id, car_id)
        check_assignment(new, others, await billing_closes.closed_through(conn, user.tenant_id))
        cur = await conn.execute(
            INSERT_ASSIGNMENT, (user.tenant_id, driver_id, car_id, valid_from, valid_to, actor)
        )
        row = await cur.fetchone()
        assert row is not None
        assignment_id = int(str(row[0]))
        await record(
            conn,
            user.tenant_id,
            actor,
            "driver.assign",
            f"driver:{driver_id}",
            {
                "assignment": assignment_id,
                "car": car_id,
                "from": str(valid_from),
                "to": None if valid_to is None else str(valid_to),
            },
        )
    return assignment_id


async def end_assignment(
    conn: Conn, user: User, driver_id: int, assignment_id: int, valid_to: date, actor: str
) -> None:
    """Give one of the driver's assignments its last day (LookupError: not theirs or not in
    scope; BillingError: refused)."""
    async with conn.transaction():
        await billing_closes.lock(conn, user.tenant_id)
        if await driver(conn, user, driver_id) is None:
            raise LookupError(driver_id)
        mine = [
            a
            for a in await assignments(conn, user.tenant_id, driver_id)
            if a.assignment_id == assignment_id and a.driver_id == driver_id
        ]
        if not mine:
            raise LookupError(assignment_id)
        check_end(mine[0], valid_to, await billing_closes.closed_through(conn, user.tenant_id))
        await conn.execute(END_ASSIGNMENT, (valid_to, assignment_id))
        await record(
            conn,
            user.tenant_id,
            actor,
            "driver.assignment_end",
            f"driver:{driver_id}",
            {"assignment": assignment_id, "car": mine[0].car_id, "to": str(valid_to)},
        )


# --- what tablets report ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reported:
    """A tablet's latest heartbeat of the last day named a driver: the code, and who the
    register says that is and who drives the tablet's car today."""

    tablet_id: str
    car_id: str | None
    fleet_id: str
    code: str
    at: datetime
    reported_driver_id: int | None
    reported_name: str | None
    assigned_driver_id: int | None
    assigned_name: str | None

    @property
    def matches(self) -> bool:
        return self.reported_driver_id is not None and (
            self.reported_driver_id == self.assigned_driver_id
        )


REPORTED = f"""
SELECT t.tablet_id, t.car_id, f.fleet_id, h.code, h.at,
       d.driver_id AS reported_driver_id, d.name AS reported_name,
       a.driver_id AS assigned_driver_id, ad.name AS assigned_name
FROM tablets t
JOIN fleets f ON f.fleet_id = t.fleet_id
CROSS JOIN LATERAL (
    SELECT left(hb.extra ->> 'driver_id', 64) AS code, hb.time AS at FROM heartbeats hb
    WHERE hb.tablet_id = t.tablet_id AND hb.time > now() - interval '24 hours'
    ORDER BY hb.time DESC LIMIT 1) h
LEFT JOIN drivers d ON d.tenant_id = f.tenant_id AND d.code = h.code
LEFT JOIN driver_assignments a ON a.tenant_id = f.tenant_id AND a.car_id = t.car_id
     AND a.valid_from <= (now() AT TIME ZONE f.timezone)::date
     AND (a.valid_to IS NULL OR a.valid_to >= (now() AT TIME ZONE f.timezone)::date)
LEFT JOIN drivers ad ON ad.driver_id = a.driver_id
WHERE {IN_SCOPE} AND t.revoked_at IS NULL AND h.code IS NOT NULL
  AND (%(fleet)s::text IS NULL OR f.fleet_id = %(fleet)s)
ORDER BY (d.driver_id IS NOT DISTINCT FROM a.driver_id), f.fleet_id, t.car_id, t.tablet_id
LIMIT 500
"""  # noqa: S608 - constant fragments only


async def reported(conn: Conn, user: User, fleet_id: str | None = None) -> list[Reported]:
    """The tablets in scope whose latest heartbeat (of the last 24 h) names a driver,
    mismatches first."""
    async with conn.cursor(row_factory=class_row(Reported)) as cur:
        await cur.execute(REPORTED, scope_params(user, fleet=fleet_id))
        return await cur.fetchall()


# --- a driver's own view --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DriverTablet:
    tablet_id: str
    car_id: str
    state: str
    state_since: datetime | None
    last_heartbeat_at: datetime | None


@dataclass(frozen=True, slots=True)
class DriverIncident:
    incident_id: uuid.UUID
    tablet_id: str
    car_id: str
    kind: str
    opened_at: datetime
    offline_since: datetime | None
    acked_at: datetime | None


TABLETS = """
SELECT t.tablet_id, t.car_id, coalesce(s.state, 'unknown') AS state, s.state_since,
       s.last_heartbeat_at
FROM tablets t LEFT JOIN tablet_state s USING (tablet_id)
WHERE t.fleet_id = %(fleet)s AND t.car_id = %(car)s AND t.revoked_at IS NULL
ORDER BY t.tablet_id
"""
INCIDENTS = """
SELECT i.incident_id, i.tablet_id, t.car_id, i.kind, i.opened_at, i.offline_since, i.acked_at
FROM incidents i JOIN tablets t USING (tablet_id)
WHERE t.fleet_id = %(fleet)s AND t.car_id = %(car)s AND i.resolved_at IS NULL
ORDER BY i.opened_at DESC
LIMIT 50
"""


async def car_tablets(conn: Conn, fleet_id: str, car_id: str) -> list[DriverTablet]:
    async with conn.cursor(row_factory=class_row(DriverTablet)) as cur:
        await cur.execute(TABLETS, {"fleet": fleet_id, "car": car_id})
        return await cur.fetchall()


async def car_incidents(conn: Conn, fleet_id: str, car_id: str) -> list[DriverIncident]:
    """The open incidents of the car's tablets, newest first."""
    async with conn.cursor(row_factory=class_row(DriverIncident)) as cur:
        await cur.execute(INCIDENTS, {"fleet": fleet_id, "car": car_id})
        return await cur.fetchall()
