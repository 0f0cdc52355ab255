"""In Chromium: the tablet page's tile and the alerts list follow the store without a reload."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import default_tenant_user, screenshot, sign_in
from tests.conftest import TestFleetFactory
from tests.web.conftest import Conn
from tests.web.test_tablet_detail import add_heartbeat, add_transition

pytestmark = pytest.mark.browser


async def test_tablet_page_tile_follows_the_stream(
    page: Page, web_url: str, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(tablets=2, cars=True)
    tid = fleet.tablet_ids[0]
    now = datetime.now(UTC)
    add_transition(conn, tid, now - timedelta(hours=30), "online", "heartbeat")
    add_transition(conn, tid, now - timedelta(hours=8), "offline", "will")
    add_transition(conn, tid, now - timedelta(hours=3), "online", "status")
    for seq in range(1, 6):
        add_heartbeat(conn, tid, now - timedelta(minutes=10 - seq), seq, ad_id=f"ad-{seq}")
    owner = default_tenant_user(conn, "fleet_owner", [fleet.fleet_id])
    await sign_in(page, web_url, owner, f"/tablets/{tid}")
    await expect(page.locator("#live")).to_have_text("● live")
    tile = page.locator(f"#tile-{tid}")
    await expect(tile).to_have_attribute("data-state", "unknown")
    await expect(page.locator("#timeline rect")).to_have_count(3)
    await page.evaluate("window.loadedOnce = true")

    conn.execute(
        "UPDATE tablet_state SET state = 'online', battery = 42, state_since = now(),"
        " last_heartbeat_at = now(), updated_at = now() WHERE tablet_id = %s",
        (tid,),
    )
    conn.execute("SELECT pg_notify('fleethub_state', %s)", (tid,))
    await expect(tile).to_have_attribute("data-state", "online", timeout=5000)
    await expect(tile).to_contain_text("42%")
    assert await page.evaluate("window.loadedOnce") is True
    await screenshot(page, "tablet-detail")


async def test_alert_appears_then_is_acknowledged_and_noted(
    page: Page, web_url: str, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(tablets=1, cars=True)
    tid = fleet.tablet_ids[0]
    owner = default_tenant_user(conn, "fleet_owner", [fleet.fleet_id])
    await sign_in(page, web_url, owner, "/alerts")
    await expect(page.locator("#live")).to_have_text("● live")
    await page.evaluate("window.loadedOnce = true")

    incident = uuid.uuid4()
    opened = datetime.now(UTC)
    conn.execute(
        "INSERT INTO incidents (incident_id, tablet_id, fleet_id, kind, opened_at, offline_since)"
        " VALUES (%s, %s, %s, 'offline', %s, %s)",
        (incident, tid, fleet.fleet_id, opened, opened - timedelta(minutes=5)),
    )
    payload = {
        "v": 1,
        "incident_id": str(incident),
        "event": "opened",
        "kind": "offline",
        "tablet_id": tid,
        "fleet_id": fleet.fleet_id,
        "opened_at": opened.isoformat(),
        "at": opened.isoformat(),
        "offline_since": opened.isoformat(),
    }
    conn.execute("SELECT pg_notify('fleethub_alerts', %s)", (json.dumps(payload),))
    row = page.locator(f"#incident-{incident}")
    await expect(row).to_be_visible(timeout=5000)
    await expect(page.locator(".toast")).to_contain_text(tid)
    assert await page.evaluate("window.loadedOnce") is True

    await row.get_by_role("button", name="Acknowledge").click()
    await expect(row.locator("td.ack")).to_contain_text(owner)
    await row.locator("textarea").fill("driver called, tablet unplugged")
    await row.get_by_role("button", name="Add note").click()
    await expect(page.locator(f"#incident-{incident}")).to_contain_text(
        "driver called, tablet unplugged"
    )
    await screenshot(page, "alerts")
