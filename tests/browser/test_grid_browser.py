"""In Chromium: a fleet owner watches a tile turn green on a real heartbeat and red on silence."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import default_tenant_user, screenshot, sign_in
from tests.conftest import RunningHub, TestFleetFactory
from tests.web.conftest import Conn

pytestmark = pytest.mark.browser


async def test_tile_turns_green_then_red_without_reload(
    page: Page,
    web_url: str,
    running_hub: RunningHub,
    fleet_factory: TestFleetFactory,
    conn: Conn,
) -> None:
    fleet = await fleet_factory(tablets=3, heartbeat_s=1, offline_after_s=3, cars=True)
    owner = default_tenant_user(conn, "fleet_owner", [fleet.fleet_id])
    await sign_in(page, web_url, owner, f"/?fleet={fleet.fleet_id}")
    await expect(page.locator("#live")).to_have_text("● live")
    tid = fleet.tablet_ids[0]
    tile = page.locator(f"#tile-{tid}")
    await expect(tile).to_have_attribute("data-state", "unknown")
    await page.evaluate("window.loadedOnce = true")  # survives only if the page never reloads

    tablet = fleet.tablet().connect(online=False)
    try:
        tablet.heartbeat(battery=57, now_playing={"ad_id": "ad-live", "campaign_id": "c"})
        await expect(tile).to_have_attribute("data-state", "online", timeout=5000)
        await expect(tile).to_contain_text("57%")
        await expect(tile).to_contain_text("ad-live")
        await expect(page.locator("[data-count=online]")).to_have_text("1")
        await screenshot(page, "grid-online")
    finally:
        tablet.close()  # clean disconnect, no will: silence must be noticed by the watchdog
    await expect(tile).to_have_attribute("data-state", "offline", timeout=10000)
    await expect(page.locator("[data-count=offline]")).to_have_text("1")
    assert await page.evaluate("window.loadedOnce") is True
    await screenshot(page, "grid-offline")


async def test_owner_sees_only_their_fleet(
    page: Page, web_url: str, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    mine, other = await fleet_factory(tablets=1), await fleet_factory(tablets=1)
    owner = default_tenant_user(conn, "fleet_owner", [mine.fleet_id])
    await sign_in(page, web_url, owner)
    await expect(page.locator(f"#tile-{mine.tablet_ids[0]}")).to_be_visible()
    assert await page.locator(f"#tile-{other.tablet_ids[0]}").count() == 0
    response = await page.goto(f"{web_url}/tablets/{other.tablet_ids[0]}")
    assert response is not None
    assert response.status == 404
