"""Storing a lead from the public form (``leads``, ``lead_events``), in one transaction.

A new lead takes one unit of its code's cap (:func:`store.qr_codes.take_cap`, so two racing
passengers cannot pass the cap), is inserted with its ``submitted`` event, and wakes the hub
with ``NOTIFY fleethub_leads, '<lead_id>'`` at commit. The same phone for the same campaign
within the campaign's ``dedupe_window`` is stored as a ``duplicate`` of the first lead,
without a NOTIFY. The form's nonce is the lead's ``submit_key``: a second post of the same
form finds the lead the first one stored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from store import qr_codes
from store.leads import LEADS_CHANNEL
from store.qr_codes import QrCode

Conn = psycopg.AsyncConnection[Any]


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
INSERT_LEAD = """
INSERT INTO leads (lead_id, tenant_id, campaign_id, code, fleet_id, car_id, tablet_id, driver_id,
                   name, phone, consent, status, duplicate_of, submit_key, client_ip_hash)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, true, %s, %s, %s, %s)
"""
INSERT_EVENT = "INSERT INTO lead_events (lead_id, actor, event, details) VALUES (%s, %s, %s, %s)"
NOTIFY = "SELECT pg_notify(%s, %s)"


async def by_submit_key(conn: Conn, submit_key: str) -> uuid.UUID | None:
    """The lead an earlier post of the same form stored, if any."""
    row = await (await conn.execute(BY_SUBMIT_KEY, (submit_key,))).fetchone()
    return None if row is None else uuid.UUID(str(row[0]))


async def submit(
    conn: Conn, code: QrCode, name: str, phone: str, submit_key: str, ip_hash: str
) -> Submitted:
    """Store the lead of a live ``code`` (consent given), in one transaction.

    Raises :class:`CodeUnavailable` when a new lead finds the code revoked or at its cap,
    ``psycopg.errors.UniqueViolation`` when the same form is stored at the same moment.
    """
    async with conn.transaction():
        # One submission at a time per campaign and phone: dedupe cannot race.
        await conn.execute(LOCK_PHONE, (f"lead:{code.tenant_id}:{code.campaign_id}:{phone}",))
        if (seen := await by_submit_key(conn, submit_key)) is not None:
            return Submitted(seen, "repeat")
        async with conn.cursor(row_factory=class_row(Attribution)) as acur:
            await acur.execute(ATTRIBUTION, (code.code,))
            where = await acur.fetchone()
        assert where is not None  # the code exists: the caller found it
        cur = await conn.execute(FIRST_IN_WINDOW, (code.tenant_id, code.campaign_id, phone))
        first = await cur.fetchone()
        duplicate_of = None if first is None else uuid.UUID(str(first[0]))
        if duplicate_of is None and not await qr_codes.take_cap(conn, code.code):
            revoked = await qr_codes.revoked(conn, code.code)
            raise CodeUnavailable(404 if revoked is None or revoked else 410)
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
                name,
                phone,
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
