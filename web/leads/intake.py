"""Storing a lead from the public form: QR code lookup, attribution, dedupe, cap, NOTIFY.

One transaction per submission. A new lead takes one unit of its code's cap
(``UPDATE qr_codes ... WHERE lead_count < max_leads``, so two racing passengers cannot pass
the cap), is inserted with its ``submitted`` event, and wakes the hub with
``NOTIFY fleethub_leads, '<lead_id>'`` at commit. The same phone for the same campaign within
the campaign's ``dedupe_window`` is stored as a ``duplicate`` of the first lead, without a
NOTIFY. The form's nonce is the lead's ``submit_key``: a second post of the same form finds
the lead the first one stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from store.leads import LEADS_CHANNEL
from web.leads.form import LeadInput

AsyncConn = psycopg.AsyncConnection[tuple[object, ...]]

ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/i/l: read aloud or typed, still right
CODE = re.compile(r"^[23456789abcdefghjkmnpqrstuvwxyz]{8,16}$")


@dataclass(frozen=True, slots=True)
class QrCode:
    code: str
    tenant_id: str
    campaign_id: str
    campaign_name: str
    max_leads: int | None
    lead_count: int
    revoked_at: datetime | None

    @property
    def full(self) -> bool:
        return self.max_leads is not None and self.lead_count >= self.max_leads


@dataclass(frozen=True, slots=True)
class Attribution:
    fleet_id: str | None
    car_id: str | None
    tablet_id: str | None
    driver_id: str | None


@dataclass(frozen=True, slots=True)
class Submitted:
    lead_id: uuid.UUID
    # new: stored and announced; duplicate: stored, not announced; repeat: this form's lead
    # was stored by an earlier post of it.
    outcome: Literal["new", "duplicate", "repeat"]


class CodeUnavailable(Exception):
    """The code was revoked (404) or reached its cap (410) while the form was open."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


FIND_CODE = """
SELECT q.code, q.tenant_id, q.campaign_id, c.name AS campaign_name, q.max_leads, q.lead_count,
       q.revoked_at
FROM qr_codes q JOIN lead_campaigns c USING (tenant_id, campaign_id)
WHERE q.code = %s
"""

# The code's own tablet/car/fleet; the car is the tablet's current one; the driver is what the
# tablet's latest heartbeat of the last hour reported as ``driver_id`` (heartbeat extras).
ATTRIBUTION = """
SELECT coalesce(t.fleet_id, c.fleet_id, q.fleet_id) AS fleet_id,
       coalesce(t.car_id, q.car_id) AS car_id,
       q.tablet_id,
       (SELECT left(h.extra ->> 'driver_id', 64) FROM heartbeats h
        WHERE h.tablet_id = q.tablet_id AND h.time > now() - interval '1 hour'
        ORDER BY h.time DESC LIMIT 1) AS driver_id
FROM qr_codes q
LEFT JOIN tablets t ON t.tablet_id = q.tablet_id
LEFT JOIN cars c ON c.car_id = coalesce(t.car_id, q.car_id)
WHERE q.code = %s
"""

LOCK_PHONE = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
BY_SUBMIT_KEY = "SELECT lead_id, status FROM leads WHERE submit_key = %s"
FIRST_IN_WINDOW = """
SELECT l.lead_id FROM leads l JOIN lead_campaigns c USING (tenant_id, campaign_id)
WHERE l.tenant_id = %s AND l.campaign_id = %s AND l.phone = %s AND l.status <> 'duplicate'
  AND l.submitted_at > now() - c.dedupe_window
ORDER BY l.submitted_at DESC LIMIT 1
"""
TAKE_CAP = """
UPDATE qr_codes SET lead_count = lead_count + 1
WHERE code = %s AND revoked_at IS NULL AND (max_leads IS NULL OR lead_count < max_leads)
RETURNING lead_count
"""
INSERT_LEAD = """
INSERT INTO leads (lead_id, tenant_id, campaign_id, code, fleet_id, car_id, tablet_id, driver_id,
                   name, phone, consent, status, duplicate_of, submit_key, client_ip_hash)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, true, %s, %s, %s, %s)
"""
INSERT_EVENT = "INSERT INTO lead_events (lead_id, actor, event, details) VALUES (%s, %s, %s, %s)"
NOTIFY = "SELECT pg_notify(%s, %s)"


def client_hash(secret: str, address: str) -> str:
    """A keyed hash of the client's address: enough to spot abuse, not to recover it."""
    return hmac.new(secret.encode(), f"lead-client:{address}".encode(), hashlib.sha256).hexdigest()[
        :32
    ]


async def find_code(pool: AsyncConnectionPool, code: str) -> QrCode | None:
    """The code (revoked or not) with its campaign; None for anything that is not a code."""
    if not CODE.match(code):
        return None
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(QrCode)) as cur:
        await cur.execute(FIND_CODE, (code,))
        return await cur.fetchone()


async def submit(
    pool: AsyncConnectionPool, code: QrCode, lead: LeadInput, submit_key: str, ip_hash: str
) -> Submitted:
    try:
        async with pool.connection() as conn:
            return await _submit(conn, code, lead, submit_key, ip_hash)
    except psycopg.errors.UniqueViolation:
        # The same form posted twice at once with different phones: the first one won.
        async with pool.connection() as conn:
            cur = await conn.execute(BY_SUBMIT_KEY, (submit_key,))
            row = await cur.fetchone()
        if row is None:
            raise
        return Submitted(uuid.UUID(str(row[0])), "repeat")


async def _submit(
    conn: AsyncConn, code: QrCode, lead: LeadInput, submit_key: str, ip_hash: str
) -> Submitted:
    async with conn.transaction():
        # One submission at a time per campaign and phone: dedupe cannot race.
        await conn.execute(LOCK_PHONE, (f"lead:{code.tenant_id}:{code.campaign_id}:{lead.phone}",))
        cur = await conn.execute(BY_SUBMIT_KEY, (submit_key,))
        if (seen := await cur.fetchone()) is not None:
            return Submitted(uuid.UUID(str(seen[0])), "repeat")
        async with conn.cursor(row_factory=class_row(Attribution)) as acur:
            await acur.execute(ATTRIBUTION, (code.code,))
            where = await acur.fetchone()
        assert where is not None  # the code exists: the caller found it
        cur = await conn.execute(FIRST_IN_WINDOW, (code.tenant_id, code.campaign_id, lead.phone))
        first = await cur.fetchone()
        duplicate_of = None if first is None else uuid.UUID(str(first[0]))
        if duplicate_of is None:
            cur = await conn.execute(TAKE_CAP, (code.code,))
            if await cur.fetchone() is None:
                raise CodeUnavailable(await _why_unavailable(conn, code.code))
        lead_id = uuid.uuid4()
        status = "new" if duplicate_of is None else "duplicate"
        await conn.execute(
            INSERT_LEAD,
            (
                lead_id,
                code.tenant_id,
                code.campaign_id,
                code.code,
                where.fleet_id,
                where.car_id,
                where.tablet_id,
                where.driver_id,
                lead.name,
                lead.phone,
                status,
                duplicate_of,
                submit_key,
                ip_hash,
            ),
        )
        details: dict[str, object] = {"code": code.code, "status": status}
        if duplicate_of is not None:
            details["duplicate_of"] = str(duplicate_of)
        await conn.execute(INSERT_EVENT, (lead_id, "public", "submitted", Jsonb(details)))
        if duplicate_of is None:
            await conn.execute(NOTIFY, (LEADS_CHANNEL, str(lead_id)))
    return Submitted(lead_id, "new" if duplicate_of is None else "duplicate")


async def _why_unavailable(conn: AsyncConn, code: str) -> int:
    cur = await conn.execute("SELECT revoked_at IS NOT NULL FROM qr_codes WHERE code = %s", (code,))
    row = await cur.fetchone()
    return 404 if row is None or row[0] else 410
