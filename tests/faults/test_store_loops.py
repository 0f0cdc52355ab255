"""The hub's long-lived tasks outlive a store outage (issue #18, item 7).

The store is taken away for real: the database refuses new connections and every
backend of the hub (pool, listener) is terminated, as an ``AdminShutdown`` does in
a PostgreSQL restart. The hub must stay up, retry, and afterwards reconcile a
playlist change and look up a tablet it learnt of during the outage.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from contract.payloads import PlaylistItem
from store.playlists import Target, push
from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import eventually

pytestmark = [pytest.mark.faults, pytest.mark.slow]

Conn = psycopg.Connection[tuple[Any, ...]]

ITEMS = [
    PlaylistItem(
        ad_id="ad-1",
        campaign_id="c-1",
        url="https://cdn.example/ad-1.mp4",
        sha256="a" * 64,
        duration_ms=15000,
    )
]

TERMINATE = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
  AND application_name <> 'test-seed'
"""


@contextmanager
def store_away(conn: Conn, database_url: str) -> Iterator[None]:
    """No new connections to the store's database; the hub's are cut."""
    row = conn.execute("SELECT current_database()").fetchone()
    assert row is not None
    name = sql.Identifier(str(row[0]))
    admin_url = make_conninfo(database_url, dbname="postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(name))
        try:
            conn.execute(TERMINATE)
            yield
        finally:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(name))


def manifest_etags(tablet: Any) -> list[str]:
    out = []
    while not tablet.received.empty():
        msg = tablet.received.get_nowait()
        if msg.topic.endswith("/playlist") and msg.payload:
            out.append(json.loads(msg.payload)["etag"])
    return out


async def test_hub_survives_store_outage_and_reconciles_after(
    running_hub: RunningHub,
    fleet_factory: TestFleetFactory,
    conn: Conn,
    database_url: str,
) -> None:
    hub = running_hub.hub
    assert hub is not None
    fleet = await fleet_factory(tablets=1, heartbeat_s=30, offline_after_s=90)
    tablet = fleet.tablet(0).connect()
    newcomer = None
    # The test's own session, opened before the outage and spared by it, registers the
    # newcomer's fleet while no new connection can reach the store, and pushes after it.
    seed = await psycopg.AsyncConnection.connect(
        database_url, autocommit=True, application_name="test-seed"
    )
    try:
        tablet.heartbeat()
        with store_away(conn, database_url):
            # Wake every store-touching loop while the store is away: a playlist change
            # (its NOTIFY reaches no listener, but the listener reconnects and reconciles),
            # and a tablet the hub has never seen (the registry asks the lookup loop).
            late = await fleet_factory(tablets=1, heartbeat_s=30, offline_after_s=90, on=seed)
            newcomer = late.tablet(0).connect()
            newcomer.heartbeat()
            for _ in range(20):
                await asyncio.sleep(0.2)
                conn.execute(TERMINATE)  # the pool's reconnects too
        assert running_hub._task is not None
        assert not running_hub._task.done()
        assert sum(hub.metrics.loop_errors.values()) > 0, hub.metrics.loop_errors

        # The store is back: a playlist change is reconciled, the newcomer was looked up.
        result = await push(
            seed,
            Target("fleet", fleet.fleet_id),
            ITEMS,
            emergency=False,
            expires_s=None,
            reason=None,
            actor="test",
            refresh_s=300,
        )
        seen: list[str] = []

        def reconciled() -> bool:
            seen.extend(manifest_etags(tablet))
            return result.etag in seen

        await eventually(reconciled, timeout=20)
        newcomer.heartbeat()
        await eventually(
            lambda: (
                conn.execute(
                    "SELECT count(*) FROM heartbeats WHERE tablet_id = %s", (late.tablet_ids[0],)
                ).fetchone()
                == (2,)
            ),
            timeout=20,
        )
        assert not running_hub._task.done()
    finally:
        await seed.close()
        tablet.close()
        if newcomer is not None:
            newcomer.close()
