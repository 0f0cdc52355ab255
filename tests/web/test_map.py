"""The map page: its data is the user's scope, and its Content-Security-Policy adds the tile
server's origin (FLEETHUB_MAP_TILE_URL) to the images of /map only."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from config.settings import Settings
from tests.web.conftest import Conn, TenantFactory, sign_in
from web.app import create_app


def img_src(response: object) -> str:
    policy = response.headers["content-security-policy"]  # type: ignore[attr-defined]
    found = re.search(r"img-src ([^;]+);", policy)
    assert found, policy
    return found.group(1)


def map_config(html: str) -> dict[str, Any]:
    found = re.search(r'data-config="([^"]+)"', html)
    assert found
    text = found.group(1).replace("&#34;", '"').replace("&quot;", '"').replace("&amp;", "&")
    config: dict[str, Any] = json.loads(text)
    return config


def test_only_the_map_page_may_load_tiles_from_the_tile_server(
    panel: TestClient, tenant_factory: TenantFactory
) -> None:
    tenant = tenant_factory(fleets=1)
    sign_in(panel, tenant.owner)
    assert img_src(panel.get("/map")) == "'self' data: https://tile.openstreetmap.org"
    for path in ("/", "/manage/fleets", "/manage/tablets", "/login"):
        assert img_src(panel.get(path)) == "'self' data:", path


@pytest.fixture
def panel_with(
    panel_settings: Settings, database_url: str, request: pytest.FixtureRequest
) -> Iterator[TestClient]:
    settings = panel_settings.model_copy(update={"map_tile_url": request.param})
    with TestClient(create_app(settings, database_url)) as client:
        yield client


@pytest.mark.parametrize(
    ("panel_with", "allowed"),
    [
        (
            "https://{s}.tiles.example.net/{z}/{x}/{y}.png",
            "'self' data: https://*.tiles.example.net",
        ),
        ("http://127.0.0.1:8099/t/{z}/{x}/{y}.png", "'self' data: http://127.0.0.1:8099"),
        ("", "'self' data:"),
    ],
    indirect=["panel_with"],
)
def test_the_tile_setting_decides_the_policy(
    panel_with: TestClient, tenant_factory: TenantFactory, allowed: str
) -> None:
    tenant = tenant_factory(fleets=1)
    sign_in(panel_with, tenant.owner)
    page = panel_with.get("/map")
    assert img_src(page) == allowed
    assert map_config(page.text)["tiles"] == panel_with.app.state.settings.map_tile_url  # type: ignore[attr-defined]


@pytest.mark.parametrize("url", ["ftp://x/{z}/{x}/{y}", "https://tiles.example.net/a.png", "tiles"])
def test_a_bad_tile_url_is_refused_at_start(url: str) -> None:
    with pytest.raises(ValueError, match="FLEETHUB_MAP_TILE_URL"):
        Settings(map_tile_url=url)


def test_the_map_shows_only_the_users_tablets(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    mine, theirs = tenant_factory(fleets=2, tablets=1), tenant_factory(fleets=1, tablets=1)
    for tablet in [*mine.all_tablets, *theirs.all_tablets]:
        conn.execute(
            "UPDATE tablet_state SET lat = 1.3, lon = 103.8, position_at = now()"
            " WHERE tablet_id = %s",
            (tablet,),
        )
    sign_in(panel, mine.owner)
    own = mine.tablets[mine.fleets[0]][0]
    for query in ("", f"?fleet={mine.fleets[1]}", f"?fleet={theirs.fleets[0]}"):
        page = panel.get(f"/map{query}")
        assert page.status_code == 200
        spots = map_config(page.text)["spots"]
        assert [s[0] for s in spots] == [own], query
        assert spots[0][2:4] == [1.3, 103.8]
        for other in (mine.tablets[mine.fleets[1]][0], theirs.all_tablets[0]):
            assert other not in page.text
