"""In Chromium: an admin draws a zone on the map (click the corners, undo one, save), and an
advertiser opens its campaign's delivery: the figures, and the map of where it played filling
up as proof of play arrives."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Page, expect

from config.settings import Settings
from store.plays import ingest
from tests.browser.conftest import default_tenant_user, screenshot, sign_in
from tests.conftest import TestFleetFactory
from tests.helpers import on_store
from tests.hub.campaign_helpers import CBD_RING, IN_CBD, make_campaign
from tests.web.campaign_helpers import advertiser
from tests.web.conftest import Conn, Tenant

pytestmark = pytest.mark.browser


async def test_an_admin_draws_a_zone_on_the_map(page: Page, web_url: str, conn: Conn) -> None:
    admin = default_tenant_user(conn, "admin", [])
    await sign_in(page, web_url, admin, "/zones/new")
    name = f"Drawn {uuid.uuid4().hex[:6]}"
    await page.fill("#zone-name", name)
    drawing = page.locator("#zone-map")
    box = await drawing.bounding_box()
    assert box is not None
    for x, y in [(100, 100), (300, 110), (320, 260), (120, 250), (200, 330)]:
        await drawing.click(position={"x": x, "y": y})
    await expect(page.locator("#zone-corners")).to_have_text("5 corners")
    await page.click("#zone-undo")  # the last corner was a slip
    await expect(page.locator("#zone-corners")).to_have_text("4 corners")
    await screenshot(page, "zone-drawn")
    await page.click("form[action='/zones'] button[type=submit]")  # not the header's sign-out
    await page.wait_for_url(f"{web_url}/zones/z-*")
    await expect(page.locator("[role=status]")).to_have_text("Zone saved.")
    row = conn.execute(
        "SELECT source, vertices, geometry->>'type' FROM zones WHERE name = %s", (name,)
    ).fetchone()
    assert row == ("drawn", 5, "Polygon")
    await page.goto(f"{web_url}/zones")
    await expect(page.locator("#zone-list")).to_contain_text(name)
    assert await page.locator("#zone-map path.leaflet-interactive").count() >= 1


def plays_at(made: Any, where: tuple[float, float], n: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "event_id": str(uuid.uuid4()),
            "ad_id": made.media_id,
            "campaign_id": made.campaign_id,
            "playlist_id": "pl-campaigns",
            "playlist_etag": "e",
            "started_at": (now - timedelta(seconds=60 + k)).isoformat(),
            "duration_ms": 5000,
            "result": "completed",
            "lat": where[0],
            "lon": where[1],
        }
        for k in range(n)
    ]


async def test_the_advertiser_sees_its_delivery_and_the_map_fill_up(
    page: Page,
    web_url: str,
    conn: Conn,
    settings: Settings,
    fleet_factory: TestFleetFactory,
) -> None:
    fleet = await fleet_factory(tablets=1, timezone="Asia/Singapore")
    tenant = Tenant("default", [fleet.fleet_id], {fleet.fleet_id: fleet.tablet_ids}, "", "")
    account = advertiser(conn, tenant, "portal")
    made = await on_store(
        conn,
        lambda aconn: make_campaign(
            aconn,
            settings,
            "default",
            fleets=(fleet.fleet_id,),
            zone_ring=CBD_RING,
            advertiser_id=account.advertiser_id,
            daily_goal=100,
        ),
    )
    tablet, received = fleet.tablet_ids[0], datetime.now(UTC)
    await on_store(
        conn,
        lambda aconn: ingest(aconn, tablet, fleet.fleet_id, plays_at(made, IN_CBD, 7), received),
    )
    await sign_in(page, web_url, account.email, "/campaigns")
    await page.click(f"#campaign-{made.campaign_id} >> text=Delivery")
    await page.wait_for_url(f"{web_url}/campaigns/{made.campaign_id}/delivery")
    await expect(page.locator("[data-field=total-delivered]")).to_have_text("7")
    await expect(page.locator("[data-field=delivered]")).to_contain_text("7 plays")
    cells = page.locator("#delivery-map path.leaflet-interactive")
    await expect(cells).to_have_count(2)  # one H3 cell and the zone's outline
    await screenshot(page, "campaign-delivery")
    # More plays elsewhere in the zone: the map reads its data again and fills up.
    elsewhere = (1.2765, 103.8465)
    await on_store(
        conn,
        lambda aconn: ingest(aconn, tablet, fleet.fleet_id, plays_at(made, elsewhere, 3), received),
    )
    await page.evaluate("window.deliveryMap.refresh()")
    await expect(cells).to_have_count(3)
    await expect(page.locator("#delivery-map")).to_have_attribute("data-cells", "2")
