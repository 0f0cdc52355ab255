"""Issue 11, "Accessibility and look" and defect 3: in Chromium, at 1440×900 and on a 390×844
phone, every page each role's menu leads to (and one page of each kind those pages link to)
has no axe-core violation, no sideways scroll and none of the hub's jargon.

The pages are found as a user finds them: the menu of each role (a page added to a menu
later is checked without changing this test), then the links of those pages. The error
pages and the sign-in page are checked too.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.browser.a11y import (
    Finding,
    check_page,
    kind_of,
    linked_pages,
    menu_links,
    new_context,
)
from tests.browser.conftest import sign_in
from tests.browser.scene import Scene, build
from tests.web.conftest import Conn, TenantFactory, tenant_factory  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser

HOMES = {
    "admin": "/",
    "fleet_owner": "/",
    "agent": "/agent/leads",
    "advertiser": "/campaigns",
    "driver": "/driver",
}
MAX_PAGES = 40  # per role and viewport: the menu's pages and one of each kind below them
DEPTH = 2  # links followed from the menu: a list, then what its rows open


@pytest.fixture
def scene(conn: Conn, tenant_factory: TenantFactory, web_url: str) -> Scene:  # noqa: F811
    return build(conn, tenant_factory, web_url)


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
@pytest.mark.parametrize("role", list(HOMES))
async def test_every_page_a_role_reaches_is_accessible_and_fits(
    browser: Browser, web_url: str, scene: Scene, role: str, viewport: str
) -> None:
    context = await new_context(browser, viewport)
    page = await context.new_page()
    try:
        if role == "driver":  # the one-time link the fleet owner sent, then its button
            await page.goto(f"{web_url}{scene.driver_link}")
            await page.click("#signin")
            await page.wait_for_url(f"{web_url}{HOMES[role]}")
        else:
            await sign_in(page, web_url, scene.login(role), HOMES[role])
        menu = await menu_links(page)
        assert HOMES[role] in menu, menu  # every role's start page is in its menu
        kinds = {kind_of(path) for path in menu}
        findings: list[Finding] = []
        todo = [(path, 0) for path in menu]
        checked: list[str] = []
        while todo and len(checked) < MAX_PAGES:
            path, depth = todo.pop(0)
            findings += await check_page(page, web_url, path, viewport)
            checked.append(path)
            if depth < DEPTH:
                todo += [(p, depth + 1) for p in await linked_pages(page, kinds)]
        # An error page keeps the menu, and is as accessible as the rest.
        status = 404 if role in ("admin", "fleet_owner") else 403  # not theirs, or no grid
        findings += await check_page(page, web_url, "/tablets/no-such-tablet", viewport, status)
        assert await menu_links(page) == menu
        assert not findings, "\n".join(map(str, findings)) + f"\n(checked {checked})"
        assert len(checked) >= len(menu)
    finally:
        await context.close()


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
async def test_the_sign_in_page_is_accessible_and_fits(
    browser: Browser, web_url: str, viewport: str
) -> None:
    context = await new_context(browser, viewport)
    page = await context.new_page()
    try:
        findings = await check_page(page, web_url, "/login", viewport)
        assert not findings, "\n".join(map(str, findings))
    finally:
        await context.close()
