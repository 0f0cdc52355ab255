"""The panel's fleet management: fleets with their settings and counts, and their cars.

Fleets are created and changed by :func:`store.fleets.add_fleet` (as ``fleethub fleet add``
does); this module reads them within a user's scope and keeps the cars: add, move to another
fleet of the tenant (with their tablets), remove. Each change is one transaction with its
audit row and ``NOTIFY fleethub_tablets`` for every tablet it touches, so the hub reloads
them and re-resolves their playlists (a car's assignments follow it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from config.errors import ConfigError
from store.audit import record
from store.fleets import CAR_ID, FleetSpec
from store.scope import IN_SCOPE, scope_params
from store.users import User

Conn = psycopg.AsyncConnection[tuple[object, ...]]
NOTIFY_TABLET = "SELECT pg_notify('fleethub_tablets', 'tablet:' || t) FROM unnest(%s::text[]) t"


@dataclass(frozen=True, slots=True)
class FleetRow:
    fleet_id: str
    name: str
    timezone: str
    operating_hours: str
    alert_after_s: int
    flap_limit: int
    created_at: datetime
    tablets: int
    cars: int
    online: int

    def spec(self, tenant_id: str) -> FleetSpec:
        return FleetSpec(
            self.fleet_id,
            self.timezone,
            self.alert_after_s,
            self.operating_hours,
            self.flap_limit,
            self.name,
            tenant_id,
        )


FLEETS = f"""
SELECT f.fleet_id, f.name, f.timezone, f.operating_hours, f.alert_after_s, f.flap_limit,
       f.created_at,
       (SELECT count(*) FROM tablets t WHERE t.fleet_id = f.fleet_id AND t.revoked_at IS NULL)
         AS tablets,
       (SELECT count(*) FROM cars c WHERE c.fleet_id = f.fleet_id) AS cars,
       (SELECT count(*) FROM tablets t JOIN tablet_state s USING (tablet_id)
         WHERE t.fleet_id = f.fleet_id AND t.revoked_at IS NULL AND s.state = 'online') AS online
FROM fleets f
WHERE {IN_SCOPE} AND (%(fleet)s::text IS NULL OR f.fleet_id = %(fleet)s)
ORDER BY f.name, f.fleet_id
"""  # noqa: S608 - constant fragments only


async def fleets(conn: Conn, user: User, fleet_id: str | None = None) -> list[FleetRow]:
    """The fleets the user sees (or the one named, when in scope), with their counts."""
    async with conn.cursor(row_factory=class_row(FleetRow)) as cur:
        await cur.execute(FLEETS, scope_params(user, fleet=fleet_id))
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class CarRow:
    car_id: str
    fleet_id: str
    fleet_name: str
    tablets: list[str]
    created_at: datetime


CARS = f"""
SELECT c.car_id, c.fleet_id, f.name AS fleet_name,
       coalesce((SELECT array_agg(t.tablet_id ORDER BY t.tablet_id) FROM tablets t
                 WHERE t.car_id = c.car_id AND t.revoked_at IS NULL), '{{}}') AS tablets,
       c.created_at
FROM cars c JOIN fleets f USING (fleet_id)
WHERE {IN_SCOPE} AND (%(fleet)s::text IS NULL OR f.fleet_id = %(fleet)s)
  AND (%(car)s::text IS NULL OR c.car_id = %(car)s)
ORDER BY f.name, c.fleet_id, c.car_id
LIMIT %(limit)s
"""  # noqa: S608 - constant fragments only


async def cars(
    conn: Conn, user: User, fleet_id: str | None = None, car_id: str | None = None, limit: int = 500
) -> list[CarRow]:
    """The cars of the fleets the user sees (of one fleet, or the one car), with their tablets."""
    async with conn.cursor(row_factory=class_row(CarRow)) as cur:
        await cur.execute(CARS, scope_params(user, fleet=fleet_id, car=car_id, limit=limit))
        return await cur.fetchall()


FLEET_IN_SCOPE = f"SELECT 1 FROM fleets f WHERE f.fleet_id = %(fleet)s AND {IN_SCOPE}"  # noqa: S608
CAR_IN_SCOPE = f"""
SELECT c.fleet_id FROM cars c JOIN fleets f USING (fleet_id)
WHERE c.car_id = %(car)s AND {IN_SCOPE} FOR UPDATE OF c
"""  # noqa: S608 - constant fragments only


async def _fleet_in_scope(conn: Conn, user: User, fleet_id: str) -> None:
    cur = await conn.execute(FLEET_IN_SCOPE, scope_params(user, fleet=fleet_id))
    if await cur.fetchone() is None:
        raise ConfigError(f"no fleet {fleet_id!r}")


async def add_car(conn: Conn, user: User, car_id: str, fleet_id: str, actor: str) -> None:
    """A new car in a fleet of the user's scope; an id already taken is refused."""
    if not CAR_ID.match(car_id):
        raise ConfigError(
            f"invalid car id {car_id!r}: letters, digits, '.', '_' or '-', at most 64"
        )
    async with conn.transaction():
        await _fleet_in_scope(conn, user, fleet_id)
        cur = await conn.execute(
            "INSERT INTO cars (car_id, fleet_id) VALUES (%s, %s) ON CONFLICT DO NOTHING"
            " RETURNING 1",
            (car_id, fleet_id),
        )
        if await cur.fetchone() is None:
            raise ConfigError(f"the car id {car_id!r} is taken: choose another")
        details = {"fleet_id": fleet_id}
        await record(conn, user.tenant_id, actor, "car.add", f"car:{car_id}", details)


async def _car_fleet(conn: Conn, user: User, car_id: str) -> str | None:
    cur = await conn.execute(CAR_IN_SCOPE, scope_params(user, car=car_id))
    row = await cur.fetchone()
    return None if row is None else str(row[0])


async def move_car(conn: Conn, user: User, car_id: str, fleet_id: str, actor: str) -> bool:
    """Move the car, with its tablets, to another fleet of the user's scope; False when the
    car is not in scope."""
    async with conn.transaction():
        old = await _car_fleet(conn, user, car_id)
        if old is None:
            return False
        await _fleet_in_scope(conn, user, fleet_id)
        if old == fleet_id:
            return True
        await conn.execute("UPDATE cars SET fleet_id = %s WHERE car_id = %s", (fleet_id, car_id))
        cur = await conn.execute(
            "UPDATE tablets SET fleet_id = %s WHERE car_id = %s RETURNING tablet_id",
            (fleet_id, car_id),
        )
        moved = sorted(str(r[0]) for r in await cur.fetchall())
        await record(
            conn,
            user.tenant_id,
            actor,
            "car.move",
            f"car:{car_id}",
            {"from": old, "to": fleet_id, "tablets": moved},
        )
        await conn.execute(NOTIFY_TABLET, (moved,))
    return True


async def remove_car(conn: Conn, user: User, car_id: str, actor: str) -> bool:
    """Delete the car: its tablets stay in their fleet, in no car. False when not in scope."""
    async with conn.transaction():
        fleet_id = await _car_fleet(conn, user, car_id)
        if fleet_id is None:
            return False
        cur = await conn.execute(
            "UPDATE tablets SET car_id = NULL WHERE car_id = %s RETURNING tablet_id", (car_id,)
        )
        freed = sorted(str(r[0]) for r in await cur.fetchall())
        await conn.execute("DELETE FROM cars WHERE car_id = %s", (car_id,))
        await record(
            conn,
            user.tenant_id,
            actor,
            "car.remove",
            f"car:{car_id}",
            {"fleet_id": fleet_id, "tablets": freed},
        )
        await conn.execute(NOTIFY_TABLET, (freed,))
    return True
