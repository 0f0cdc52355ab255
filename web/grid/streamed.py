"""The grid page sent in pieces: its head at once, then its tiles as the store yields them.

A grid of 20,000 tiles is ~6 MB; reading its rows is most of its time (more on a busy
machine). So the page is rendered once with two markers where the tiles and the empty
message's ``hidden`` go; the part before the tiles goes out as soon as the counts are read,
and each chunk of rows from the store's cursor (store.tiles.grid_chunks) goes out as its
rendered tiles, in the sections a full render would have made (each fleet's section opens
with its count, read with the header's counts in the same snapshot). The bytes are the same
as rendering the whole page at once.

The rows are read by a task of their own into a queue, whatever pace the browser reads at,
so a slow reader never holds a store connection longer than the read takes. A store error
before the first byte is the panel's usual error page; one after it ends the response
unfinished (the browser shows a cut page, the log says why).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import StreamingResponse
from markupsafe import Markup
from psycopg_pool import AsyncConnectionPool

from store.tiles import GridHead, Tile
from store.users import User
from web.grid.tile_html import SECTION_CLOSE, TileRenderer, section_open
from web.grid.tiles import STATES, GridFilter, grid_chunks
from web.http.templating import TEMPLATES

log = logging.getLogger(__name__)

_SECTIONS = "\x00grid-sections\x00"
_EMPTY = "\x00grid-empty\x00"
_DONE = object()


# What the templates put where the streamed parts go (web/grid/templates/_grid.html).
STREAMED = {"sections": Markup(_SECTIONS), "empty": Markup(_EMPTY)}  # noqa: S704 - constants


class _Reader:
    """Reads the grid's chunks from the store into a queue, in a task of its own."""

    def __init__(self, chunks: AsyncIterator[GridHead | list[Tile]]) -> None:
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.task = asyncio.create_task(self._read(chunks), name="web.grid.read")

    async def _read(self, chunks: AsyncIterator[GridHead | list[Tile]]) -> None:
        try:
            async for chunk in chunks:
                self.queue.put_nowait(chunk)
        except Exception as exc:  # handed to the response, which raises it
            self.queue.put_nowait(exc)
        finally:
            self.queue.put_nowait(_DONE)

    async def next(self) -> object:
        item = await self.queue.get()
        if isinstance(item, Exception):
            raise item
        return item

    def close(self) -> None:
        """Stop reading (a no-op once done): the task's exit returns the connection."""
        self.task.cancel()


async def grid_response(
    request: Request,
    pool: AsyncConnectionPool,
    user: User,
    wanted: GridFilter,
    context: dict[str, object],
    status_code: int,
) -> StreamingResponse:
    """``grid.html`` with ``context`` (no tiles in it), its counts and tiles streamed."""
    reader = _Reader(grid_chunks(pool, user, wanted))
    try:
        head = await reader.next()
    except BaseException:
        reader.close()
        raise
    assert isinstance(head, GridHead)
    counts = {s: head.counts.get(s, 0) for s in STATES}
    page = TEMPLATES.get_template("grid.html").render(
        {**context, "request": request, "counts": counts, "streamed": STREAMED}
    )
    before, _, rest = page.partition(_SECTIONS)
    middle, _, after = rest.partition(_EMPTY)
    render: TileRenderer = request.app.state.render_tile

    async def body() -> AsyncIterator[str]:
        try:
            yield before
            shown = False
            open_fleet: str | None = None
            while (chunk := await reader.next()) is not _DONE:
                assert isinstance(chunk, list)
                out: list[str] = []
                for tile in chunk:
                    if tile.fleet_id != open_fleet:
                        if open_fleet is not None:
                            out.append(SECTION_CLOSE)
                        count = head.per_fleet.get(tile.fleet_id, 0)
                        out.append("\n")
                        out.append(
                            section_open(tile.fleet_id, tile.fleet_name, tile.timezone, count)
                        )
                        open_fleet = tile.fleet_id
                    out.append(render(tile))
                shown = shown or bool(chunk)
                yield "".join(out)
            yield (str(SECTION_CLOSE) if open_fleet is not None else "") + middle
            yield (" hidden" if shown else "") + after
        except Exception:
            log.exception("the grid's tiles could not be read; the page was cut")
            raise
        finally:
            reader.close()

    return StreamingResponse(body(), status_code=status_code, media_type="text/html")
