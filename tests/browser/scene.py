"""A tenant with something on every page: tablets in every state, open, resolved and flapping
incidents with notes, hours of uptime and days of plays, a push, a playlist, a lead campaign
with a QR code, leads, an agent with an open offer and an accepted lead, a claim code and a
personal token — so that the accessibility and phone checks see full pages, not empty ones.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import httpx2 as httpx

from store.users import add_user
from tests.helpers import store
from tests.web.agent_helpers import Agent, make_lead_campaign, new_lead, offer
from tests.web.billing_helpers import add_card, add_driver, assign, driver_link
from tests.web.campaign_helpers import advertiser
from tests.web.conftest import PASSWORD, Conn, Tenant, TenantFactory
from tests.web.test_pop_reports import record

ITEM = {
    "ad_id": "ad-scene",
    "campaign_id": "c-scene",
    "url": "https://cdn.example/scene.mp4",
    "sha256": "d" * 64,
    "duration_ms": 15000,
}


@dataclass(frozen=True)
class Scene:
    tenant: Tenant
    agent: str  # e-mail
    advertiser: str
    offline: str  # a tablet offline with an open incident
    back: str  # a tablet back online, its incident still open
    push_id: str
    lead_id: str
    driver_link: str  # a driver signs in by a one-time link, not a password

    def login(self, role: str) -> str:
        return {
            "admin": self.tenant.admin,
            "fleet_owner": self.tenant.owner,
            "agent": self.agent,
            "advertiser": self.advertiser,
        }[role]


def state(conn: Conn, tablet: str, state: str, since: datetime, **extra: object) -> None:
    conn.execute(
        "INSERT INTO tablet_state (tablet_id, state, state_since, last_heartbeat_at, battery,"
        " app_version, ad_id, updated_at) VALUES (%s, %s, %s, %s, 81, '2.4.1', 'ad-scene', now())"
        " ON CONFLICT (tablet_id) DO UPDATE SET state = excluded.state,"
        " state_since = excluded.state_since, last_heartbeat_at = excluded.last_heartbeat_at,"
        " updated_at = now()",
        (tablet, state, since, extra.get("heartbeat", since)),
    )


def incident(
    conn: Conn, tablet: str, fleet: str, kind: str, opened: datetime, resolved: datetime | None
) -> uuid.UUID:
    incident_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO incidents (incident_id, tablet_id, fleet_id, kind, opened_at, offline_since,"
        " resolved_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (incident_id, tablet, fleet, kind, opened, opened - timedelta(minutes=5), resolved),
    )
    if resolved is None:
        conn.execute(
            "UPDATE tablet_state SET open_incident_id = %s WHERE tablet_id = %s",
            (incident_id, tablet),
        )
    conn.execute(
        "INSERT INTO incident_notes (incident_id, author, body) VALUES (%s, 'ops@example.com',"
        " 'Called the driver: the tablet was unplugged.')",
        (incident_id,),
    )
    return incident_id


def user(conn: Conn, tenant: Tenant, role: str) -> str:
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    store(
        conn,
        partial(
            add_user,
            tenant_id=tenant.tenant_id,
            email=email,
            name=f"Scene {role.replace('_', ' ')}",
            role=role,
            password=PASSWORD,
            fleets=[],
            actor="test",
        ),
    )
    return email


def build(conn: Conn, tenant_factory: TenantFactory, web_url: str) -> Scene:
    tenant = tenant_factory(fleets=2, tablets=4)
    f0, f1 = tenant.fleets
    a = tenant.tablets[f0]
    b = tenant.tablets[f1]
    now = datetime.now(UTC).replace(microsecond=0)
    conn.execute(
        "UPDATE tablets SET registered_at = %s WHERE fleet_id = ANY(%s)",
        (now - timedelta(days=40), tenant.fleets),
    )
    conn.execute(
        "UPDATE fleets SET timezone = 'Asia/Singapore', operating_hours = 'mon-sun 06:00-23:00'"
        " WHERE fleet_id = ANY(%s)",
        (tenant.fleets,),
    )
    state(conn, a[0], "online", now - timedelta(hours=5))
    state(conn, a[1], "offline", now - timedelta(minutes=23))
    state(conn, a[2], "online", now - timedelta(minutes=2))  # flapping
    state(conn, b[0], "online", now - timedelta(hours=2))
    state(conn, b[1], "online", now - timedelta(minutes=4))  # back, incident still open
    incident(conn, a[1], f0, "offline", now - timedelta(minutes=20), None)
    incident(conn, a[2], f0, "flapping", now - timedelta(minutes=30), None)
    incident(conn, b[1], f1, "offline", now - timedelta(minutes=40), None)
    incident(conn, b[0], f1, "offline", now - timedelta(days=2), now - timedelta(days=2, hours=-1))
    hour = now.replace(minute=0, second=0)
    for tablet in (*a, *b):
        for back in range(1, 24 * 31, 5):
            conn.execute(
                "INSERT INTO uptime_hourly VALUES (%s, %s, %s)",
                (tablet, hour - timedelta(hours=back), 600 + (back * 37) % 3000),
            )
    for n in range(3):
        conn.execute(
            "INSERT INTO presence_transitions (time, tablet_id, from_state, to_state, reason)"
            " VALUES (%s, %s, %s, %s, %s)",
            (now - timedelta(hours=6 - n), a[1], "online", "offline", ("will", "timeout")[n % 2]),
        )
    day = now - timedelta(days=1)
    record(
        conn,
        [
            (a[0], f0, "c-scene", day.isoformat(), 15000, "completed"),
            (b[0], f1, "c-scene", day.isoformat(), 15000, "skipped"),
        ],
    )
    add_card(conn, tenant.tenant_id, now.date().replace(day=1) - timedelta(days=62))
    driver = add_driver(conn, tenant.tenant_id, f0, "Siti Rahman")
    assign(conn, tenant.tenant_id, driver, f"{f0}-car0", now.date() - timedelta(days=40), None)
    with httpx.Client(base_url=web_url) as client:
        token = client.post(
            "/api/v1/auth/token", data={"username": tenant.admin, "password": PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        pushed = client.post(
            "/api/v1/pushes",
            headers=headers,
            json={
                "targets": [f"fleet:{f0}"],
                "items": [ITEM],
                "expires_minutes": 60,
                "reason": "road closed on the PIE",
            },
        )
        assert pushed.status_code == 201, pushed.text
        client.post(f"/api/v1/fleets/{f0}/claim-codes", headers=headers, json={"car_id": None})
    campaign = make_lead_campaign(conn, tenant, "Car insurance")
    agent_email = user(conn, tenant, "agent")
    agent_row = conn.execute("SELECT user_id FROM users WHERE email = %s", (agent_email,))
    agent_id = agent_row.fetchone()
    assert agent_id is not None
    agent = Agent(int(str(agent_id[0])), agent_email, tenant.tenant_id)
    conn.execute(
        "INSERT INTO campaign_agents (tenant_id, campaign_id, user_id, position)"
        " VALUES (%s, %s, %s, 0) ON CONFLICT DO NOTHING",
        (tenant.tenant_id, campaign.campaign_id, agent.user_id),
    )
    offered = new_lead(conn, campaign, "Tan Mei Ling", "+6598765432")
    offer(conn, offered, agent, seconds=3600)
    held = new_lead(conn, campaign, "Lim Wei Jie", "+6591112222")
    held_offer = offer(conn, held, agent, seconds=3600)
    conn.execute(
        "UPDATE lead_offers SET outcome = 'accepted', decided_at = now() WHERE offer_id = %s",
        (held_offer,),
    )
    conn.execute(
        "UPDATE leads SET status = 'accepted', agent_id = %s WHERE lead_id = %s",
        (agent.user_id, held),
    )
    return Scene(
        tenant,
        agent_email,
        advertiser(conn, tenant, "scene-adv").email,  # acting for its account
        a[1],
        b[1],
        str(json.loads(pushed.text)["push_id"]),
        offered,
        driver_link(conn, tenant.tenant_id, driver),
    )
