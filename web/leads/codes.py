"""QR codes of a lead campaign: create (with optional attribution and cap), list, revoke, draw.

A code is 10 characters from a 31-letter alphabet without look-alikes (about 50 bits, from
``secrets``): short enough to type, far too many to guess. The picture (PNG or SVG, drawn by
``segno``) encodes the absolute URL of the public form, ``{base}/l/{code}``.
"""

from __future__ import annotations

import io
import secrets
from typing import Annotated, Any, Literal

import psycopg
import segno
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from config.errors import StoreError
from store import qr_codes as store
from store.audit import record
from store.qr_codes import QrRow
from store.users import User
from web.leads.campaigns import CampaignId
from web.leads.intake import ALPHABET, CODE

CODE_LENGTH = 10
Kind = Literal["png", "svg"]
OptionalId = Annotated[str, Field(max_length=128)] | None


class QrIn(BaseModel):
    """A new QR code: where it will be shown (optional) and how many new leads it may bring."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    fleet_id: OptionalId = None
    car_id: OptionalId = None
    tablet_id: OptionalId = None
    max_leads: Annotated[int, Field(ge=1, le=1_000_000)] | None = None


class QrCreate(QrIn):
    """The API's body: the campaign named in it."""

    campaign_id: CampaignId


class BadAttribution(Exception):
    """A fleet, car or tablet the tenant does not have, or that do not go together."""


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


async def codes(
    pool: AsyncConnectionPool,
    user: User,
    campaign_id: str | None = None,
    code: str | None = None,
) -> list[QrRow]:
    async with pool.connection() as conn:
        return await store.codes(conn, user.tenant_id, campaign_id, code)


async def code(pool: AsyncConnectionPool, user: User, code: str) -> QrRow | None:
    if not CODE.match(code):
        return None
    found = await codes(pool, user, code=code)
    return found[0] if found else None


async def _fleet(conn: psycopg.AsyncConnection[Any], user: User, wanted: QrIn) -> str | None:
    """The one fleet the given fleet/car/tablet belong to (all of the tenant), else raise."""
    fleets: set[str] = set()
    wanted_at: tuple[tuple[store.Placed, str | None], ...] = (
        ("fleet", wanted.fleet_id),
        ("car", wanted.car_id),
        ("tablet", wanted.tablet_id),
    )
    for kind, value in wanted_at:
        if not value:
            continue
        fleet_id = await store.fleet_of(conn, user.tenant_id, kind, value)
        if fleet_id is None:
            raise BadAttribution(f"your tenant has no {kind} {value!r}")
        fleets.add(fleet_id)
    if len(fleets) > 1:
        raise BadAttribution("the fleet, car and tablet given belong to different fleets")
    return next(iter(fleets), None)


async def create(
    pool: AsyncConnectionPool, user: User, campaign_id: str, wanted: QrIn
) -> QrRow | None:
    """A new code for the campaign; None when the tenant has no such campaign."""
    async with pool.connection() as conn, conn.transaction():
        if not await store.campaign_exists(conn, user.tenant_id, campaign_id):
            return None
        fleet_id = await _fleet(conn, user, wanted)
        placed = (fleet_id, wanted.car_id or None, wanted.tablet_id or None)
        row: QrRow | None = None
        for _ in range(5):  # a collision of 50-bit codes is all but impossible: retry
            row = await store.insert(
                conn,
                new_code(),
                user.tenant_id,
                campaign_id,
                placed,
                wanted.max_leads,
                user.email,
            )
            if row is not None:
                break
        if row is None:
            raise StoreError("could not draw an unused QR code")
        await record(
            conn,
            user.tenant_id,
            user.email,
            "lead_qr.create",
            f"lead_qr:{row.code}",
            {
                "campaign_id": campaign_id,
                "fleet_id": fleet_id,
                "car_id": row.car_id,
                "tablet_id": row.tablet_id,
                "max_leads": row.max_leads,
            },
        )
    return row


async def revoke(pool: AsyncConnectionPool, user: User, code: str) -> QrRow | None:
    """None when the tenant has no such active code."""
    if not CODE.match(code):
        return None
    async with pool.connection() as conn, conn.transaction():
        row = await store.revoke(conn, user.tenant_id, code)
        if row is not None:
            details = {"campaign_id": row.campaign_id, "leads": row.lead_count}
            await record(
                conn, user.tenant_id, user.email, "lead_qr.revoke", f"lead_qr:{code}", details
            )
    return row


def form_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/l/{code}"


def picture(url: str, kind: Kind) -> bytes:
    """The QR code of ``url`` (error correction M, 4-module quiet zone)."""
    qr = segno.make_qr(url, error="m")
    out = io.BytesIO()
    if kind == "png":
        qr.save(out, kind="png", scale=10, border=4)
    else:
        qr.save(out, kind="svg", scale=10, border=4, title=url, xmldecl=False)
    return out.getvalue()
