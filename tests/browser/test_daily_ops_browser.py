"""Issue 11's defects in Chromium, each at 1440×900 and on a 390×844 phone, under the panel's
real Content-Security-Policy: what an operator, an admin and an agent do all day.

No timing asserts: every wait is for a state of the page (Playwright's expect, or a
function over the DOM), bounded only so that a broken page fails instead of hanging.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.a11y import VIEWPORTS
from tests.browser.conftest import screenshot, sign_in
from tests.browser.scene import Scene, build, state
from tests.web.conftest import Conn, TenantFactory, tenant_factory  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser

WAIT = 15_000  # ms: how long a page may take to show a change before the test fails


@pytest.fixture(params=["desktop", "phone"])
def viewport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def vpage(browser: Browser, viewport: str) -> AsyncIterator[Page]:
    context = await browser.new_context(
        viewport=VIEWPORTS[viewport],  # type: ignore[arg-type]
        is_mobile=viewport == "phone",
        has_touch=viewport == "phone",
    )
    page = await context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    yield page
    await context.close()


@pytest.fixture
def scene(conn: Conn, tenant_factory: TenantFactory, web_url: str) -> Scene:  # noqa: F811
    return build(conn, tenant_factory, web_url)


async def open_menu_link(page: Page, name: str) -> None:
    """Follow a menu entry as a user does (the menu is behind a button on a phone)."""
    toggle = page.locator("#menu-toggle")
    if await toggle.is_visible():
        await toggle.click()
    await page.locator("#menu").get_by_role("link", name=name, exact=True).click()


async def tile_ids(page: Page) -> list[str]:
    ids: list[str] = await page.eval_on_selector_all(
        "#grid .tile", "(tiles) => tiles.map((t) => t.id.slice(5))"
    )
    return ids


async def grid_view(page: Page) -> dict[str, object]:
    """What a grid shows: its sections, their tiles in order, the header's counts."""
    view: dict[str, object] = await page.evaluate(
        """() => ({
            sections: [...document.querySelectorAll("#grid section.fleet")].map((s) => [
                s.querySelector("h2").textContent.replace(/\\s+/g, " ").trim(),
                [...s.querySelectorAll(".tile")].map((t) => t.id.slice(5) + ":" + t.dataset.state),
            ]),
            counts: [...document.querySelectorAll("[data-count]")].map((c) => c.textContent),
            empty: !document.getElementById("grid-empty").hidden,
        })"""
    )
    return view


def notify_state(conn: Conn, tablet: str) -> None:
    conn.execute("SELECT pg_notify('fleethub_state', %s)", (tablet,))


# --- defect 1: the filter forms take their own defaults ----------------------------------


async def test_all_fleets_and_offline_is_a_filter(
    vpage: Page, web_url: str, scene: Scene, viewport: str
) -> None:
    await sign_in(vpage, web_url, scene.tenant.admin)
    await vpage.select_option("select[name=state]", "offline")  # fleet: "all fleets"
    await expect(vpage).to_have_url(re.compile(r"/\?state=offline$"), timeout=WAIT)
    assert await tile_ids(vpage) == [scene.offline]
    response = await vpage.goto(f"{web_url}/?fleet=&state=offline&q=")  # the form, no script
    assert response is not None
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    assert await tile_ids(vpage) == [scene.offline]
    for path in ("/alerts?fleet=&status=", "/audit?actor=&action=&target=&since=&until="):
        answer = await vpage.goto(web_url + path)
        assert answer is not None
        assert answer.status == 200, path
    bad = await vpage.goto(f"{web_url}/alerts?status=sideways")
    assert bad is not None
    assert bad.status == 422
    await expect(vpage.locator(".error")).to_contain_text("is not a status")
    await expect(vpage.locator("#menu")).to_be_attached()


# --- defect 2: a filtered live grid stays equal to a fresh load --------------------------


async def test_a_filtered_live_grid_equals_a_fresh_load_after_tablets_change(
    vpage: Page, browser: Browser, web_url: str, scene: Scene, conn: Conn, viewport: str
) -> None:
    fleet = scene.tenant.fleets[0]
    path = f"/?fleet={fleet}&state=offline"
    await sign_in(vpage, web_url, scene.tenant.owner)
    await vpage.goto(web_url + path)
    await expect(vpage.locator("#live")).to_have_text("● live", timeout=WAIT)
    await vpage.evaluate("window.loadedOnce = true")
    first, offline, flapping, _ = scene.tenant.tablets[fleet]
    assert await tile_ids(vpage) == [offline]
    now = datetime.now(UTC)
    # One goes offline, the offline one comes back, another goes offline.
    for tablet, to in ((first, "offline"), (offline, "online"), (flapping, "offline")):
        state(conn, tablet, to, now)
        notify_state(conn, tablet)
    fresh = await browser.new_context(viewport=VIEWPORTS[viewport])  # type: ignore[arg-type]
    try:
        other = await fresh.new_page()
        await sign_in(other, web_url, scene.tenant.owner)
        await other.goto(web_url + path)
        expected = await grid_view(other)
    finally:
        await fresh.close()
    assert [t.split(":")[0] for t in expected["sections"][0][1]] == sorted([first, flapping])  # type: ignore[index]
    await vpage.wait_for_function(
        """(want) => {
            const got = [...document.querySelectorAll("#grid .tile")].map((t) => t.id.slice(5));
            const counts = [...document.querySelectorAll("[data-count]")].map((c) => c.textContent);
            return JSON.stringify([got, counts]) === JSON.stringify(want);
        }""",
        arg=[[t.split(":")[0] for t in expected["sections"][0][1]], expected["counts"]],  # type: ignore[index]
        timeout=WAIT,
    )
    assert await grid_view(vpage) == expected
    # The header counts the fleet, not the page: 1 online, 2 offline, 1 never seen.
    assert expected["counts"] == ["1", "2", "1"]
    # Every tablet back online: the section goes, "No tablets match" shows, as on a reload.
    for tablet in (first, flapping):
        state(conn, tablet, "online", now)
        notify_state(conn, tablet)
    await expect(vpage.locator("#grid-empty")).to_be_visible(timeout=WAIT)
    await expect(vpage.locator("#grid section.fleet")).to_have_count(0)
    await expect(vpage.locator("[data-count=online]")).to_have_text("3")
    assert await vpage.evaluate("window.loadedOnce") is True
    await screenshot(vpage, f"grid-filtered-live-{viewport}")


# --- defect 3: phones ----------------------------------------------------------------------


async def test_an_agent_accepts_an_offer_with_one_thumb(
    vpage: Page, web_url: str, scene: Scene, viewport: str
) -> None:
    await sign_in(vpage, web_url, scene.agent, "/agent/leads")
    accept = vpage.locator(f"#lead-{scene.lead_id}").get_by_role("button", name="Accept")
    await expect(accept).to_be_visible()
    box = await accept.bounding_box()
    assert box is not None
    screen = VIEWPORTS[viewport]
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= screen["width"]
    if viewport == "phone":  # a thumb's target, across the card's foot
        assert box["height"] >= 44
        assert box["width"] >= screen["width"] / 3
    else:
        assert box["height"] >= 24  # a pointer's target (WCAG 2.5.8)
    # A tap at the button's middle hits the button (it hit a <td> before).
    hit = await vpage.evaluate(
        "([x, y]) => document.elementFromPoint(x, y).closest('button')?.textContent",
        [
            box["x"] + box["width"] / 2,
            box["y"] + box["height"] / 2 - await vpage.evaluate("scrollY"),
        ],
    )
    assert hit is not None
    assert hit.startswith("Accept")
    await screenshot(vpage, f"agent-offer-{viewport}")
    if viewport == "phone":
        await accept.tap()
    else:
        await accept.click()
    await expect(vpage.get_by_role("status").filter(has_text="Lead accepted")).to_be_visible()


# --- defect 4: no dead end for an agent ----------------------------------------------------


async def test_the_logo_and_error_pages_lead_an_agent_home(
    vpage: Page, web_url: str, scene: Scene
) -> None:
    await sign_in(vpage, web_url, scene.agent, "/agent/leads")
    await vpage.goto(f"{web_url}/alerts")
    await expect(vpage.locator("h1")).to_have_text("Not allowed")
    await expect(vpage.get_by_role("button", name="Sign out")).to_be_visible()
    await vpage.get_by_role("link", name="Back to your leads").click()
    await expect(vpage).to_have_url(f"{web_url}/agent/leads")
    await vpage.goto(f"{web_url}/tablets/{scene.offline}")
    await vpage.locator("a.brand").click()
    await expect(vpage).to_have_url(f"{web_url}/agent/leads")
    await expect(vpage.locator("h1")).to_have_text("My leads")


# --- defect 5: offline tablets first, search, sorting, "offline since" ----------------------


async def test_offline_tablets_come_first_and_say_since_when(
    vpage: Page, web_url: str, scene: Scene, viewport: str
) -> None:
    fleet = scene.tenant.fleets[0]
    first, offline, flapping, never = scene.tenant.tablets[fleet]
    await sign_in(vpage, web_url, scene.tenant.owner, f"/?fleet={fleet}")
    assert await tile_ids(vpage) == [offline, flapping, never, first]
    tile = vpage.locator(f"#tile-{offline}")
    await expect(tile).to_contain_text(re.compile(r"offline since \d\d:\d\d, 2\d min"))
    await vpage.select_option("select[name=order]", "car")  # the toggle back to car order
    await expect(vpage).to_have_url(re.compile(r"order=car"), timeout=WAIT)
    assert await tile_ids(vpage) == [first, offline, flapping, never]
    await vpage.fill("input[name=q]", f"{fleet}-car2")  # the search box works as you type
    await expect(vpage.locator("#grid .tile")).to_have_count(1, timeout=WAIT)
    assert await tile_ids(vpage) == [flapping]
    await expect(vpage).to_have_url(re.compile(r"q=" + re.escape(f"{fleet}-car2")))
    # The alerts list: "offline since" only for a tablet still away.
    await open_menu_link(vpage, "Alerts")
    await vpage.wait_for_url(f"{web_url}/alerts")
    away = vpage.locator(f"tbody[data-tablet='{offline}'] .offline-cell")
    await expect(away).to_contain_text("offline since")
    # A sortable column: the open incidents by tablet, then the other way.
    heading = vpage.locator("#open-table th").filter(has_text="Tablet")
    if viewport == "desktop":
        await heading.get_by_role("button").click()
        await expect(heading).to_have_attribute("aria-sort", "ascending")
        ids = await vpage.eval_on_selector_all(
            "#open-table tbody.incident", "(rows) => rows.map((r) => r.dataset.tablet)"
        )
        assert ids == sorted(ids)
        await heading.get_by_role("button").click()
        await expect(heading).to_have_attribute("aria-sort", "descending")


async def test_a_tablet_already_back_is_not_offline_since(
    vpage: Page, web_url: str, scene: Scene
) -> None:
    await sign_in(vpage, web_url, scene.tenant.admin, "/alerts")
    back = vpage.locator(f"tbody[data-tablet='{scene.back}'] .offline-cell")
    await expect(back).to_contain_text("back online since")
    await expect(back).not_to_contain_text("offline since")


# --- defect 6: time zones -------------------------------------------------------------------


async def test_times_are_local_with_utc_on_hover_and_a_chosen_zone_wins(
    vpage: Page, web_url: str, scene: Scene
) -> None:
    await sign_in(vpage, web_url, scene.tenant.admin, "/reports/uptime")
    singapore_today = datetime.now(ZoneInfo("Asia/Singapore")).date().isoformat()
    await expect(vpage.locator("input[name=to]")).to_have_value(singapore_today)
    await expect(vpage.locator("footer.foot")).to_contain_text("Asia/Singapore")
    await vpage.goto(f"{web_url}/alerts")
    opened = vpage.locator("tbody.incident time[datetime]").first
    await expect(opened).to_have_attribute("title", re.compile(r"UTC$"))
    await vpage.goto(f"{web_url}/profile")
    await vpage.select_option("#tz-choice", "Asia/Kolkata")
    await vpage.get_by_role("button", name="Save the time zone").click()
    await expect(vpage.get_by_role("status")).to_contain_text("Your time zone is saved")
    await vpage.goto(f"{web_url}/alerts")
    await expect(vpage.locator("footer.foot")).to_contain_text("Asia/Kolkata")
    await expect(vpage.locator("tbody.incident .offline-cell time").first).to_contain_text("IST")


# --- defect 7: one uptime -----------------------------------------------------------------


async def test_the_tablet_page_says_uptime_over_the_registered_time(
    vpage: Page, web_url: str, scene: Scene
) -> None:
    await sign_in(vpage, web_url, scene.tenant.owner, f"/tablets/{scene.offline}")
    await expect(vpage.locator("#uptime")).to_contain_text(re.compile(r"^\d+\.\d\d % of the"))
    await expect(vpage.locator("#timeline title").first).not_to_contain_text("reason:")


# --- defect 8: tokens, the favicon, the API links ------------------------------------------


async def test_a_personal_token_is_made_on_the_profile_and_shown_once(
    vpage: Page, web_url: str, scene: Scene
) -> None:
    await sign_in(vpage, web_url, scene.tenant.owner, "/reports/uptime")
    icon = await vpage.request.get(f"{web_url}/favicon.ico")
    assert icon.status == 200
    use = vpage.locator("details.api-use")
    await use.locator("summary").click()
    await expect(use).to_contain_text("Authorization: Bearer")
    await use.get_by_role("link", name="create one on your profile").click()
    await vpage.fill("input[name=name]", "spreadsheet")
    await vpage.get_by_role("button", name="Create a token").click()
    secret = vpage.locator("code.secret")
    await expect(secret).to_have_text(re.compile(r"^fhp_"))
    token = await secret.inner_text()
    answer = await vpage.request.get(
        f"{web_url}/api/v1/tablets", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status == 200
    await vpage.reload()  # no "send the form again?": it was a redirect
    await expect(vpage.locator("code.secret")).to_have_count(0)
    await expect(vpage.locator("#token-list")).to_contain_text("spreadsheet")


# --- defect 9: revert follows the way back, "Sent N s ago" ticks ---------------------------


async def test_revert_shows_its_live_progress_and_sent_ago_ticks(
    vpage: Page, web_url: str, scene: Scene, conn: Conn
) -> None:
    etag = conn.execute("SELECT etag FROM pushes WHERE push_id = %s", (scene.push_id,)).fetchone()
    assert etag is not None
    for tablet in scene.tenant.tablets[scene.tenant.fleets[0]]:  # all of them play the push
        conn.execute(
            "INSERT INTO tablet_state (tablet_id, state, desired_etag, applied_etag)"
            " VALUES (%s, 'online', %s, %s) ON CONFLICT (tablet_id) DO UPDATE"
            " SET desired_etag = excluded.desired_etag, applied_etag = excluded.applied_etag,"
            " updated_at = now()",
            (tablet, etag[0], etag[0]),
        )
    await sign_in(vpage, web_url, scene.tenant.admin, f"/push/{scene.push_id}")
    sent = vpage.locator("dl.summary time[data-ago]")
    before = await sent.inner_text()
    await expect(sent).not_to_have_text(before, timeout=WAIT)  # it ticks
    await expect(vpage.locator("#live")).to_have_text("● live", timeout=WAIT)
    await vpage.get_by_role("button", name="Revert now").click()
    await expect(vpage.locator("#push-status")).to_have_text("reverted")
    await expect(vpage.locator("#progress-title")).to_contain_text("0 of 4 so far")
    etag = conn.execute("SELECT etag FROM pushes WHERE push_id = %s", (scene.push_id,)).fetchone()
    assert etag is not None
    for tablet in scene.tenant.tablets[scene.tenant.fleets[0]]:  # the hub's way back
        conn.execute(
            "UPDATE tablet_state SET desired_etag = 'sched', applied_etag = 'sched',"
            " updated_at = now() WHERE tablet_id = %s",
            (tablet,),
        )
        notify_state(conn, tablet)
    await expect(vpage.locator("#progress-title")).to_contain_text(
        "every tablet is back", timeout=WAIT
    )


# --- defect 11: QR codes at 127.0.0.1 -------------------------------------------------------


async def test_the_campaign_page_warns_that_phones_cannot_open_loopback_codes(
    vpage: Page, web_url: str, scene: Scene
) -> None:
    await sign_in(vpage, web_url, scene.tenant.admin, "/leads/campaigns")
    await vpage.locator("main a[href^='/leads/campaigns/']").first.click()
    warning = vpage.locator(".warning")
    await expect(warning).to_contain_text("FLEETHUB_PUBLIC_BASE_URL")
    await expect(warning).to_contain_text(web_url)


# --- defect 12: pairing from the menu --------------------------------------------------------


async def test_pairing_from_the_menu_with_a_qr_code_and_no_second_post(
    vpage: Page, web_url: str, scene: Scene, conn: Conn, viewport: str
) -> None:
    await sign_in(vpage, web_url, scene.tenant.admin)
    await open_menu_link(vpage, "Pair a tablet")
    fleet = scene.tenant.fleets[1]
    await vpage.get_by_role("link", name=re.compile(r"Fleet .* 1$")).click()
    await expect(vpage).to_have_url(f"{web_url}/fleets/{fleet}/pairing")
    await vpage.get_by_role("button", name="Create claim code").click()
    code = vpage.locator(".claim-code strong")
    await expect(code).to_have_text(re.compile(r"^[0-9A-Z]{4}-[0-9A-Z]{4}$"))
    await expect(vpage.locator("img.qr")).to_be_visible()
    await expect(vpage.locator("#new-code")).to_contain_text(web_url)
    await expect(vpage.locator("#new-code")).to_contain_text("+08")  # local expiry
    shown = await code.inner_text()
    await vpage.reload()  # no re-post: the same code, still one code in the store
    await expect(vpage.locator(".claim-code strong")).to_have_text(shown)
    made = conn.execute("SELECT count(*) FROM claim_codes WHERE fleet_id = %s", (fleet,))
    assert made.fetchone() == (1,)
    await screenshot(vpage, f"pairing-{viewport}")
