"""The live grid's data: one tile per tablet within the user's scope (:mod:`store.tiles`),
and the grid's filters as a page's query carries them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from psycopg_pool import AsyncConnectionPool

from store import tiles
from store.tiles import GridHead, Tile
from store.users import User

STATES = ("online", "offline", "unknown")
STATE_WORDS = {"online": "online", "offline": "offline", "unknown": "never seen"}
ORDERS = {"problems": "Offline and flapping first", "car": "By car and tablet"}
SEARCH_MAX = 64


@dataclass(frozen=True, slots=True)
class GridFilter:
    """What a grid shows: a fleet, a state, a search (tablet or car id), and its order."""

    fleet: str | None = None
    state: str | None = None
    q: str | None = None
    order: str = "problems"

    @property
    def problems_first(self) -> bool:
        return self.order == "problems"

    @property
    def narrowed(self) -> bool:
        """Some tablets of the fleet(s) may be left out (the counts are read apart)."""
        return self.state is not None or self.q is not None

    def query(self) -> str:
        """As a URL query (empty values left out), the same every time."""
        values = {"fleet": self.fleet, "state": self.state, "q": self.q}
        if self.order != "problems":
            values["order"] = self.order
        return urlencode({k: v for k, v in values.items() if v})


def parse_filter(
    fleet: str | None,
    state: str | None,
    q: str | None,
    order: str | None,
    fleets_in_scope: list[tuple[str, str]],
) -> tuple[GridFilter, list[str]]:
    """The filter a query asks for; empty values mean "no filter", and a value that cannot
    be used is left out with a message saying why."""
    problems: list[str] = []
    fleet = (fleet or "").strip() or None
    if fleet is not None and all(fid != fleet for fid, _ in fleets_in_scope):
        problems.append(f"There is no fleet {fleet[:64]!r} among yours: showing every fleet.")
        fleet = None
    state = (state or "").strip() or None
    if state is not None and state not in STATES:
        problems.append(
            f"{state[:32]!r} is not a state: choose online, offline or never seen. "
            "Showing every state."
        )
        state = None
    q = (q or "").strip() or None
    if q is not None and len(q) > SEARCH_MAX:
        problems.append(f"The search was cut to its first {SEARCH_MAX} characters.")
        q = q[:SEARCH_MAX]
    order = (order or "").strip() or "problems"
    if order not in ORDERS:
        problems.append(f"{order[:32]!r} is not an order: showing offline and flapping first.")
        order = "problems"
    return GridFilter(fleet, state, q, order), problems


def _like(q: str | None) -> str | None:
    if not q:
        return None
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def grid(
    pool: AsyncConnectionPool,
    user: User,
    fleet: str | None = None,
    state: str | None = None,
    q: str | None = None,
    problems_first: bool = False,
) -> list[Tile]:
    return await tiles.grid(pool, user, fleet, state, _like(q), problems_first)


def grid_chunks(
    pool: AsyncConnectionPool, user: User, wanted: GridFilter, size: int = 1000, first: int = 200
) -> AsyncIterator[GridHead | list[Tile]]:
    """The grid's counts, then its first ``first`` tiles, then ``size`` at a time
    (store.tiles.grid_chunks)."""
    return tiles.grid_chunks(
        pool,
        user,
        wanted.fleet,
        wanted.state,
        _like(wanted.q),
        wanted.problems_first,
        size,
        first,
    )


def counts_of(found: list[Tile]) -> dict[str, int]:
    return {s: sum(1 for t in found if t.state == s) for s in STATES}


async def fleet_counts(
    pool: AsyncConnectionPool, user: User, wanted: GridFilter, shown: list[Tile]
) -> dict[str, int]:
    """Tablets per state of the fleet(s) the grid shows: its whole fleet(s), not only the
    tiles a state or a search left on the page."""
    if not wanted.narrowed:
        return counts_of(shown)
    found = await tiles.counts(pool, user, wanted.fleet)
    return {s: found.get(s, 0) for s in STATES}


async def one(pool: AsyncConnectionPool, user: User, tablet_id: str) -> Tile | None:
    return await tiles.one(pool, user, tablet_id)


async def changed_since(pool: AsyncConnectionPool, since: datetime) -> list[Tile]:
    """Every tile (all tenants) whose state row changed after ``since``; the feed filters."""
    return await tiles.changed_since(pool, since)


def changed_chunks(
    pool: AsyncConnectionPool, since: datetime, size: int = 500
) -> AsyncIterator[list[Tile]]:
    """:func:`changed_since` ``size`` tiles at a time (store/tiles.py)."""
    return tiles.changed_chunks(pool, since, size)


async def named(pool: AsyncConnectionPool, tablets: list[str], fleets: list[str]) -> list[Tile]:
    """The tiles of these tablets and of these fleets' tablets (all tenants, not revoked)."""
    return await tiles.named(pool, tablets, fleets)


async def states(pool: AsyncConnectionPool) -> list[tuple[str, str, str, str]]:
    """(tablet_id, tenant_id, fleet_id, state) of every registered tablet (all tenants)."""
    return await tiles.states(pool)


async def fleets(pool: AsyncConnectionPool, user: User) -> list[tuple[str, str]]:
    """(fleet_id, name) of the fleets the user sees."""
    return await tiles.fleets(pool, user)
