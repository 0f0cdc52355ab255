"""QR codes of a lead campaign: create (with optional attribution and cap), list, revoke, draw.

A code is 10 characters from a 31-letter alphabet without look-alikes (about 50 bits, from
``secrets``): short enough to type, far too many to guess. The picture (PNG or SVG, drawn by
``segno``) encodes the absolute URL of the public form, ``{base}/l/{code}``.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

import psycopg
import segno
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from config.errors import StoreError
from store.audit import record
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


@dataclass(frozen=True, slots=True)
class QrRow:
    code: str
    campaign_id: str
    fleet_id: str | None
    car_id: str | None
    tablet_id: str | None
    max_leads: int | None
    lead_count: int
    created_by: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def where(self) -> str:
        parts = [
            f"{k} {v}"
            for k, v in (("tablet", self.tablet_id), ("car", self.car_id), ("fleet", self.fleet_id))
            if v
        ]
        return ", ".join(parts) or "—"


class BadAttribution(Exception):
    """A fleet, car or tablet the tenant does not have, or that do not go together."""


COLUMNS = (
    "code, campaign_id, fleet_id, car_id, tablet_id, max_leads, lead_count, created_by,"
    " created_at, revoked_at"
)
LIST = f"""
SELECT {COLUMNS} FROM qr_codes
WHERE tenant_id = %(tenant)s AND (%(campaign)s::text IS NULL OR campaign_id = %(campaign)s)
  AND (%(code)s::text IS NULL OR code = %(code)s)
ORDER BY revoked_at IS NOT NULL, created_at DESC, code
"""  # noqa: S608 - constant fragments only
INSERT = f"""
INSERT INTO qr_codes (code, tenant_id, campaign_id, fleet_id, car_id, tablet_id, max_leads,
                      created_by)
SELECT %s, c.tenant_id, c.campaign_id, %s, %s, %s, %s, %s
FROM lead_campaigns c WHERE c.tenant_id = %s AND c.campaign_id = %s
ON CONFLICT (code) DO NOTHING
RETURNING {COLUMNS}
"""  # noqa: S608 - constant fragments only
REVOKE = f"""
UPDATE qr_codes SET revoked_at = now()
WHERE tenant_id = %s AND code = %s AND revoked_at IS NULL
RETURNING {COLUMNS}
"""  # noqa: S608 - constant fragments only
FLEET_OF = {
    "fleet": "SELECT f.fleet_id, NULL FROM fleets f WHERE f.tenant_id = %s AND f.fleet_id = %s",
    "car": "SELECT c.fleet_id, NULL FROM cars c JOIN fleets f USING (fleet_id)"
    " WHERE f.tenant_id = %s AND c.car_id = %s",
    "tablet": "SELECT t.fleet_id, t.car_id FROM tablets t JOIN fleets f USING (fleet_id)"
    " WHERE f.tenant_id = %s AND t.tablet_id = %s AND t.revoked_at IS NULL",
}


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


async def codes(
    pool: AsyncConnectionPool,
    user: User,
    campaign_id: str | None = None,
    code: str | None = None,
) -> list[QrRow]:
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(QrRow)) as cur:
        await cur.execute(LIST, {"tenant": user.tenant_id, "campaign": campaign_id, "code": code})
        return await cur.fetchall()


async def code(pool: AsyncConnectionPool, user: User, code: str) -> QrRow | None:
    if not CODE.match(code):
        return None
    found = await codes(pool, user, code=code)
    return found[0] if found else None


async def _fleet(
    conn: psycopg.AsyncConnection[tuple[object, ...]], user: User, wanted: QrIn
) -> str | None:
    """The one fleet the given fleet/car/tablet belong to (all of the tenant), else raise."""
    fleets: set[str] = set()
    for kind, value in (
        ("fleet", wanted.fleet_id),
        ("car", wanted.car_id),
        ("tablet", wanted.tablet_id),
    ):
        if not value:
            continue
        cur = await conn.execute(FLEET_OF[kind], (user.tenant_id, value))
        row = await cur.fetchone()
        if row is None:
            raise BadAttribution(f"your tenant has no {kind} {value!r}")
        fleets.add(str(row[0]))
    if len(fleets) > 1:
        raise BadAttribution("the fleet, car and tablet given belong to different fleets")
    return next(iter(fleets), None)


async def create(
    pool: AsyncConnectionPool, user: User, campaign_id: str, wanted: QrIn
) -> QrRow | None:
    """A new code for the campaign; None when the tenant has no such campaign."""
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT 1 FROM lead_campaigns WHERE tenant_id = %s AND campaign_id = %s",
            (user.tenant_id, campaign_id),
        )
        if await cur.fetchone() is None:
            return None
        fleet_id = await _fleet(conn, user, wanted)
        row: QrRow | None = None
        async with conn.cursor(row_factory=class_row(QrRow)) as qcur:
            for _ in range(5):  # a collision of 50-bit codes is all but impossible: retry
                await qcur.execute(
                    INSERT,
                    (
                        new_code(),
                        fleet_id,
                        wanted.car_id or None,
                        wanted.tablet_id or None,
                        wanted.max_leads,
                        user.email,
                        user.tenant_id,
                        campaign_id,
                    ),
                )
                if (row := await qcur.fetchone()) is not None:
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
        async with conn.cursor(row_factory=class_row(QrRow)) as cur:
            await cur.execute(REVOKE, (user.tenant_id, code))
            row = await cur.fetchone()
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
