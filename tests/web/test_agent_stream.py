"""The agent's live stream: one ``offer`` per NOTIFY, to the offer's agent only; ``changed``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

from tests.web.agent_helpers import (
    Agent,
    make_agent,
    make_lead_campaign,
    new_lead,
    offer,
    time_out,
)
from tests.web.conftest import Conn, TenantFactory, api_token, post_login
from tests.web.test_push import sse_events
from web.agents.inbox_feed import LeadFeed


def session_cookie(client: TestClient, agent: Agent) -> dict[str, str]:
    """A session of ``agent`` as a header, so one client can hold several agents' streams."""
    client.cookies.clear()
    response = post_login(client, agent.email)
    assert response.status_code == 303
    token = client.cookies["fleethub_session"]
    client.cookies.clear()
    return {"cookie": f"fleethub_session={token}"}


def wait_listening(client: TestClient) -> None:
    feed: LeadFeed = client.app.state.lead_feed  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while not feed.listening.is_set():
        assert time.monotonic() < deadline, "the lead feed never LISTENed"
        time.sleep(0.05)


def named(events: Iterator[tuple[str, Any]]) -> tuple[str, Any]:
    return next(events)


def test_an_offer_reaches_its_agent_once_per_notify_and_nobody_else(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant, elsewhere = tenant_factory(fleets=1, tablets=1), tenant_factory(fleets=1, tablets=1)
    alice, bob = make_agent(conn, tenant, "alice"), make_agent(conn, tenant, "bob")
    stranger = make_agent(conn, elsewhere, "stranger")
    campaign = make_lead_campaign(conn, tenant, "Home insurance")
    for_alice = new_lead(conn, campaign, "Lim Mei Ling")
    for_bob = new_lead(conn, campaign, "Goh Boon Huat")
    wait_listening(panel)
    cookies = {a.email: session_cookie(panel, a) for a in (alice, bob, stranger)}
    with (
        panel.stream("GET", "/agent/leads/stream", headers=cookies[alice.email]) as a_resp,
        panel.stream("GET", "/agent/leads/stream", headers=cookies[bob.email]) as b_resp,
        panel.stream("GET", "/agent/leads/stream", headers=cookies[stranger.email]) as s_resp,
    ):
        a_events, b_events = sse_events(a_resp.iter_lines()), sse_events(b_resp.iter_lines())
        s_events = sse_events(s_resp.iter_lines())
        for stream in (a_events, b_events, s_events):
            assert named(stream)[0] == "hello"

        offer(conn, for_alice, alice)
        name, data = named(a_events)
        assert name == "offer"
        assert data["lead_id"] == for_alice
        assert data["toast"] == "New lead: Lim Mei Ling (Home insurance)"
        assert f'id="lead-{for_alice}"' in data["html"]
        assert f'action="/agent/leads/{for_alice}/accept"' in data["html"]
        assert data["expires_at"]

        bob_offer = offer(conn, for_bob, bob)
        name, data = named(b_events)
        assert (name, data["lead_id"]) == ("offer", for_bob)  # not Alice's

        # the same offer announced again: one more event, Alice's own (not Bob's)
        conn.execute("SELECT pg_notify('fleethub_lead_offers', %s)", (for_alice,))
        name, data = named(a_events)
        assert (name, data["lead_id"]) == ("offer", for_alice)

        # Bob's offer times out and goes to Alice: Bob's row leaves, Alice gets the offer
        time_out(conn, bob_offer, for_bob)
        offer(conn, for_bob, alice)
        name, data = named(b_events)
        assert (name, data["lead_id"], data["html"]) == ("changed", for_bob, None)
        name, data = named(a_events)
        assert (name, data["lead_id"]) == ("offer", for_bob)

        # Alice accepts (through the API): her row changes to an accepted one
        accepted = panel.post(
            f"/api/v1/agent/leads/{for_bob}/accept", headers=api_token(panel, alice.email)
        )
        assert accepted.status_code == 200, accepted.text
        name, data = named(a_events)
        assert (name, data["lead_id"], data["status"]) == ("changed", for_bob, "accepted")
        assert f'action="/agent/leads/{for_bob}/contacted"' in data["html"]
        # Bob was offered it before: told again that it is not his
        name, data = named(b_events)
        assert (name, data["lead_id"], data["html"]) == ("changed", for_bob, None)

        # the stranger (another tenant) heard nothing: their next event is their own offer
        theirs = new_lead(conn, make_lead_campaign(conn, elsewhere), "Their lead")
        offer(conn, theirs, stranger)
        name, data = named(s_events)
        assert (name, data["lead_id"]) == ("offer", theirs)


def test_the_inbox_page_follows_the_stream(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    agent = make_agent(conn, tenant)
    panel.headers.update(session_cookie(panel, agent))
    try:
        page = panel.get("/agent/leads").text
    finally:
        del panel.headers["cookie"]
    assert 'fleethub.agentInbox("/agent/leads/stream")' in page
    assert '<script src="/static/agent.js"></script>' in page
    assert 'id="push-enable"' in page
