"""A tenant's rate cards (``rate_cards``, ``rate_card_campaigns``): read, add a version, end
one. Every write runs under the tenant's billing lock with its audit row; the rules a card
must meet are :mod:`billing.rates` (the store only gives it the other cards and the last
closed day).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg

from billing.errors import BillingError
from billing.rates import CampaignRate, RateCard, Shares, check_card, check_end
from store import billing_closes
from store.audit import record

Conn = psycopg.AsyncConnection[Any]

CARDS = """
SELECT version, valid_from, valid_to, default_basis, default_rate, online_hour_rate,
       platform_share, owner_share, driver_share, note
FROM rate_cards WHERE tenant_id = %s ORDER BY valid_from, version
"""
CAMPAIGNS = """
SELECT version, campaign_id, basis, rate FROM rate_card_campaigns WHERE tenant_id = %s
ORDER BY version, campaign_id
"""
NEXT_VERSION = "SELECT coalesce(max(version), 0) + 1 FROM rate_cards WHERE tenant_id = %s"
INSERT = """
INSERT INTO rate_cards (tenant_id, version, valid_from, valid_to, default_basis, default_rate,
    online_hour_rate, platform_share, owner_share, driver_share, note, created_by)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
INSERT_CAMPAIGN = """
INSERT INTO rate_card_campaigns (tenant_id, version, campaign_id, basis, rate)
VALUES (%s, %s, %s, %s, %s)
"""
END = "UPDATE rate_cards SET valid_to = %s WHERE tenant_id = %s AND version = %s"


async def cards(conn: Conn, tenant_id: str) -> list[RateCard]:
    """The tenant's cards, oldest validity first."""
    rates: dict[int, list[CampaignRate]] = defaultdict(list)
    for version, campaign_id, basis, rate in await (
        await conn.execute(CAMPAIGNS, (tenant_id,))
    ).fetchall():
        rates[int(version)].append(CampaignRate(str(campaign_id), basis, Decimal(rate)))
    out = []
    for row in await (await conn.execute(CARDS, (tenant_id,))).fetchall():
        version, valid_from, valid_to, basis, rate, online, platform, owner, driver, note = row
        out.append(
            RateCard(
                int(version),
                valid_from,
                valid_to,
                basis,
                Decimal(rate),
                Decimal(online),
                Shares(Decimal(platform), Decimal(owner), Decimal(driver)),
                tuple(rates[int(version)]),
                str(note),
            )
        )
    return out


def _audit(card: RateCard) -> dict[str, Any]:
    return {
        "version": card.version,
        "valid_from": str(card.valid_from),
        "valid_to": None if card.valid_to is None else str(card.valid_to),
        "default": [card.default_basis, str(card.default_rate)],
        "online_hour_rate": str(card.online_hour_rate),
        "shares": [str(card.shares.platform), str(card.shares.owner), str(card.shares.driver)],
        "campaigns": {c.campaign_id: [c.basis, str(c.rate)] for c in card.campaigns},
    }


async def add(conn: Conn, tenant_id: str, card: RateCard, actor: str) -> RateCard:
    """Store ``card`` as the tenant's next version (its ``version`` is ignored); raises
    :class:`BillingError` when it is invalid or overlaps another card."""
    async with conn.transaction():
        await billing_closes.lock(conn, tenant_id)
        row = await (await conn.execute(NEXT_VERSION, (tenant_id,))).fetchone()
        assert row is not None
        card = replace(card, version=int(row[0]))
        check_card(
            card, await cards(conn, tenant_id), await billing_closes.closed_through(conn, tenant_id)
        )
        s = card.shares
        await conn.execute(
            INSERT,
            (
                tenant_id,
                card.version,
                card.valid_from,
                card.valid_to,
                card.default_basis,
                card.default_rate,
                card.online_hour_rate,
                s.platform,
                s.owner,
                s.driver,
                card.note,
                actor,
            ),
        )
        async with conn.cursor() as cur:
            await cur.executemany(
                INSERT_CAMPAIGN,
                [(tenant_id, card.version, c.campaign_id, c.basis, c.rate) for c in card.campaigns],
            )
        await record(
            conn, tenant_id, actor, "rate_card.add", f"rate_card:{card.version}", _audit(card)
        )
    return card


async def end(conn: Conn, tenant_id: str, version: int, valid_to: date, actor: str) -> RateCard:
    """Give version ``version`` its last day; raises :class:`BillingError` (never into a
    closed month, never later than a set end) or LookupError (no such card)."""
    async with conn.transaction():
        await billing_closes.lock(conn, tenant_id)
        found = [c for c in await cards(conn, tenant_id) if c.version == version]
        if not found:
            raise LookupError(version)
        ended = check_end(found[0], valid_to, await billing_closes.closed_through(conn, tenant_id))
        await conn.execute(END, (valid_to, tenant_id, version))
        await record(
            conn,
            tenant_id,
            actor,
            "rate_card.end",
            f"rate_card:{version}",
            {
                "valid_to": str(valid_to),
                "was": None if found[0].valid_to is None else str(found[0].valid_to),
            },
        )
    return ended


__all__ = ["BillingError", "add", "cards", "end"]
