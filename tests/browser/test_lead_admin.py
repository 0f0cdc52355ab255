"""In Chromium: an admin creates a lead campaign and a QR code, and the code's picture
loads and leads to the form (the admin side of the leads flow)."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import default_tenant_user, screenshot, sign_in
from tests.web.conftest import Conn

pytestmark = pytest.mark.browser


async def test_admin_creates_a_campaign_and_a_printable_qr_code(
    page: Page, web_url: str, conn: Conn
) -> None:
    admin = default_tenant_user(conn, "admin", [])
    campaign = f"camp-{uuid.uuid4().hex[:8]}"
    await sign_in(page, web_url, admin, "/leads/campaigns")
    await page.get_by_label("Campaign id").fill(campaign)
    await page.get_by_label("Name", exact=False).first.fill("Home insurance")
    await page.get_by_role("button", name="Create campaign").click()
    await expect(page.get_by_role("status")).to_contain_text("Campaign created")
    await expect(page.get_by_role("heading", name="Home insurance")).to_be_visible()
    await expect(page.get_by_text("No QR codes yet.")).to_be_visible()

    await page.get_by_label("Cap").fill("50")
    await page.get_by_role("button", name="Create QR code").click()
    row = page.locator("table.codes tbody tr").first
    await expect(row).to_contain_text("50")
    code = (await row.locator("code").inner_text()).strip()

    # The picture is a real PNG the browser can decode.
    width = await page.evaluate(
        """async (src) => { const img = new Image(); img.src = src; await img.decode();
                            return img.naturalWidth; }""",
        f"/leads/qr/{code}.png",
    )
    assert width > 100
    await screenshot(page, "lead-campaign")

    # The code's link opens the public form of that campaign.
    await row.get_by_role("link", name=code).click()
    await expect(page.get_by_role("heading", name="Home insurance")).to_be_visible()
    await expect(page.get_by_label("Phone number")).to_be_visible()
    stored = conn.execute(
        "SELECT max_leads, created_by FROM qr_codes WHERE code = %s", (code,)
    ).fetchone()
    assert stored == (50, admin)
