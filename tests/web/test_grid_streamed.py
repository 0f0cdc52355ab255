"""The grid page is streamed as its rows are read (web/grid/streamed.py, issue #16): the same
grid as rendering it whole (what /grid/fragment still does), counts and sections included,
for every filter; and the store reads it in chunks from one snapshot."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from store.db import open_pool
from store.tiles import GridHead, Tile
from store.users import User
from tests.web.conftest import Conn, TenantFactory, sign_in
from web.grid.tile_html import TileRenderer, warm
from web.grid.tiles import GridFilter, changed_since, grid, grid_chunks

HTML = {"Accept": "text/html,application/xhtml+xml"}


def grid_body(page: str) -> str:
    """The page's ``#grid-body`` element, as the fragment is."""
    match = re.search(
        r'<div id="grid-body".*?<p class="empty"[^>]*>No tablets match\.</p>\n</div>', page, re.S
    )
    assert match, page[page.find("grid-body") - 100 :][:3000]
    return match.group(0)


def set_state(conn: Conn, tablet_id: str, state: str) -> None:
    conn.execute(
        "INSERT INTO tablet_state (tablet_id, state, state_since, updated_at)"
        " VALUES (%s, %s, now(), now()) ON CONFLICT (tablet_id) DO UPDATE"
        " SET state = excluded.state, state_since = now(), updated_at = now()",
        (tablet_id, state),
    )


@pytest.mark.parametrize(
    "query",
    ["", "?state=offline", "?state=online", "?q=t1", "?q=nothing-matches", "?order=car", "FLEET"],
)
def test_the_streamed_page_holds_the_grid_the_fragment_renders_whole(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, query: str
) -> None:
    tenant = tenant_factory(fleets=3, tablets=3)
    set_state(conn, tenant.tablets[tenant.fleets[0]][1], "offline")
    set_state(conn, tenant.tablets[tenant.fleets[2]][0], "online")
    if query == "FLEET":
        query = f"?fleet={tenant.fleets[1]}"
    sign_in(panel, tenant.admin)
    page = panel.get("/" + query, headers=HTML)
    fragment = panel.get("/grid/fragment" + query, headers=HTML)
    assert page.status_code == fragment.status_code == 200
    assert grid_body(page.text) == fragment.text.strip()
    assert page.text.rstrip().endswith("</html>")
    counts = re.search(
        r'<b data-count="online">(\d+)</b>.*?data-count="offline">(\d+)<', page.text, re.S
    )
    assert counts is not None
    body = grid_body(page.text)
    tiles = re.findall(r'id="tile-([^"]+)"', body)
    sections = re.findall(r"<small>(\d+) tablets?</small>", body)
    assert sum(int(n) for n in sections) == len(tiles)
    if query == "?q=nothing-matches":
        assert tiles == []
        assert '<p class="empty" id="grid-empty">' in body  # shown, not hidden
    else:
        assert tiles
        assert '<p class="empty" id="grid-empty" hidden>' in body
    if query == "":
        assert len(tiles) == 9
        assert (counts.group(1), counts.group(2)) == ("1", "1")


def test_a_bad_filter_still_streams_the_page_with_its_message(
    panel: TestClient, tenant_factory: TenantFactory
) -> None:
    tenant = tenant_factory(fleets=1, tablets=2)
    sign_in(panel, tenant.admin)
    page = panel.get("/?state=sleeping", headers=HTML)
    assert page.status_code == 422
    assert "is not a state" in page.text
    assert len(re.findall(r'id="tile-', grid_body(page.text))) == 2


async def test_the_store_reads_the_grid_in_chunks_from_one_snapshot(
    database_url: str, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=2, tablets=3)
    set_state(conn, tenant.tablets[tenant.fleets[1]][2], "offline")
    user = User(0, tenant.tenant_id, "x@example.com", "x", "admin", None)
    wanted = GridFilter()
    async with open_pool(database_url) as pool:
        whole = await grid(pool, user, problems_first=True)
        pieces = [piece async for piece in grid_chunks(pool, user, wanted, size=2, first=1)]
    head, chunks = pieces[0], pieces[1:]
    assert isinstance(head, GridHead)
    assert head.counts == {"unknown": 5, "offline": 1}
    assert head.per_fleet == dict.fromkeys(tenant.fleets, 3)
    assert [len(c) for c in chunks if isinstance(c, list)] == [1, 2, 2, 1]
    tiles: list[Tile] = [t for c in chunks if isinstance(c, list) for t in c]
    assert [t.tablet_id for t in tiles] == [t.tablet_id for t in whole]


async def test_the_start_up_warm_up_renders_every_tile_in_chunks_leaving_the_loop_free(
    database_url: str, tenant_factory: TenantFactory, conn: Conn
) -> None:
    """Warming reads and renders ``chunk`` rows at a time: another task runs between the
    chunks (one read of every row held the event loop, and the first grid, for 0.6-0.8 s
    with 20,000 tablets)."""
    tenant = tenant_factory(fleets=2, tablets=4)
    ids = [t for fleet in tenant.fleets for t in tenant.tablets[fleet]]
    for tablet_id in ids:
        set_state(conn, tablet_id, "online")
    render = TileRenderer()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async with open_pool(database_url) as pool:
        other = asyncio.create_task(ticker())
        try:
            warmed = await warm(pool, render, chunk=3)
        finally:
            other.cancel()
        assert warmed >= len(ids)  # every tablet with a state row, other tests' too
        assert render.misses == warmed
        assert ticks >= warmed // 3  # the loop ran the other task between chunks
        for tile in await changed_since(pool, datetime(1970, 1, 1, tzinfo=UTC)):
            render(tile)  # each one cached by the warm-up (or changed since, by another test)
        assert render.hits >= len(ids)
