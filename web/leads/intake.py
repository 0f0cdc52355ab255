"""Storing a lead from the public form: QR code lookup, the client's hash, and the submission.

The submission is one transaction of the store (:func:`store.lead_intake.submit`: the code's
cap, dedupe by phone within the campaign's window, the ``submitted`` event and the NOTIFY that
wakes the hub). The form's nonce is the lead's ``submit_key``: a second post of the same form
finds the lead the first one stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import psycopg
from psycopg_pool import AsyncConnectionPool

from store import lead_intake, qr_codes
from store.lead_intake import Submitted
from store.qr_codes import QrCode
from web.leads.form import LeadInput

ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/i/l: read aloud or typed, still right
CODE = re.compile(r"^[23456789abcdefghjkmnpqrstuvwxyz]{8,16}$")


def client_hash(secret: str, address: str) -> str:
    """A keyed hash of the client's address: enough to spot abuse, not to recover it."""
    return hmac.new(secret.encode(), f"lead-client:{address}".encode(), hashlib.sha256).hexdigest()[
        :32
    ]


async def find_code(pool: AsyncConnectionPool, code: str) -> QrCode | None:
    """The code (revoked or not) with its campaign; None for anything that is not a code."""
    if not CODE.match(code):
        return None
    async with pool.connection() as conn:
        return await qr_codes.find(conn, code)


async def submit(
    pool: AsyncConnectionPool, code: QrCode, lead: LeadInput, submit_key: str, ip_hash: str
) -> Submitted:
    try:
        async with pool.connection() as conn:
            return await lead_intake.submit(conn, code, lead.name, lead.phone, submit_key, ip_hash)
    except psycopg.errors.UniqueViolation:
        # The same form posted twice at once with different phones: the first one won.
        async with pool.connection() as conn:
            first = await lead_intake.by_submit_key(conn, submit_key)
        if first is None:
            raise
        return Submitted(first, "repeat")
