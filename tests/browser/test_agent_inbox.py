"""In Chromium: an agent's inbox receives an offer live (row, toast, countdown) and accepts it."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Page, expect

from store.fleets import FleetSpec, TabletSpec, add_fleet, add_tablet
from tests.browser.conftest import default_tenant_user, screenshot, sign_in
from tests.helpers import Conn as AsyncConn
from tests.web.agent_helpers import Agent, Campaign, lead_row, new_lead, offer
from tests.web.conftest import Conn
from tests.web.lead_helpers import make_campaign, make_code

pytestmark = pytest.mark.browser


async def test_an_offer_appears_live_with_a_toast_and_is_accepted(
    page: Page, web_url: str, conn: Conn, aconn: AsyncConn
) -> None:
    fleet = f"ai-{uuid.uuid4().hex[:8]}"
    tablet = f"{fleet}-t0"
    await add_fleet(aconn, FleetSpec(fleet), "test")
    await add_tablet(aconn, TabletSpec(tablet, fleet, f"{fleet}-car0", 60), "test")
    campaign_id = make_campaign(conn, "default", "Car insurance")
    campaign = Campaign(
        "default", campaign_id, make_code(conn, "default", campaign_id, tablet_id=tablet), tablet
    )
    email = default_tenant_user(conn, "agent", [])
    row = conn.execute("SELECT user_id FROM users WHERE email = %s", (email,)).fetchone()
    assert row is not None
    agent = Agent(int(str(row[0])), email, "default")

    await sign_in(page, web_url, email, "/agent/leads")
    await expect(page.locator("#live")).to_have_text("● live")
    await expect(page.locator("#no-offers")).to_be_visible()
    lead_id = new_lead(conn, campaign, "Tan Mei Ling", "+6598765432")
    offer(conn, lead_id, agent, seconds=300)

    lead = page.locator(f"#lead-{lead_id}")
    await expect(lead).to_be_visible()  # no reload
    await expect(page.locator(".toast")).to_have_text("New lead: Tan Mei Ling (Car insurance)")
    await expect(lead.locator(".countdown")).to_contain_text("expires in 4:")
    await expect(lead.get_by_role("link", name="+6598765432")).to_have_attribute(
        "href", "tel:+6598765432"
    )
    await expect(page.locator("#no-offers")).to_be_hidden()
    await screenshot(page, "agent-inbox")

    await lead.get_by_role("button", name="Accept").click()
    await expect(page.get_by_role("status").filter(has_text="Lead accepted")).to_be_visible()
    held = page.locator(f"#held #lead-{lead_id}")
    await expect(held).to_be_visible()
    await expect(held.get_by_role("button", name="Mark contacted")).to_be_visible()
    assert lead_row(conn, lead_id) == ("accepted", agent.user_id)
