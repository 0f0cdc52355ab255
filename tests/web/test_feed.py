"""The change feed against the real store: only changes, only in scope, overflow reported."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
from psycopg_pool import AsyncConnectionPool

from store.db import open_pool
from store.users import User
from tests.web.conftest import Conn, Tenant, TenantFactory
from web.live.feed import AlertRaised, ChangeFeed, Event, TilesChanged


@pytest.fixture
async def feed(database_url: str) -> AsyncIterator[ChangeFeed]:
    pool: AsyncConnectionPool = open_pool(database_url, max_size=2)
    await pool.open(wait=True)
    running = ChangeFeed(pool, database_url, interval_s=0.1)
    task = asyncio.create_task(running.run(), name="test.feed")
    await asyncio.sleep(0.3)  # the watermark is taken at start
    yield running
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await pool.close()


def admin(t: Tenant) -> User:
    return User(0, t.tenant_id, t.admin, "admin", "admin", None)


def owner(t: Tenant) -> User:
    return User(0, t.tenant_id, t.owner, "owner", "fleet_owner", (t.fleets[0],))


def touch(conn: Conn, tablet_id: str, battery: int) -> None:
    conn.execute(
        "UPDATE tablet_state SET battery = %s, updated_at = now() WHERE tablet_id = %s",
        (battery, tablet_id),
    )


async def tiles_of(sub_queue: asyncio.Queue[Event], wait: float = 2.0) -> dict[str, int | None]:
    seen: dict[str, int | None] = {}
    with contextlib.suppress(TimeoutError):
        while True:
            event = await asyncio.wait_for(sub_queue.get(), wait)
            if isinstance(event, TilesChanged):
                seen.update({t.tablet_id: t.battery for t in event.tiles})
            wait = 0.5
    return seen


async def test_each_subscriber_gets_only_changes_in_its_scope(
    feed: ChangeFeed, tenant_factory: TenantFactory, conn: Conn
) -> None:
    a, b = tenant_factory(fleets=2), tenant_factory()
    with (
        feed.subscribe(admin(a)) as sub_a,
        feed.subscribe(owner(a)) as sub_owner,
        feed.subscribe(admin(b)) as sub_b,
    ):
        a_first, a_second, b_first = (
            a.tablets[a.fleets[0]][0],
            a.tablets[a.fleets[1]][0],
            b.all_tablets[0],
        )
        await asyncio.sleep(0.5)  # the tenants' new rows arrive first: not what we test here
        for sub in (sub_a, sub_owner, sub_b):
            _drain(sub.queue)
        touch(conn, a_first, 11)
        touch(conn, a_second, 22)
        touch(conn, b_first, 33)
        seen_a, seen_owner, seen_b = await asyncio.gather(
            tiles_of(sub_a.queue), tiles_of(sub_owner.queue), tiles_of(sub_b.queue)
        )
    assert seen_a == {a_first: 11, a_second: 22}
    assert seen_owner == {a_first: 11}
    assert seen_b == {b_first: 33}


async def test_an_unchanged_row_is_not_sent_twice(
    feed: ChangeFeed, tenant_factory: TenantFactory, conn: Conn
) -> None:
    t = tenant_factory(fleets=1, tablets=1)
    with feed.subscribe(admin(t)) as sub:
        await asyncio.sleep(0.5)
        _drain(sub.queue)
        touch(conn, t.all_tablets[0], 50)
        assert await tiles_of(sub.queue) == {t.all_tablets[0]: 50}
        await asyncio.sleep(0.5)  # several polls re-read the overlap window
        assert sub.queue.empty()


async def test_alerts_reach_only_their_tenant(
    feed: ChangeFeed, tenant_factory: TenantFactory, conn: Conn
) -> None:
    a, b = tenant_factory(fleets=1), tenant_factory(fleets=1)
    with feed.subscribe(admin(a)) as sub_a, feed.subscribe(admin(b)) as sub_b:
        alert = {"event": "opened", "tablet_id": a.all_tablets[0], "fleet_id": a.fleets[0]}
        conn.execute("SELECT pg_notify('fleethub_alerts', %s)", (json.dumps(alert),))
        event = await asyncio.wait_for(_next_alert(sub_a.queue), 3)
        assert event.alert["tablet_id"] == a.all_tablets[0]
        await asyncio.sleep(0.3)
        assert not any(isinstance(e, AlertRaised) for e in _drain(sub_b.queue))


async def _next_alert(q: asyncio.Queue[Event]) -> AlertRaised:
    """The next alert on the queue, past the tile changes the new tenant's rows made."""
    while not isinstance(event := await q.get(), AlertRaised):
        assert isinstance(event, TilesChanged), event
    return event


def _drain(q: asyncio.Queue[Event]) -> list[Event]:
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


async def test_a_slow_subscriber_is_marked_overflowed_not_silently_dropped(
    feed: ChangeFeed, tenant_factory: TenantFactory, conn: Conn
) -> None:
    t = tenant_factory(fleets=1, tablets=1)
    with feed.subscribe(admin(t)) as sub:
        for n in range(sub.queue.maxsize + 5):
            sub.offer(TilesChanged(()))
            assert sub.overflowed == (n >= sub.queue.maxsize)
    assert feed.overflows == 1
