"""Rendered tiles: escaped, cached per row, re-rendered when any field changes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from store.tiles import Tile
from web.grid.tile_html import TileRenderer

TILE = Tile(
    tablet_id="t-1",
    tenant_id="x",
    fleet_id="f",
    fleet_name="F",
    car_id="<car>",
    state="online",
    state_since=None,
    last_heartbeat_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    heartbeat_interval_s=60,
    battery=42,
    app_version="1.2",
    ad_id="ad-1",
    campaign_id="c",
    desired_etag="e1",
    applied_etag="e0",
    incident=None,
    updated_at=None,
)
OFFLINE = dataclasses.replace(
    TILE,
    state="offline",
    state_since=datetime(2026, 1, 2, 6, 2, tzinfo=UTC),
    incident="offline",
    timezone="Asia/Singapore",
)


def test_tile_shows_the_row_escaped() -> None:
    html = str(TileRenderer()(TILE))
    assert 'id="tile-t-1"' in html
    assert 'data-state="online"' in html
    assert "&lt;car&gt;" in html
    assert "<car>" not in html
    assert "42%" in html
    assert "heartbeat 03:04" in html  # in the fleet's zone (UTC here); the page says "ago"
    assert "playlist pending" in html


def test_cache_hits_until_the_row_changes() -> None:
    render = TileRenderer()
    first = render(TILE)
    assert render(dataclasses.replace(TILE)) is first
    assert (render.hits, render.misses) == (1, 1)
    changed = render(dataclasses.replace(TILE, battery=7))
    assert "7%" in str(changed)
    assert render.misses == 2
    assert "playlist ✓" in str(render(dataclasses.replace(TILE, applied_etag="e1")))


def test_cache_is_bounded() -> None:
    render = TileRenderer(max_entries=3)
    for n in range(10):
        render(dataclasses.replace(TILE, tablet_id=f"t-{n}"))
    assert len(render._cache) <= 3


def test_an_offline_tile_says_since_when_in_its_fleets_zone() -> None:
    html = str(TileRenderer()(OFFLINE))
    # 06:02 UTC in Singapore, UTC on hover
    assert 'offline since <span class="at" title="06:02 UTC">14:02</span>' in html
    assert 'data-since="2026-01-02T06:02:00+00:00"' in html  # the page adds ", 23 min"
    assert "heartbeat 11:04" in html
