"""In Chromium: the uptime heatmap and report render with their legend and chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import default_tenant_user, screenshot, sign_in
from tests.conftest import TestFleetFactory
from tests.web.conftest import Conn

pytestmark = pytest.mark.browser


async def test_heatmap_and_uptime_report(
    page: Page, web_url: str, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(tablets=3, cars=True)
    conn.execute(
        "UPDATE tablets SET registered_at = now() - interval '3 days' WHERE fleet_id = %s",
        (fleet.fleet_id,),
    )
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    rows = [
        (t, hour - timedelta(hours=h), 3600.0 * ((n + h) % 4) / 3)
        for n, t in enumerate(fleet.tablet_ids)
        for h in range(1, 49)
    ]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO uptime_hourly (tablet_id, hour, online_seconds) VALUES (%s, %s, %s)", rows
        )
    owner = default_tenant_user(conn, "fleet_owner", [fleet.fleet_id])
    await sign_in(page, web_url, owner, f"/heatmap?fleet={fleet.fleet_id}")
    await expect(page.get_by_text(fleet.tablet_ids[0]).first).to_be_visible()
    await screenshot(page, "heatmap")
    await page.goto(f"{web_url}/reports/uptime?group=tablet&fleet={fleet.fleet_id}")
    await expect(page.locator("svg").first).to_be_visible()
    await expect(page.locator("table").get_by_text(fleet.tablet_ids[2])).to_be_visible()
    await screenshot(page, "report-uptime")
