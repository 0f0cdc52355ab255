"""Two hub shards (two `fleethub run` processes) on one broker serve every tablet once."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from broker.processes import Child, free_port
from broker.runner import EmbeddedBroker
from contract.payloads import PlaylistItem
from hub.inbound import SUBSCRIPTIONS
from hub.runtime import owner
from store.playlists import Target, push
from tests.conftest import TestFleetFactory
from tests.helpers import Conn as AsyncConn
from tests.helpers import blocking, eventually, state_of
from tests.scrape import TOKEN, scrape, value

Conn = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def shard_metrics(monkeypatch: pytest.MonkeyPatch) -> int:
    """A base port p with p + 1 free too, in the environment the shards start with: shard i
    serves its metrics on p + i (requested before ``two_shards``, which copies os.environ)."""
    while True:
        base = free_port()
        with contextlib.suppress(OSError), socket.socket() as sock:
            sock.bind(("127.0.0.1", base + 1))
            break
    monkeypatch.setenv("FLEETHUB_HUB_METRICS_PORT", str(base))
    monkeypatch.setenv("FLEETHUB_METRICS_TOKEN", TOKEN)
    return base


@pytest.fixture
def two_shards(database_url: str, broker: EmbeddedBroker, tmp_path: Path) -> Iterator[list[Child]]:
    hub_client_id = f"shard-{uuid.uuid4().hex[:6]}"
    blocking(broker.add_accounts(hub_client_id, 2))  # two accounts per shard, each bound to its id
    env = {
        **os.environ,
        "FLEETHUB_DATABASE_URL": database_url,
        "FLEETHUB_MQTT_URL": broker.hub_target().url(),
        "FLEETHUB_SHARD_COUNT": "2",
        "FLEETHUB_HUB_CLIENT_ID": hub_client_id,
        "FLEETHUB_VAR_DIR": str(tmp_path),
    }
    shards = [
        Child(
            f"shard-{i}",
            [sys.executable, "-m", "cli.main", "run"],
            tmp_path / f"shard-{i}.log",
            env={**env, "FLEETHUB_SHARD_INDEX": str(i)},
        )
        for i in range(2)
    ]
    yield shards
    for shard in shards:
        assert shard.stop(signal.SIGINT, timeout=20) == 0


async def _subscribed(port: int) -> float:
    """The shard's topics_subscribed gauge."""
    return value((await scrape(port))[1], "fleethub_hub_topics_subscribed") or 0


def _log(child: Child) -> str:
    assert child.log_path is not None
    return child.log_path.read_text()


async def test_each_shard_serves_its_own_tablets(
    shard_metrics: int,
    two_shards: list[Child],
    fleet_factory: TestFleetFactory,
    conn: Conn,
    aconn: AsyncConn,
) -> None:
    await eventually(lambda: all("tablet session up" in _log(s) for s in two_shards), timeout=20)
    before = [await _subscribed(shard_metrics + i) for i in range(2)]
    fleet = await fleet_factory(tablets=6, heartbeat_s=30, offline_after_s=90)
    assert {owner(t, 2) for t in fleet.tablet_ids} == {0, 1}  # both shards have tablets
    # A shard subscribes to a new tablet's topics when the store tells it of the tablet; what
    # the tablet publishes before that reaches no one (docs/operations.md, topics_subscribed).
    want = [
        before[i] + sum(owner(t, 2) == i for t in fleet.tablet_ids) * len(SUBSCRIPTIONS)
        for i in range(2)
    ]

    async def subscribed() -> bool:
        return all([await _subscribed(shard_metrics + i) >= want[i] for i in range(2)])

    probe: Callable[[], Awaitable[bool] | bool] = subscribed
    await eventually(probe, timeout=30)
    tablets = [fleet.tablet(n).connect(online=False) for n in range(6)]
    try:
        for tablet in tablets:
            tablet.heartbeat()
        await eventually(
            lambda: all(state_of(conn, t) == "online" for t in fleet.tablet_ids), timeout=30
        )
        count = conn.execute(
            "SELECT count(*) FROM heartbeats WHERE tablet_id = ANY(%s)", (fleet.tablet_ids,)
        ).fetchone()
        assert count == (6,)  # each heartbeat stored once: one shard per tablet
        # Each shard's own /metrics, on the base port + its index, counts its own share.
        scraped = [(await scrape(shard_metrics + i))[1] for i in range(2)]
        for i, samples in enumerate(scraped):
            info = [labels for name, labels in samples if name == "fleethub_hub_info"]
            assert [dict(labels)["shard_index"] for labels in info] == [str(i)]
        committed = [value(s, "fleethub_hub_heartbeats_committed_total") or 0 for s in scraped]
        assert sum(committed) == 6
        assert all(committed)

        item = PlaylistItem(
            ad_id="a",
            campaign_id="c",
            url="https://cdn.example/a.mp4",
            sha256="c" * 64,
            duration_ms=5000,
        )
        result = await push(
            aconn,
            Target("fleet", fleet.fleet_id),
            [item],
            emergency=False,
            expires_s=None,
            reason=None,
            actor="test",
            refresh_s=300,
        )

        def all_applied() -> bool:
            row = conn.execute(
                "SELECT count(*) FROM deliveries WHERE tablet_id = ANY(%s) AND etag = %s"
                " AND status = 'applied'",
                (fleet.tablet_ids, result.etag),
            ).fetchone()
            return row == (6,)

        await eventually(all_applied)
        for shard in two_shards:
            assert not re.search(r"rejected(?!=)", _log(shard))  # none but the counter
    finally:
        for tablet in tablets:
            tablet.close()
