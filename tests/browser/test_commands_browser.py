"""In Chromium: a command sent from the tablet page, its page following the tablets' states
without a reload (its script re-reads the progress under the panel's CSP)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import default_tenant_user, screenshot, sign_in
from tests.conftest import TestFleetFactory
from tests.web.conftest import Conn

pytestmark = pytest.mark.browser


async def test_a_command_page_follows_its_tablets_live(
    page: Page, web_url: str, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(tablets=1, cars=True)
    tid = fleet.tablet_ids[0]
    admin = default_tenant_user(conn, "admin", [])
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await sign_in(page, web_url, admin, f"/tablets/{tid}")
    await page.select_option("#tc-name", "set_volume")
    await page.fill("#tc-level", "30")
    await page.click("#tablet-command button[type=submit]")
    await page.wait_for_url(re.compile(r".*/commands/[0-9a-f-]{36}$"))
    await expect(page.locator("#count-done")).to_have_text("0 of 1 done")
    await expect(page.locator(f"#target-{tid} .state")).to_have_text("waiting for the tablet")
    await page.evaluate("window.loadedOnce = true")

    command = page.url.rsplit("/", 1)[1]
    conn.execute(
        "UPDATE command_targets SET state = 'succeeded', sent_at = now(), delivered_at = now(),"
        " done_at = now(), detail = 'volume 30' WHERE command_id = %s",
        (command,),
    )
    await expect(page.locator("#count-done")).to_have_text("1 of 1 done", timeout=5000)
    await expect(page.locator(f"#target-{tid} .state")).to_have_text("succeeded")
    await expect(page.locator(f"#target-{tid}")).to_contain_text("volume 30")
    assert await page.evaluate("window.loadedOnce") is True
    assert not errors
    await screenshot(page, "command-progress")
