"""Lead agents in the real store, and the hub's side of an offer as its contract writes it.

The routing (hub) writes an open ``lead_offers`` row, sets ``leads.status = 'offered'`` and
``leads.agent_id``, appends an ``offered`` event and ``NOTIFY fleethub_lead_offers,
'<lead_id>'`` in one transaction; :func:`offer` does exactly that.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import psycopg
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from store.users import add_user
from tests.helpers import store
from tests.web.conftest import PASSWORD, Conn, Tenant, post_login
from tests.web.lead_helpers import make_campaign, make_code


@dataclass(frozen=True)
class Agent:
    user_id: int
    email: str
    tenant_id: str


def make_agent(conn: Conn, tenant: Tenant, label: str = "agent") -> Agent:
    email = f"{label}-{uuid.uuid4().hex[:8]}@example.com"
    user_id = store(
        conn,
        partial(
            add_user,
            tenant_id=tenant.tenant_id,
            email=email,
            name=f"Agent {label}",
            role="agent",
            password=PASSWORD,
            fleets=[],
            actor="test",
        ),
    )
    return Agent(user_id, email, tenant.tenant_id)


@dataclass(frozen=True)
class Campaign:
    tenant_id: str
    campaign_id: str
    code: str
    tablet_id: str


def make_lead_campaign(conn: Conn, tenant: Tenant, name: str = "Car insurance") -> Campaign:
    campaign_id = make_campaign(conn, tenant.tenant_id, name)
    tablet = tenant.all_tablets[0]
    code = make_code(conn, tenant.tenant_id, campaign_id, tablet_id=tablet)
    return Campaign(tenant.tenant_id, campaign_id, code, tablet)


def new_lead(
    conn: Conn, campaign: Campaign, name: str = "Tan Ah Kow", phone: str = "+6591234567"
) -> str:
    lead_id = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO leads (lead_id, tenant_id, campaign_id, code, fleet_id, tablet_id, car_id,"
        " name, phone, consent, submit_key)"
        " SELECT %s, %s, %s, %s, t.fleet_id, t.tablet_id, t.car_id, %s, %s, true, %s"
        " FROM tablets t WHERE t.tablet_id = %s",
        (
            lead_id,
            campaign.tenant_id,
            campaign.campaign_id,
            campaign.code,
            name,
            phone,
            uuid.uuid4().hex,
            campaign.tablet_id,
        ),
    )
    return lead_id


def offer(conn: Conn, lead_id: str, agent: Agent, seconds: float = 120) -> int:
    """The hub's offer of ``lead_id`` to ``agent``, committed with its NOTIFY."""
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO lead_offers (lead_id, tenant_id, agent_id, expires_at)"
            " VALUES (%s, %s, %s, now() + make_interval(secs => %s)) RETURNING offer_id",
            (lead_id, agent.tenant_id, agent.user_id, seconds),
        ).fetchone()
        assert row is not None
        conn.execute(
            "UPDATE leads SET status = 'offered', agent_id = %s WHERE lead_id = %s",
            (agent.user_id, lead_id),
        )
        conn.execute(
            "INSERT INTO lead_events (lead_id, actor, event, details)"
            " VALUES (%s, 'hub', 'offered', %s)",
            (lead_id, Jsonb({"agent_id": agent.user_id})),
        )
        conn.execute("SELECT pg_notify('fleethub_lead_offers', %s)", (lead_id,))
    return int(str(row[0]))


def expire(conn: Conn, offer_id: int) -> None:
    """The offer's deadline passed (the hub has not timed it out yet)."""
    conn.execute(
        "UPDATE lead_offers SET offered_at = now() - interval '10 minutes',"
        " expires_at = now() - interval '1 second' WHERE offer_id = %s",
        (offer_id,),
    )


def time_out(conn: Conn, offer_id: int, lead_id: str) -> None:
    """The hub's timeout of an offer (before it offers the next agent)."""
    with conn.transaction():
        conn.execute(
            "UPDATE lead_offers SET outcome = 'timeout', decided_at = now() WHERE offer_id = %s",
            (offer_id,),
        )
        conn.execute(
            "UPDATE leads SET status = 'new', agent_id = NULL WHERE lead_id = %s", (lead_id,)
        )


def agent_sign_in(client: TestClient, email: str) -> str:
    """Sign an agent in (they land on their inbox); the session's CSRF token."""
    response = post_login(client, email)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/agent/leads"
    page = client.get("/agent/leads")
    match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


@contextmanager
def listening(database_url: str, channel: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(channel)))
        yield conn


def notes(conn: psycopg.Connection[tuple[object, ...]], timeout: float = 0.5) -> list[str]:
    """The payloads received on a LISTEN connection, waiting up to ``timeout`` for each."""
    return [n.payload for n in conn.notifies(timeout=timeout)]


def lead_row(conn: Conn, lead_id: str) -> tuple[object, ...]:
    row = conn.execute(
        "SELECT status, agent_id FROM leads WHERE lead_id = %s", (lead_id,)
    ).fetchone()
    assert row is not None
    return row


def offer_row(conn: Conn, offer_id: int) -> tuple[object, ...]:
    row = conn.execute(
        "SELECT outcome, decided_at IS NOT NULL FROM lead_offers WHERE offer_id = %s", (offer_id,)
    ).fetchone()
    assert row is not None
    return row


def events(conn: Conn, lead_id: str) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT actor, event FROM lead_events WHERE lead_id = %s ORDER BY event_id", (lead_id,)
    ).fetchall()
