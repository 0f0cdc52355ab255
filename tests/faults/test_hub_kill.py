"""A hub killed with SIGKILL mid-stream loses no heartbeat and invents no offline
(issue #18, item 6).

A real ``fleethub run`` process and paho tablets heartbeating every second. The hub is
killed right after a burst the broker acknowledged, stays away longer than the
tablets' ``offline_after`` while they keep publishing (the broker queues for the hub's
persistent session), and is started again. Every heartbeat the broker PUBACKed to a
tablet must be in the store exactly once, and no tablet may have gone offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest

from broker.processes import Child
from broker.runner import EmbeddedBroker
from tests.conftest import TestFleetFactory
from tests.helpers import PahoTablet, blocking, eventually

pytestmark = [pytest.mark.faults, pytest.mark.slow]

Conn = psycopg.Connection[tuple[Any, ...]]
TABLETS = 150
OFFLINE_AFTER_S = 3
DOWN_S = 5.0  # longer than offline_after


class HubProcess:
    """``fleethub run`` as a child process, started again with the same settings."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir = env, log_dir
        self.child: Child | None = None
        self.runs = 0

    def start(self) -> Path:
        self.runs += 1
        log = self.log_dir / f"hub-{self.runs}.log"
        self.child = Child("hub", [sys.executable, "-m", "cli.main", "run"], log, env=self.env)
        return log

    def kill(self) -> None:
        assert self.child is not None
        os.kill(self.child.pid, signal.SIGKILL)
        self.child.proc.wait(10)
        self.child.finish(0)

    def stop(self) -> None:
        if self.child is not None and self.child.alive():
            self.child.stop(signal.SIGINT, timeout=20)


@pytest.fixture
def hub_process(database_url: str, broker: EmbeddedBroker, tmp_path: Path) -> Iterator[HubProcess]:
    hub_client_id = f"kill-{uuid.uuid4().hex[:6]}"
    blocking(broker.add_accounts(hub_client_id))  # every account is bound to its client id
    env = {
        **os.environ,
        "FLEETHUB_DATABASE_URL": database_url,
        "FLEETHUB_MQTT_URL": broker.hub_target().url(),
        "FLEETHUB_HUB_CLIENT_ID": hub_client_id,
        "FLEETHUB_VAR_DIR": str(tmp_path),
        "FLEETHUB_METRICS_INTERVAL_S": "1",
    }
    process = HubProcess(env, tmp_path)
    yield process
    process.stop()


async def session_up(log: Path) -> None:
    await eventually(lambda: log.exists() and "tablet session up" in log.read_text(), timeout=30)


def burst(tablets: list[PahoTablet], acked: set[tuple[str, int]]) -> None:
    """One heartbeat per tablet; what the broker acknowledges goes into ``acked``."""
    sent = []
    for t in tablets:
        payload = {
            "v": 1,
            "ts": datetime.now(UTC).isoformat(),
            "seq": t.seq,
            "boot_id": t.boot_id,
            "battery": 80,
            "charging": False,
            "app_version": "1.0.0",
        }
        info = t.client.publish(t.topic("heartbeat"), json.dumps(payload).encode(), qos=1)
        sent.append((t.tablet_id, t.seq, info))
        t.seq += 1
    for tablet_id, seq, info in sent:
        info.wait_for_publish(10)
        if info.rc == mqtt.MQTT_ERR_SUCCESS and info.is_published():
            acked.add((tablet_id, seq))


async def heartbeat_for(
    tablets: list[PahoTablet], acked: set[tuple[str, int]], s: float, every: float = 1.0
) -> None:
    end = time.monotonic() + s
    while time.monotonic() < end:
        started = time.monotonic()
        await asyncio.to_thread(burst, tablets, acked)
        await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))


def stored(conn: Conn, ids: list[str]) -> dict[tuple[str, int], int]:
    rows = conn.execute(
        "SELECT tablet_id, seq, count(*) FROM heartbeats WHERE tablet_id = ANY(%s) GROUP BY 1, 2",
        (ids,),
    ).fetchall()
    return {(str(r[0]), int(r[1])): int(r[2]) for r in rows}


async def test_kill_9_loses_no_acknowledged_heartbeat_and_no_tablet_goes_offline(
    hub_process: HubProcess, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(tablets=TABLETS, heartbeat_s=1, offline_after_s=OFFLINE_AFTER_S)
    ids = fleet.tablet_ids
    await session_up(hub_process.start())
    tablets = [fleet.tablet(n) for n in range(TABLETS)]
    acked: set[tuple[str, int]] = set()
    try:
        for t in tablets:
            await asyncio.to_thread(t.connect, False, False)
        await heartbeat_for(tablets, acked, 3)
        await asyncio.to_thread(burst, tablets, acked)  # acknowledged by the broker ...
        hub_process.kill()  # ... and the hub killed right after
        # Faster while it is away: a deep queue in the broker, as a long outage leaves.
        await heartbeat_for(tablets, acked, DOWN_S, every=0.2)
        log = hub_process.start()
        await heartbeat_for(tablets, acked, 4)
        published_until = datetime.now(UTC)

        with contextlib.suppress(AssertionError):  # what is lost never comes: count it below
            await eventually(lambda: acked <= stored(conn, ids).keys(), timeout=20)
        rows = stored(conn, ids)
        lost = acked - rows.keys()
        duplicates = {k: n for k, n in rows.items() if n > 1}
        window = (ids, published_until)  # while the tablets were still publishing
        offline = conn.execute(
            "SELECT count(*) FROM presence_transitions WHERE tablet_id = ANY(%s)"
            " AND to_state = 'offline' AND time <= %s",
            window,
        ).fetchone()
        incidents = conn.execute(
            "SELECT count(*) FROM incidents WHERE tablet_id = ANY(%s) AND opened_at <= %s", window
        ).fetchone()
        print(
            f"acked={len(acked)} lost={len(lost)} duplicates={len(duplicates)} "
            f"false_offline={offline} incidents={incidents}"
        )  # the figures of the report
        assert (len(lost), len(duplicates)) == (0, 0)
        assert offline == (0,)
        assert incidents == (0,)
        assert "Traceback" not in log.read_text()
    finally:
        for t in tablets:
            t.close()
