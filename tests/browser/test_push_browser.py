"""In Chromium: an admin composes, confirms and sends an emergency push; its progress goes live."""

from __future__ import annotations

import json

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import default_tenant_user, screenshot, sign_in
from tests.conftest import TestFleetFactory
from tests.web.conftest import Conn

pytestmark = pytest.mark.browser

ITEM = {
    "ad_id": "ad-sos",
    "campaign_id": "c-sos",
    "url": "https://cdn.example/sos.mp4",
    "sha256": "e" * 64,
    "duration_ms": 20000,
}


async def test_push_form_confirm_send_and_live_progress(
    page: Page, web_url: str, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(tablets=3, cars=True)
    first, second, third = fleet.tablet_ids
    conn.execute(
        "UPDATE tablet_state SET state = 'online', updated_at = now() WHERE tablet_id = ANY(%s)",
        ([first, second],),
    )
    admin = default_tenant_user(conn, "admin", [])
    await sign_in(page, web_url, admin, "/push")

    # A mistake first: the page says what is wrong and keeps what was typed.
    await page.check("input[name=source][value=inline]")
    await page.fill("textarea[name=items]", json.dumps({**ITEM, "sha256": "short"}))
    await page.check("input[name=scope][value=selected]")
    await page.check(f"input[name=fleet][value={fleet.fleet_id}]")
    await page.fill("input[name=reason]", "flood warning")
    await page.click("button[type=submit]:has-text('Review')")
    await expect(page.locator("#err-items")).to_contain_text("Item 1: sha256")
    await expect(page.locator("input[name=reason]")).to_have_value("flood warning")

    await page.fill("textarea[name=items]", json.dumps(ITEM))
    await page.select_option("select[name=expires]", "15")
    await page.click("button[type=submit]:has-text('Review')")
    await expect(page.locator(".reach")).to_have_text("This will reach 3 tablets (2 online now).")
    await screenshot(page, "push-confirm")
    await page.click("button:has-text('Send the push')")
    await page.wait_for_url(f"{web_url}/push/*")
    await expect(page.locator("#live")).to_have_text("● live")
    await expect(page.locator("[data-push=targeted]")).to_have_text("3")
    await expect(page.locator("#push-status")).to_have_text("active")
    await page.evaluate("window.loadedOnce = true")

    push_id = page.url.rsplit("/", 1)[1]
    row = conn.execute("SELECT etag FROM pushes WHERE push_id = %s", (push_id,)).fetchone()
    assert row is not None
    etag = str(row[0])
    conn.execute(
        "INSERT INTO deliveries (tablet_id, etag, status, published_at, acked_at)"
        " VALUES (%s, %s, 'applied', now(), now()), (%s, %s, 'published', now(), NULL)",
        (first, etag, second, etag),
    )
    conn.execute(
        "UPDATE tablet_state SET applied_etag = %s, updated_at = now() WHERE tablet_id = %s",
        (etag, first),
    )
    conn.execute("UPDATE tablet_state SET updated_at = now() WHERE tablet_id = %s", (second,))
    conn.execute("SELECT pg_notify('fleethub_state', %s)", (first,))
    await expect(page.locator("[data-push=acknowledged]")).to_have_text("1", timeout=5000)
    await expect(page.locator("[data-push=published]")).to_have_text("1")
    await expect(page.locator("[data-push=offline]")).to_have_text("1")
    await expect(page.locator(f"#pt-{first}")).to_have_attribute("data-status", "acknowledged")
    await expect(page.locator(f"#pt-{third}")).to_have_attribute("data-status", "offline")
    assert await page.evaluate("window.loadedOnce") is True
    await screenshot(page, "push-progress")

    page.once("dialog", lambda dialog: dialog.accept())
    await page.click("button:has-text('Revert now')")
    await expect(page.locator("#push-status")).to_have_text("reverted")
    await expect(page.locator("button:has-text('Revert now')")).to_have_count(0)
    await page.goto(f"{web_url}/push")
    await expect(page.locator(f"tr.push-reverted a[href='/push/{push_id}']")).to_have_count(1)
    await screenshot(page, "push-form")
