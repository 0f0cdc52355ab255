"""Claim codes: a fleet's single-use, expiring codes that a new tablet exchanges for its
identity, a device token and broker credentials (``POST /v1/device/pairing/claim``).

A code is eight characters of Crockford's base32 (no I, L, O or U), shown as
``ABCD-EFGH``; typing is forgiving (case, spaces, dashes, O for 0, I or L for 1). The
store keeps only the code's SHA-256, like device tokens. Eight characters give 32⁸ ≈ 10¹²
codes; with the per-address rate limit of the claim endpoint guessing is hopeless.

Claiming happens in one transaction: the code row is locked, the tablet, its device
token and its broker credentials are created, and the code is marked used. Broker
credentials are provisioned before the commit (the ``provision`` callback), so a broker
failure leaves the code unused and nothing stored.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from config.errors import HubError
from store import device_tokens
from store.audit import record
from store.fleets import DEFAULT_HEARTBEAT_S
from store.scope import IN_SCOPE, scope_params
from store.users import User

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32
LENGTH = 8
DEFAULT_TTL = timedelta(hours=24)
MAX_TTL = timedelta(days=30)
TABLET_PREFIX = "tab-"

Provision = Callable[[str, str], Awaitable[None]]  # (tablet_id, broker password)


class ClaimError(HubError):
    """A claim that cannot be honoured; ``status`` is the HTTP status it maps to."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class NewCode:
    code: str  # shown once, formatted ABCD-EFGH
    fleet_id: str
    car_id: str | None
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Claimed:
    tablet_id: str
    fleet_id: str
    car_id: str | None
    device_token: str
    mqtt_username: str
    mqtt_password: str
    heartbeat_interval_s: int


def generate() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalise(text: str) -> str | None:
    """The canonical eight characters of a typed code, or None if it cannot be one."""
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.replace("O", "0").replace("I", "1").replace("L", "1")
    if len(cleaned) != LENGTH or any(c not in ALPHABET for c in cleaned):
        return None
    return cleaned


def digest(code: str) -> str:
    """What the store keeps of a (normalised) code."""
    return hashlib.sha256(code.encode()).hexdigest()


def check_ttl(ttl: timedelta) -> None:
    if not timedelta(minutes=1) <= ttl <= MAX_TTL:
        raise ClaimError("a claim code must live between 1 minute and 30 days", 422)


FLEET = "SELECT tenant_id FROM fleets WHERE fleet_id = %s"
# Car ids are global (a car is in one fleet): a code may name a car of its fleet or a new one.
CAR_FLEET = "SELECT fleet_id FROM cars WHERE car_id = %s"
CAR_TAKEN = "car {!r} is already in use elsewhere: choose another car id"
INSERT = """
INSERT INTO claim_codes (code_hash, code_hint, tenant_id, fleet_id, car_id, created_by,
                         expires_at)
VALUES (%s, %s, %s, %s, %s, %s, now() + %s) RETURNING expires_at
"""


def _insert_args(
    code: str, tenant_id: str, fleet_id: str, car_id: str | None, actor: str, ttl: timedelta
) -> tuple[Any, ...]:
    canonical = normalise(code)
    assert canonical is not None
    return (digest(canonical), canonical[-2:], tenant_id, fleet_id, car_id, actor, ttl)


async def create(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    fleet_id: str,
    actor: str,
    ttl: timedelta = DEFAULT_TTL,
    car_id: str | None = None,
    *,
    tenant_id: str | None = None,
) -> NewCode:
    """A new code for the fleet. With ``tenant_id`` the caller (the panel) has checked the
    fleet is in that tenant's scope; without it (the CLI) the fleet's own tenant is used."""
    check_ttl(ttl)
    code = generate()
    async with conn.transaction():
        if tenant_id is None:
            row = await (await conn.execute(FLEET, (fleet_id,))).fetchone()
            if row is None:
                raise ClaimError(f"unknown fleet {fleet_id!r}", 404)
            tenant_id = str(row[0])
        if car_id is not None:
            _check_car(
                car_id, fleet_id, await (await conn.execute(CAR_FLEET, (car_id,))).fetchone()
            )
        cur = await conn.execute(
            INSERT, _insert_args(code, tenant_id, fleet_id, car_id, actor, ttl)
        )
        expires = await cur.fetchone()
        assert expires is not None
        await record(
            conn,
            tenant_id,
            actor,
            "claim_code.create",
            f"fleet:{fleet_id}",
            _created(code, car_id, ttl),
        )
    return NewCode(code, fleet_id, car_id, _at(expires[0]))


def _check_car(car_id: str | None, fleet_id: str, row: tuple[object, ...] | None) -> None:
    """A car of another fleet (any tenant's) is refused, saying no more than that it is taken."""
    if car_id is not None and row is not None and row[0] != fleet_id:
        raise ClaimError(CAR_TAKEN.format(car_id), 409)


def _at(value: object) -> datetime:
    assert isinstance(value, datetime)
    return value


def _created(code: str, car_id: str | None, ttl: timedelta) -> dict[str, Any]:
    return {"code_hint": code[-2:], "car_id": car_id, "ttl_s": int(ttl.total_seconds())}


LOCK = """
SELECT c.tenant_id, c.fleet_id, c.car_id, c.expires_at <= now(), c.claimed_at
FROM claim_codes c WHERE c.code_hash = %s FOR UPDATE
"""
ADD_TABLET = """
INSERT INTO tablets (tablet_id, fleet_id, car_id, heartbeat_interval_s, offline_after_s)
VALUES (%s, %s, %s, %s, %s)
"""
ADD_CAR = """
INSERT INTO cars (car_id, fleet_id) VALUES (%s, %s)
ON CONFLICT (car_id) DO UPDATE SET car_id = excluded.car_id RETURNING fleet_id
"""
USED = """
UPDATE claim_codes SET claimed_at = now(), tablet_id = %s, device_info = %s
WHERE code_hash = %s
"""


async def claim(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    code: str,
    device_info: dict[str, Any],
    provision: Provision,
) -> Claimed:
    """Exchange a code for a new tablet. Raises :class:`ClaimError` (404, 409 or 410)."""
    canonical = normalise(code)
    if canonical is None:
        raise ClaimError("unknown claim code: check it and type it again", 404)
    async with conn.transaction():
        cur = await conn.execute(LOCK, (digest(canonical),))
        row = await cur.fetchone()
        if row is None:
            raise ClaimError("unknown claim code: check it and type it again", 404)
        tenant_id, fleet_id, car, expired, claimed_at = row
        car_id = None if car is None else str(car)
        if claimed_at is not None:
            raise ClaimError(
                f"this claim code was already used (at {claimed_at:%Y-%m-%d %H:%M}"
                " UTC): ask for a new one",
                409,
            )
        if expired:
            raise ClaimError("this claim code has expired: ask for a new one", 410)
        tablet_id = TABLET_PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(10)).lower()
        interval = DEFAULT_HEARTBEAT_S
        if car_id is not None:  # taken by another fleet since the code was made: refused
            _check_car(
                car_id,
                str(fleet_id),
                await (await conn.execute(ADD_CAR, (car_id, fleet_id))).fetchone(),
            )
        await conn.execute(ADD_TABLET, (tablet_id, fleet_id, car_id, interval, 3 * interval))
        await conn.execute("INSERT INTO tablet_state (tablet_id) VALUES (%s)", (tablet_id,))
        token = device_tokens.PREFIX + secrets.token_urlsafe(32)
        await conn.execute(
            "INSERT INTO device_tokens (token_hash, tablet_id) VALUES (%s, %s)",
            (device_tokens.digest(token), tablet_id),
        )
        await conn.execute(USED, (tablet_id, Jsonb(device_info), digest(canonical)))
        await record(
            conn,
            str(tenant_id),
            "device:claim",
            "tablet.claim",
            f"tablet:{tablet_id}",
            {
                "fleet_id": fleet_id,
                "car_id": car_id,
                "code_hint": canonical[-2:],
                "device_info": device_info,
            },
        )
        await conn.execute("SELECT pg_notify('fleethub_tablets', %s)", (f"tablet:{tablet_id}",))
        password = secrets.token_urlsafe(24)
        await provision(tablet_id, password)  # before the commit: a failure stores nothing
    return Claimed(tablet_id, str(fleet_id), car_id, token, tablet_id, password, interval)


# A fleet's codes, newest first, for a user who may see the fleet.
CODES = f"""
SELECT c.code_hint, c.car_id, c.created_by, c.created_at, c.expires_at, c.claimed_at,
       c.tablet_id, c.expires_at <= now() AND c.claimed_at IS NULL AS expired
FROM claim_codes c JOIN fleets f USING (fleet_id)
WHERE c.fleet_id = %(fleet)s AND {IN_SCOPE}
ORDER BY c.created_at DESC LIMIT %(limit)s
"""  # noqa: S608 - constant fragments only


@dataclass(frozen=True, slots=True)
class CodeListed:
    code_hint: str  # the code's last two characters
    car_id: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime
    claimed_at: datetime | None
    tablet_id: str | None
    expired: bool


async def codes(
    conn: psycopg.AsyncConnection[Any], user: User, fleet_id: str, limit: int
) -> list[CodeListed]:
    """The fleet's latest ``limit`` codes; none when the fleet is not in the user's scope."""
    async with conn.cursor(row_factory=class_row(CodeListed)) as cur:
        await cur.execute(CODES, scope_params(user, fleet=fleet_id, limit=limit))
        return await cur.fetchall()
