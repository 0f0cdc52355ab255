"""Lead routing end to end: the public form → the hub's lead router → agents' MQTT apps.

Real store, real Mosquitto, the real panel app for the form, real paho agent apps with
persistent sessions (username ``agent-{id}``, confined to ``agents/{id}/#``).
"""

from __future__ import annotations

import asyncio
import json
import queue
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from broker import dynsec
from broker.runner import EmbeddedBroker
from config.settings import Settings
from store.fleets import FleetSpec, TabletSpec, add_fleet, add_tablet
from store.users import add_tenant, add_user
from tests.conftest import RunningHub
from tests.helpers import Conn as AsyncConn
from tests.helpers import blocking, eventually, store
from tests.web.conftest import PASSWORD
from tests.web.lead_helpers import form_token, make_code
from web.app import create_app

Conn = psycopg.Connection[tuple[Any, ...]]
TenantFactory = Callable[[], tuple[str, str]]


@pytest.fixture
def panel(
    tmp_path_factory: pytest.TempPathFactory, broker: EmbeddedBroker, database_url: str
) -> Iterator[TestClient]:
    """The real panel app, for the public lead form."""
    settings = Settings(
        var_dir=tmp_path_factory.mktemp("panel"), mqtt_url=broker.hub_target().url()
    )
    with TestClient(create_app(settings, database_url)) as client:
        yield client


@pytest.fixture
def tenant_factory(conn: Conn) -> TenantFactory:
    """A tenant with one fleet and one tablet: (tenant id, tablet id)."""

    def make() -> tuple[str, str]:
        tag = uuid.uuid4().hex[:8]

        async def add(aconn: AsyncConn) -> None:
            await add_tenant(aconn, f"ld-{tag}", f"Leads {tag}", "test")
            await add_fleet(aconn, FleetSpec(f"ld-{tag}", tenant_id=f"ld-{tag}"), "test")
            await add_tablet(aconn, TabletSpec(f"ld-{tag}-t0", f"ld-{tag}", None, 30, 90), "test")

        store(conn, add)
        return f"ld-{tag}", f"ld-{tag}-t0"

    return make


class AgentApp:
    """An agent's phone app: a persistent MQTT session subscribed to its offers."""

    def __init__(self, broker: EmbeddedBroker, user_id: int, password: str) -> None:
        self.user_id = user_id
        self.broker = broker
        self.topic = f"agents/{user_id}/leads"
        self.password = password
        self.received: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.subscribed: list[Any] = []
        self.connected = False

    def connect(self) -> AgentApp:
        """A new client each time, with the same client id: the broker resumes the session."""
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"agent-{self.user_id}", clean_session=False
        )
        self.client.username_pw_set(f"agent-{self.user_id}", self.password)
        self.client.on_message = lambda c, u, m: self.received.put(json.loads(m.payload))
        self.client.on_subscribe = lambda c, u, mid, codes, p: self.subscribed.extend(codes)
        self.client.connect(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()
        self.client.subscribe(self.topic, qos=1)
        deadline = time.monotonic() + 10
        while not self.subscribed and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.subscribed, f"agent {self.user_id}: no SUBACK"
        assert not self.subscribed[0].is_failure, self.subscribed
        self.connected = True
        return self

    def close(self) -> None:
        if self.connected:
            self.client.disconnect()
            self.client.loop_stop()
            self.connected = False
            self.subscribed.clear()

    async def messages(self, wait: float) -> list[dict[str, Any]]:
        """Everything received until ``wait`` seconds have passed."""
        await asyncio.sleep(wait)
        out = []
        while not self.received.empty():
            out.append(self.received.get_nowait())
        return out

    async def next(self, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return self.received.get_nowait()
            except queue.Empty:
                await asyncio.sleep(0.02)
        raise AssertionError(f"agent {self.user_id}: nothing on {self.topic} in {timeout} s")


class Desk:
    """A tenant's lead campaign with subscribed agents (with broker logins) and a QR code."""

    def __init__(
        self,
        conn: Conn,
        broker: EmbeddedBroker,
        tenant_id: str,
        tablet_id: str | None,
        agents: int,
        timeout_s: int,
        campaign_id: str | None = None,
    ) -> None:
        self.conn, self.broker, self.tenant_id = conn, broker, tenant_id
        self.campaign_id = campaign_id or f"camp-{uuid.uuid4().hex[:8]}"
        conn.execute(
            "INSERT INTO lead_campaigns (tenant_id, campaign_id, name, offer_timeout_s)"
            " VALUES (%s, %s, 'Car insurance', %s)",
            (tenant_id, self.campaign_id, timeout_s),
        )
        self.code = make_code(conn, tenant_id, self.campaign_id, tablet_id=tablet_id)
        self.apps: list[AgentApp] = []
        for n in range(agents):
            email = f"agent-{uuid.uuid4().hex[:8]}@example.com"
            user_id = store(
                conn,
                partial(
                    add_user,
                    tenant_id=tenant_id,
                    email=email,
                    name=f"Agent {n}",
                    role="agent",
                    password=PASSWORD,
                    fleets=[],
                    actor="test",
                ),
            )
            conn.execute(
                "INSERT INTO campaign_agents (tenant_id, campaign_id, user_id, position)"
                " VALUES (%s, %s, %s, %s)",
                (tenant_id, self.campaign_id, user_id, n),
            )
            password = f"pw-{uuid.uuid4().hex}"
            blocking(dynsec.provision_agent(broker.provision_target(), int(user_id), password))
            self.apps.append(AgentApp(broker, int(user_id), password))

    def connect_all(self) -> Desk:
        for app in self.apps:
            app.connect()
        return self

    def close(self) -> None:
        for app in self.apps:
            app.close()

    def submit(self, panel: TestClient, phone: str = "9123 4567") -> None:
        data = {
            "token": form_token(panel, self.code),
            "name": "Tan Mei Ling",
            "phone": phone,
            "consent": "yes",
        }
        response = panel.post(f"/l/{self.code}", data=data, headers={"accept": "text/html"})
        assert response.status_code == 200, response.text

    def lead_ids(self) -> list[str]:
        rows = self.conn.execute(
            "SELECT lead_id::text FROM leads WHERE code = %s AND"
            " status <> 'duplicate' ORDER BY submitted_at",
            (self.code,),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def offers(self, lead_id: str) -> list[tuple[int, str | None]]:
        rows = self.conn.execute(
            "SELECT agent_id, outcome FROM lead_offers WHERE lead_id = %s ORDER BY offer_id",
            (lead_id,),
        ).fetchall()
        return [(int(r[0]), r[1]) for r in rows]

    def lead_state(self, lead_id: str) -> tuple[str, int | None]:
        row = self.conn.execute(
            "SELECT status, agent_id FROM leads WHERE lead_id = %s", (lead_id,)
        ).fetchone()
        assert row is not None
        return str(row[0]), row[1]

    def events(self, lead_id: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT event FROM lead_events WHERE lead_id = %s ORDER BY event_id", (lead_id,)
        ).fetchall()
        return [str(r[0]) for r in rows]

    def decide(self, lead_id: str, outcome: str) -> None:
        """What the panel does when an agent accepts or rejects its open offer."""
        with self.conn.transaction():
            row = self.conn.execute(
                "UPDATE lead_offers SET outcome = %s, decided_at = now() WHERE lead_id = %s"
                " AND outcome IS NULL RETURNING agent_id",
                (outcome, lead_id),
            ).fetchone()
            assert row is not None
            status = "accepted" if outcome == "accepted" else "new"
            agent = row[0] if outcome == "accepted" else None
            self.conn.execute(
                "UPDATE leads SET status = %s, agent_id = %s WHERE lead_id = %s",
                (status, agent, lead_id),
            )
            self.conn.execute(
                "INSERT INTO lead_events (lead_id, actor, event) VALUES (%s, %s, %s)",
                (lead_id, f"user:{row[0]}", outcome),
            )
            self.conn.execute("SELECT pg_notify('fleethub_lead_actions', %s)", (lead_id,))


def _desk(
    conn: Conn, broker: EmbeddedBroker, tenant_factory: TenantFactory, agents: int, timeout_s: int
) -> Desk:
    tenant_id, tablet_id = tenant_factory()
    return Desk(conn, broker, tenant_id, tablet_id, agents, timeout_s)


async def _one_lead(desk: Desk) -> str:
    [lead_id] = await eventually(desk.lead_ids)
    return lead_id


async def test_new_lead_is_pushed_once_to_the_first_agent_and_a_duplicate_is_not(
    running_hub: RunningHub,
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    broker: EmbeddedBroker,
) -> None:
    desk = _desk(conn, broker, tenant_factory, agents=2, timeout_s=60).connect_all()
    first, second = desk.apps
    try:
        desk.submit(panel)
        lead_id = await _one_lead(desk)
        offer = await first.next()
        assert offer["event"] == "offered"
        assert (offer["lead_id"], offer["campaign_id"]) == (lead_id, desk.campaign_id)
        assert (offer["name"], offer["phone"]) == ("Tan Mei Ling", "+6591234567")
        tablet = conn.execute(
            "SELECT tablet_id FROM leads WHERE lead_id = %s", (lead_id,)
        ).fetchone()
        assert tablet is not None
        assert offer["attribution"]["tablet_id"] == tablet[0]
        assert offer["offered_at"] < offer["expires_at"]
        # Committed before it was pushed.
        assert desk.offers(lead_id) == [(first.user_id, None)]
        assert desk.lead_state(lead_id) == ("offered", first.user_id)
        assert desk.events(lead_id) == ["submitted", "offered"]
        cursor = conn.execute(
            "SELECT rr_cursor FROM lead_campaigns WHERE tenant_id = %s AND campaign_id = %s",
            (desk.tenant_id, desk.campaign_id),
        ).fetchone()
        assert cursor == (0,)

        desk.submit(panel)  # the same phone again: a duplicate, never routed
        assert conn.execute(
            "SELECT count(*) FROM leads WHERE code = %s AND status = 'duplicate'", (desk.code,)
        ).fetchone() == (1,)
        assert await first.messages(1.5) == []
        assert await second.messages(0) == []
        assert desk.offers(lead_id) == [(first.user_id, None)]

        desk.submit(panel, phone="8123 4567")  # a second lead goes to the next agent
        assert (await second.next())["event"] == "offered"
        assert await first.messages(0.5) == []
    finally:
        desk.close()


async def test_timeout_offers_the_next_agent_then_unassigned(
    running_hub: RunningHub,
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    broker: EmbeddedBroker,
) -> None:
    desk = _desk(conn, broker, tenant_factory, agents=2, timeout_s=1).connect_all()
    first, second = desk.apps
    try:
        desk.submit(panel)
        lead_id = await _one_lead(desk)
        assert (await first.next())["event"] == "offered"
        assert (await second.next(timeout=10))["lead_id"] == lead_id
        assert desk.offers(lead_id)[0] == (first.user_id, "timeout")
        assert (await first.next()) == {"v": 1, "event": "timeout", "lead_id": lead_id}
        await eventually(lambda: desk.lead_state(lead_id) == ("unassigned", None))
        assert desk.offers(lead_id) == [(first.user_id, "timeout"), (second.user_id, "timeout")]
        assert desk.events(lead_id) == [
            "submitted",
            "offered",
            "timeout",
            "offered",
            "timeout",
            "unassigned",
        ]
        assert [m["event"] for m in await first.messages(1.0)] == []
    finally:
        desk.close()


async def test_offline_agent_receives_the_offer_on_reconnect(
    running_hub: RunningHub,
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    broker: EmbeddedBroker,
) -> None:
    desk = _desk(conn, broker, tenant_factory, agents=1, timeout_s=60)
    [agent] = desk.apps
    try:
        agent.connect()
        agent.close()  # the broker keeps its session and subscription
        desk.submit(panel)
        lead_id = await _one_lead(desk)
        await eventually(lambda: desk.offers(lead_id) == [(agent.user_id, None)])
        agent.connect()
        offer = await agent.next()
        assert (offer["event"], offer["lead_id"]) == ("offered", lead_id)
    finally:
        desk.close()


async def test_restart_rearms_and_republishes_the_open_offer(
    running_hub: RunningHub,
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    broker: EmbeddedBroker,
) -> None:
    desk = _desk(conn, broker, tenant_factory, agents=2, timeout_s=4).connect_all()
    first, second = desk.apps
    try:
        desk.submit(panel)
        lead_id = await _one_lead(desk)
        offer = await first.next()
        await running_hub.stop()
        await running_hub.start()
        again = await first.next()
        assert again == offer  # the same offer (same expiry): the app dedupes by lead_id
        assert desk.offers(lead_id) == [(first.user_id, None)]
        moved = await second.next(timeout=10)
        assert moved["lead_id"] == lead_id
        assert desk.offers(lead_id) == [(first.user_id, "timeout"), (second.user_id, None)]
        assert desk.events(lead_id).count("timeout") == 1
    finally:
        desk.close()


async def test_rejection_offers_the_next_agent(
    running_hub: RunningHub,
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    broker: EmbeddedBroker,
) -> None:
    desk = _desk(conn, broker, tenant_factory, agents=2, timeout_s=60).connect_all()
    first, second = desk.apps
    try:
        desk.submit(panel)
        lead_id = await _one_lead(desk)
        await first.next()
        desk.decide(lead_id, "rejected")
        assert (await second.next())["lead_id"] == lead_id
        assert desk.offers(lead_id) == [(first.user_id, "rejected"), (second.user_id, None)]
        assert desk.lead_state(lead_id) == ("offered", second.user_id)
    finally:
        desk.close()


async def test_accepted_lead_is_not_offered_again_after_the_timeout(
    running_hub: RunningHub,
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    broker: EmbeddedBroker,
) -> None:
    desk = _desk(conn, broker, tenant_factory, agents=2, timeout_s=2).connect_all()
    first, second = desk.apps
    try:
        desk.submit(panel)
        lead_id = await _one_lead(desk)
        await first.next()
        desk.decide(lead_id, "accepted")
        assert await second.messages(3.5) == []
        assert await first.messages(0) == []  # no "timeout" either
        assert desk.offers(lead_id) == [(first.user_id, "accepted")]
        assert desk.lead_state(lead_id) == ("accepted", first.user_id)
        assert "timeout" not in desk.events(lead_id)
    finally:
        desk.close()


async def test_a_lead_is_offered_only_to_agents_of_its_own_tenant(
    running_hub: RunningHub,
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    broker: EmbeddedBroker,
) -> None:
    ours, theirs = tenant_factory(), tenant_factory()
    shared = f"camp-{uuid.uuid4().hex[:8]}"  # the same campaign id in both tenants
    desk = Desk(conn, broker, *ours, 1, 1, shared).connect_all()
    other = Desk(conn, broker, *theirs, 2, 1, shared).connect_all()
    try:
        desk.submit(panel)
        lead_id = await _one_lead(desk)
        assert (await desk.apps[0].next())["lead_id"] == lead_id
        await eventually(lambda: desk.lead_state(lead_id) == ("unassigned", None))
        assert desk.offers(lead_id) == [(desk.apps[0].user_id, "timeout")]
        for app in other.apps:
            assert await app.messages(0) == []
    finally:
        desk.close()
        other.close()
