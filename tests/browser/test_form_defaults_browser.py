"""In Chromium: the device-operations and campaign forms submitted as a user leaves them —
every field at its default, or only the required ones filled. A default that cannot stand
alone is named on the re-rendered page (never raw JSON); one that can starts the thing."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.async_api import ConsoleMessage, Page, Response, expect

from tests.browser.conftest import default_tenant_user, sign_in
from tests.conftest import TestFleetFactory
from tests.web.campaign_helpers import advertiser
from tests.web.conftest import Conn, Tenant

pytestmark = pytest.mark.browser


def console_errors(page: Page) -> list[str]:
    """Script errors, and responses that failed — but for the library's thumbnails: the
    shared test store holds media rows other tests made without files."""
    errors: list[str] = []

    def response(r: Response) -> None:
        if r.status >= 400 and "/library/thumbnails/" not in r.url:
            errors.append(f"{r.status} {r.url}")

    def console(m: ConsoleMessage) -> None:
        if m.type == "error" and not m.text.startswith("Failed to load resource"):
            errors.append(m.text)

    page.on("response", response)
    page.on("console", console)
    return errors


async def admin_on(page: Page, web_url: str, conn: Conn, path: str) -> list[str]:
    """A new admin of the default tenant signed in on ``path``; the page's errors from then."""
    admin = default_tenant_user(conn, "admin", [])
    errors = console_errors(page)
    await sign_in(page, web_url, admin, path)
    return errors


async def submit(page: Page, form: str) -> int:
    """Click the form's submit button; the status of the page it leads to."""
    async with page.expect_navigation() as navigation:
        await page.click(f"{form} button[type=submit]")
    response = await navigation.value
    assert response is not None
    assert response.headers["content-type"].startswith("text/html")
    return response.status


async def test_a_command_sent_with_the_forms_defaults(
    page: Page, web_url: str, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(tablets=2)
    errors = await admin_on(page, web_url, conn, "/commands")
    # Every field as the page offers it: no fleet, no tablets.
    assert await submit(page, "#command-form") == 422
    await expect(page.locator(".error")).to_contain_text("fleet")
    await expect(page.locator("#c-expires")).to_have_value("1h")  # the form kept its values
    errors.clear()  # the refused form's 422
    # Only the fleet chosen: the default command (the first offered) with the default expiry.
    await page.select_option("#c-fleet", fleet.fleet_id)
    first = await page.locator("#c-name option").first.get_attribute("value")
    assert await submit(page, "#command-form") == 200
    assert re.search(r"/commands/[0-9a-f-]{36}$", page.url), page.url
    await expect(page.locator("#count-done")).to_have_text("0 of 2 done")
    command = page.url.rsplit("/", 1)[1]
    row = conn.execute(
        "SELECT name, round(extract(epoch FROM expires_at - issued_at)) FROM commands"
        " WHERE command_id = %s",
        (command,),
    ).fetchone()
    assert row == (first, 3600)
    assert not errors


async def test_a_rollout_started_with_only_the_required_fields(
    page: Page, web_url: str, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(tablets=2)
    errors = await admin_on(page, web_url, conn, "/rollouts")
    await page.select_option("#r-fleet", fleet.fleet_id)
    version = f"9.{uuid.uuid4().int % 1000}.0"
    await page.fill("#r-version", version)
    await page.fill("#r-url", f"https://apps.example/fleet-{version}.apk")
    await page.fill("#r-sha", "a" * 64)
    assert await submit(page, "#rollout-form") == 200
    assert re.search(r"/rollouts/\d+", page.url), page.url
    row = conn.execute(
        "SELECT waves, soak_s, crash_excess_pct, offline_excess_pct FROM rollouts"
        " WHERE fleet_id = %s AND app_version = %s",
        (fleet.fleet_id, version),
    ).fetchone()
    assert row == ([1, 10, 50, 100], 1800, 5.0, 10.0)  # the form's defaults
    assert not errors


async def test_a_campaign_saved_with_only_the_required_fields(
    page: Page, web_url: str, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(tablets=1)
    tenant = Tenant("default", [fleet.fleet_id], {fleet.fleet_id: fleet.tablet_ids}, "", "")
    account = advertiser(conn, tenant)
    errors = await admin_on(page, web_url, conn, "/campaigns/new")
    await page.select_option("#c-advertiser", account.advertiser_id)
    campaign_id = f"cmp-{uuid.uuid4().hex[:8]}"
    await page.fill("#c-id", campaign_id)
    await page.fill("#c-name", "Defaults")
    await page.fill("#c-start", "2027-01-01T00:00")
    await page.fill("#c-end", "2027-01-31T23:59")
    assert await submit(page, "form[action='/campaigns']") == 200
    assert re.search(rf"/campaigns/{campaign_id}\?done=created$", page.url), page.url
    await expect(page.locator("[role=status]")).to_contain_text("Campaign drafted")
    row = conn.execute(
        "SELECT status, priority, share_of_voice FROM campaigns WHERE campaign_id = %s",
        (campaign_id,),
    ).fetchone()
    assert row == ("draft", 1, None)
    assert not errors
