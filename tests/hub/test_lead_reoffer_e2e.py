"""Leads nobody answered (issue 11, defect 10), end to end through the hub's lead router: an
admin re-offers an unassigned lead to every agent or to one; an agent becoming active again
(resumed, subscribed, reactivated) gets the campaign's unassigned leads."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from broker.runner import EmbeddedBroker
from config.errors import ConfigError
from store import lead_campaigns, lead_reoffer, user_admin
from tests.conftest import RunningHub
from tests.helpers import eventually, store
from tests.hub import test_lead_routing_e2e as routing
from tests.hub.test_lead_routing_e2e import Conn, Desk, TenantFactory, _desk, _one_lead

# The lead routing tests' fixtures: the panel (for the public form) and a tenant with a tablet.
panel = routing.panel
tenant_factory = routing.tenant_factory


def reoffer(conn: Conn, desk: Desk, lead_id: str, agent_id: int | None = None) -> bool:
    return store(
        conn,
        lambda aconn: lead_reoffer.reoffer(
            aconn, desk.tenant_id, uuid.UUID(lead_id), "admin@example.com", agent_id
        ),
    )


async def test_an_admin_reoffers_to_every_agent_then_to_one(
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
        await eventually(lambda: desk.lead_state(lead_id) == ("unassigned", None))
        with pytest.raises(ConfigError, match="not an active agent"):
            reoffer(conn, desk, lead_id, agent_id=999_999_999)
        assert reoffer(conn, desk, lead_id)  # to all: a new round, both agents again
        await eventually(lambda: len(desk.offers(lead_id)) == 4, timeout=15)
        await eventually(lambda: desk.lead_state(lead_id) == ("unassigned", None))
        assert [a for a, _ in desk.offers(lead_id)] == [first.user_id, second.user_id] * 2
        assert reoffer(conn, desk, lead_id, agent_id=second.user_id)  # to the second alone
        await eventually(lambda: len(desk.offers(lead_id)) == 5)
        await eventually(lambda: desk.lead_state(lead_id) == ("unassigned", None))
        assert desk.offers(lead_id)[-1] == (second.user_id, "timeout")
        assert len(desk.offers(lead_id)) == 5  # the first agent was not offered it again
        assert desk.events(lead_id).count("reoffered") == 2
        conn.execute("UPDATE leads SET status = 'accepted' WHERE lead_id = %s", (lead_id,))
        with pytest.raises(ConfigError, match="not unassigned"):
            reoffer(conn, desk, lead_id)
    finally:
        desk.close()


async def test_a_resumed_agent_is_offered_the_unassigned_leads(
    running_hub: RunningHub,
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    broker: EmbeddedBroker,
) -> None:
    desk = _desk(conn, broker, tenant_factory, agents=1, timeout_s=60).connect_all()
    [agent] = desk.apps
    conn.execute("UPDATE campaign_agents SET active = false WHERE user_id = %s", (agent.user_id,))
    try:
        desk.submit(panel)
        lead_id = await _one_lead(desk)
        await eventually(lambda: desk.lead_state(lead_id) == ("unassigned", None))
        assert desk.offers(lead_id) == []
        store(
            conn,
            lambda aconn: lead_campaigns.change_agent(
                aconn,
                desk.tenant_id,
                "admin@example.com",
                desk.campaign_id,
                agent.user_id,
                "resume",
            ),
        )
        offer = await agent.next()
        assert (offer["event"], offer["lead_id"]) == ("offered", lead_id)
        assert desk.lead_state(lead_id) == ("offered", agent.user_id)
        assert desk.events(lead_id)[-2:] == ["reoffered", "offered"]
    finally:
        desk.close()


async def test_a_reactivated_agent_is_offered_the_unassigned_leads(
    running_hub: RunningHub,
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    broker: EmbeddedBroker,
) -> None:
    desk = _desk(conn, broker, tenant_factory, agents=1, timeout_s=60).connect_all()
    [agent] = desk.apps
    conn.execute("UPDATE users SET disabled_at = now() WHERE user_id = %s", (agent.user_id,))
    admin = conn.execute(
        "INSERT INTO users (tenant_id, email, name, role, password_hash)"
        " VALUES (%s, %s, 'Admin', 'admin', '!unset') RETURNING user_id",
        (desk.tenant_id, f"admin-{uuid.uuid4().hex[:8]}@example.com"),
    ).fetchone()
    assert admin is not None
    try:
        desk.submit(panel)
        lead_id = await _one_lead(desk)
        await eventually(lambda: desk.lead_state(lead_id) == ("unassigned", None))
        store(
            conn,
            lambda aconn: user_admin.set_active(
                aconn, desk.tenant_id, agent.user_id, True, actor="admin", by_user_id=admin[0]
            ),
        )
        assert (await agent.next())["lead_id"] == lead_id
    finally:
        desk.close()
