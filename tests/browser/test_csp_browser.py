"""In Chromium: the panel's pages run under their Content-Security-Policy without a violation,
and the revoke form still asks before it posts (its confirm moved out of an inline handler)."""

from __future__ import annotations

import pytest
from playwright.async_api import ConsoleMessage, Dialog, Page, expect

from tests.browser.conftest import default_tenant_user, sign_in
from tests.conftest import TestFleetFactory
from tests.web.conftest import Conn

pytestmark = pytest.mark.browser

PAGES = (
    "/",
    "/heatmap",
    "/alerts",
    "/reports/uptime",
    "/reports/plays",
    "/push",
    "/playlists",
    "/playlists/new",
    "/leads",
    "/audit",
    "/hubs",
)


async def test_pages_run_under_the_policy_and_confirm_still_asks(
    page: Page, web_url: str, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(tablets=1)
    admin = default_tenant_user(conn, "admin", [])
    violations: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            violations.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    await page.add_init_script("""document.addEventListener("securitypolicyviolation",
        (e) => console.error("Refused to " + e.violatedDirective + " " + e.blockedURI))""")
    await sign_in(page, web_url, admin)
    for path in (*PAGES, f"/tablets/{fleet.tablet_ids[0]}"):
        response = await page.goto(f"{web_url}{path}")
        assert response is not None
        assert response.status == 200, path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    # The tablet page's inline script ran (it opened the live stream) and the revoke form asks.
    await expect(page.locator("#live")).to_have_text("● live")
    asked: list[str] = []

    async def dismiss(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", dismiss)
    await page.click("form.revoke button[type=submit]")
    assert len(asked) == 1
    assert asked[0].startswith(f"Revoke {fleet.tablet_ids[0]}?")
    revoked = conn.execute(
        "SELECT revoked_at FROM tablets WHERE tablet_id = %s", (fleet.tablet_ids[0],)
    ).fetchone()
    assert revoked == (None,)  # dismissed: nothing was posted
    assert violations == []
