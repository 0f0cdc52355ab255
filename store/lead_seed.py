"""Seeding lead campaigns: a campaign, the agents it offers leads to, its QR codes.

What ``fleethub up`` (the demo) and the leads benchmark set up; each insert leaves a row
that already exists as it is.
"""

from __future__ import annotations

import psycopg

Conn = psycopg.AsyncConnection[tuple[object, ...]]


async def add_campaign(
    conn: Conn, tenant_id: str, campaign_id: str, name: str, offer_timeout_s: int | None = None
) -> None:
    """The campaign, with the schema's offer timeout unless one is given."""
    if offer_timeout_s is None:
        await conn.execute(
            "INSERT INTO lead_campaigns (tenant_id, campaign_id, name) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (tenant_id, campaign_id, name),
        )
        return
    await conn.execute(
        "INSERT INTO lead_campaigns (tenant_id, campaign_id, name, offer_timeout_s)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (tenant_id, campaign_id, name, offer_timeout_s),
    )


async def add_agent(
    conn: Conn, tenant_id: str, campaign_id: str, user_id: int, position: int
) -> None:
    """Subscribe an agent to the campaign at ``position`` in its round robin."""
    await conn.execute(
        "INSERT INTO campaign_agents (tenant_id, campaign_id, user_id, position)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (tenant_id, campaign_id, user_id, position),
    )


async def add_qr_code(
    conn: Conn,
    code: str,
    tenant_id: str,
    campaign_id: str,
    fleet_id: str,
    tablet_id: str | None,
    created_by: str,
) -> bool:
    """A QR code of the campaign shown in the fleet (on one tablet, if given); False when the
    code was taken already."""
    cur = await conn.execute(
        "INSERT INTO qr_codes (code, tenant_id, campaign_id, fleet_id, tablet_id, created_by)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING code",
        (code, tenant_id, campaign_id, fleet_id, tablet_id, created_by),
    )
    return await cur.fetchone() is not None
