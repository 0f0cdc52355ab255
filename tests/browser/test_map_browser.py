"""In Chromium: the fleet map shows tablets where their heartbeats put them, coloured by
state, moves and recolours them live, clusters hundreds, and loads tiles only from the tile
server its Content-Security-Policy names (here a stub on loopback: no tile leaves the machine)."""

from __future__ import annotations

import os
import re
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.async_api import Browser, ConsoleMessage, Locator, Page, expect

from broker.processes import Child, free_port
from tests.browser.conftest import default_tenant_user, screenshot, sign_in
from tests.conftest import RunningHub, TestFleetFactory
from tests.web.conftest import Conn

pytestmark = pytest.mark.browser

# A 1×1 PNG: every tile the stub serves.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc00000030101001800dd8d0000000049454e44ae426082"
)


class Tiles(ThreadingHTTPServer):
    requests = 0


class TileHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        assert isinstance(self.server, Tiles)
        self.server.requests += 1
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PNG)))
        self.end_headers()
        self.wfile.write(PNG)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def tile_server() -> Iterator[Tiles]:
    server = Tiles(("127.0.0.1", 0), TileHandler)
    thread = threading.Thread(target=server.serve_forever, name="test.tiles", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def map_web_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, tile_server: Tiles
) -> Iterator[str]:
    """A panel whose map takes its tiles from the stub."""
    var = tmp_path_factory.mktemp("web-map")
    port = free_port()
    env = {
        **os.environ,
        "FLEETHUB_DATABASE_URL": database_url,
        "FLEETHUB_VAR_DIR": str(var),
        "FLEETHUB_WEB_PORT": str(port),
        "FLEETHUB_WEB_HOST": "127.0.0.1",
        "FLEETHUB_WEB_PUSH_SENDER": "false",
        "FLEETHUB_MAP_TILE_URL": f"http://127.0.0.1:{tile_server.server_port}/{{z}}/{{x}}/{{y}}.png",
    }
    child = Child("web-map", [sys.executable, "-m", "cli.main", "web"], var / "web.log", env=env)
    try:
        child.wait_port("127.0.0.1", port)
        yield f"http://127.0.0.1:{port}"
    finally:
        child.stop()


async def new_page(browser: Browser, width: int, height: int) -> tuple[Page, list[str]]:
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    refused: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if "Content Security Policy" in msg.text or "Refused to" in msg.text:
            refused.append(msg.text)

    page.on("console", on_console)
    return page, refused


def marker(page: Page, tablet_id: str) -> Locator:
    return page.locator(f'.leaflet-marker-icon[title="{tablet_id}"]')


async def latlng(page: Page, tablet_id: str) -> list[float]:
    got = await page.evaluate(
        "id => { const m = window.fleetMap.markers.get(id);"
        " return m && [m.getLatLng().lat, m.getLatLng().lng]; }",
        tablet_id,
    )
    return list(got) if got else []


@pytest.mark.parametrize(("width", "height"), [(1440, 900), (390, 844)])
async def test_markers_follow_heartbeats_live(
    browser: Browser,
    map_web_url: str,
    tile_server: Tiles,
    running_hub: RunningHub,
    fleet_factory: TestFleetFactory,
    conn: Conn,
    width: int,
    height: int,
) -> None:
    fleet = await fleet_factory(tablets=3, heartbeat_s=1, offline_after_s=3, cars=True)
    moving, still, silent = fleet.tablet_ids
    owner = default_tenant_user(conn, "fleet_owner", [fleet.fleet_id])
    one = fleet.tablet(0).connect(online=False)
    two = fleet.tablet(1).connect(online=False)
    try:
        one.heartbeat(lat=1.30, lon=103.80)
        two.heartbeat(lat=1.35, lon=103.90)
        page, refused = await new_page(browser, width, height)
        await sign_in(page, map_web_url, owner, f"/map?fleet={fleet.fleet_id}")
        await expect(page.locator("#live")).to_have_text("● live")
        await expect(marker(page, moving)).to_have_class(re.compile(r"pin-online"))
        await expect(marker(page, still)).to_have_class(re.compile(r"pin-online"))
        assert await marker(page, silent).count() == 0  # never reported a position
        await expect(page.locator(f"#spot-{silent} [data-field=position]")).to_have_text(
            "none reported"
        )
        await expect(page.locator("[data-map-count=unknown]")).to_have_text("1")
        assert await latlng(page, moving) == [1.30, 103.80]
        await page.evaluate("window.loadedOnce = true")

        one.heartbeat(lat=1.31, lon=103.85)  # it drove on
        await expect(page.locator(f"#spot-{moving} [data-field=position]")).to_have_text(
            "1.31000, 103.85000"
        )
        assert await latlng(page, moving) == [1.31, 103.85]
        await screenshot(page, f"map-live-{width}")
    finally:
        two.close()

    await expect(marker(page, still)).to_have_class(re.compile(r"pin-offline"), timeout=10000)
    await expect(page.locator(f"#spot-{still} [data-field=state]")).to_have_text("offline")
    one.close()
    assert await page.evaluate("window.loadedOnce") is True
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{scroll} px wide at {width}"
    assert tile_server.requests > 0  # tiles came from the stub the policy allows
    assert refused == []
    await page.context.close()


async def test_a_marker_opens_with_the_keyboard(
    browser: Browser, map_web_url: str, conn: Conn, fleet_factory: TestFleetFactory
) -> None:
    fleet = await fleet_factory(tablets=1)
    tablet = fleet.tablet_ids[0]
    conn.execute(
        "UPDATE tablet_state SET state = 'online', lat = 1.3, lon = 103.8, position_at = now(),"
        " updated_at = now() WHERE tablet_id = %s",
        (tablet,),
    )
    owner = default_tenant_user(conn, "fleet_owner", [fleet.fleet_id])
    page, refused = await new_page(browser, 1440, 900)
    await sign_in(page, map_web_url, owner, f"/map?fleet={fleet.fleet_id}")
    pin = page.locator(f'.leaflet-marker-icon[title="{tablet}"]')
    await pin.focus()
    await page.keyboard.press("Enter")
    popup = page.locator(".leaflet-popup-content")
    await expect(popup).to_contain_text(tablet)
    await expect(popup.get_by_role("link", name=tablet)).to_be_visible()
    assert refused == []
    await page.context.close()


async def test_hundreds_of_tablets_are_clustered(
    browser: Browser, map_web_url: str, conn: Conn, fleet_factory: TestFleetFactory
) -> None:
    fleet = await fleet_factory(tablets=0)
    prefix = f"cl-{uuid.uuid4().hex[:6]}-"
    conn.execute(
        "INSERT INTO tablets (tablet_id, fleet_id, offline_after_s)"
        " SELECT %s || n, %s, 180 FROM generate_series(1, 400) n",
        (prefix, fleet.fleet_id),
    )
    conn.execute(
        "INSERT INTO tablet_state (tablet_id, state, lat, lon, position_at)"
        " SELECT %s || n, 'online', 1.25 + (n %% 20) * 0.01, 103.7 + (n / 20) * 0.01, now()"
        " FROM generate_series(1, 400) n",
        (prefix,),
    )
    owner = default_tenant_user(conn, "fleet_owner", [fleet.fleet_id])
    page, refused = await new_page(browser, 1440, 900)
    await sign_in(page, map_web_url, owner, f"/map?fleet={fleet.fleet_id}")
    await expect(page.locator(".marker-cluster").first).to_be_visible()
    singles = await page.locator(".leaflet-marker-icon.pin").count()
    assert singles < 400
    await expect(page.locator("#map-placed")).to_have_text("400")
    await screenshot(page, "map-clustered")
    assert refused == []
    await page.context.close()
