"""In Chromium on a phone: a passenger fills the lead form, fixes a bad number, sends it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from store.fleets import FleetSpec, TabletSpec, add_fleet, add_tablet
from tests.browser.conftest import screenshot
from tests.helpers import Conn as AsyncConn
from tests.web.conftest import Conn
from tests.web.lead_helpers import make_campaign, make_code

pytestmark = pytest.mark.browser


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        java_script_enabled=False,
    )
    opened = await context.new_page()
    yield opened
    await context.close()


async def test_passenger_fixes_a_bad_number_and_sends_the_form(
    phone: Page, web_url: str, conn: Conn, aconn: AsyncConn
) -> None:
    fleet = f"lf-{uuid.uuid4().hex[:8]}"
    tablet = f"{fleet}-t0"
    await add_fleet(aconn, FleetSpec(fleet), "test")
    await add_tablet(aconn, TabletSpec(tablet, fleet, f"{fleet}-car0", 60), "test")
    campaign = make_campaign(conn, "default", "Car insurance")
    code = make_code(conn, "default", campaign, tablet_id=tablet)
    await phone.goto(f"{web_url}/l/{code}")
    await expect(phone.get_by_role("heading", name="Car insurance")).to_be_visible()
    # Labelled fields: found by their labels, as a screen reader would.
    await phone.get_by_label("Your name").fill("Tan Mei Ling")
    await phone.get_by_label("Phone number").fill("7123 4567")
    await phone.get_by_label("I agree").check()
    await phone.get_by_role("button", name="Send my details").tap()

    field = phone.get_by_label("Phone number")
    await expect(phone.locator("#phone-error")).to_contain_text("Enter a Singapore phone number")
    await expect(field).to_have_attribute("aria-invalid", "true")
    await expect(field).to_have_attribute("aria-describedby", "phone-hint phone-error")
    await expect(phone.get_by_role("alert")).to_be_visible()
    await expect(phone.get_by_label("Your name")).to_have_value("Tan Mei Ling")
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing wider than the phone's screen
    await screenshot(phone, "lead-form")

    await expect(phone.get_by_label("I agree")).to_be_checked()  # kept, like the name
    await field.fill("9123 4567")
    await phone.get_by_role("button", name="Send my details").tap()
    await expect(phone.get_by_role("heading", name="Thank you")).to_be_visible()
    await screenshot(phone, "lead-thanks")
    rows = conn.execute(
        "SELECT name, phone, status, tablet_id FROM leads WHERE code = %s", (code,)
    ).fetchall()
    assert rows == [("Tan Mei Ling", "+6591234567", "new", tablet)]
