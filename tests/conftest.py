"""Real parts only: a Mosquitto and a PostgreSQL on free loopback ports, started once.

``FLEETHUB_TEST_DATABASE_URL`` points the suite at another store (the
TimescaleDB pass of ``.ci/run``); otherwise the embedded PostgreSQL is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import trustme
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from broker.processes import free_port
from broker.runner import EmbeddedBroker, TlsListener
from config.settings import MqttTarget, Settings
from devtools.embedded_db import EmbeddedPostgres
from hub.metrics import HubMetrics
from hub.runtime import Hub
from hub.writer import StoreWriter
from store import db
from store.db import open_pool
from store.fleets import FleetSpec, TabletSpec, add_fleet, add_tablet
from tests.helpers import Conn, TestFleet, blocking


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("FLEETHUB_TEST_DATABASE_URL")
    if external:
        db.migrate(external)
        yield external
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data", port=free_port())
    url = server.start()
    db.migrate(url)
    yield url
    server.stop()


@pytest.fixture(autouse=True)
def _unspent_rate_limits(request: pytest.FixtureRequest) -> None:
    """Sign-in and lead form budgets are counted in the store, shared by every panel on it
    (store/rate_limits.py): each test that uses the store starts with none spent."""
    if "database_url" in request.fixturenames:
        with psycopg.connect(request.getfixturevalue("database_url"), autocommit=True) as conn:
            conn.execute("DELETE FROM rate_limits")


@pytest.fixture
def own_store() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of the test's own (migrated), for tests that stop and start it. Under /tmp
    directly: the PostgreSQL user (when the suite runs as root) must reach it on each restart,
    whatever other pytest runs do to their base dirs."""
    with tempfile.TemporaryDirectory(prefix="fleethub-store-") as directory:
        server = EmbeddedPostgres(Path(directory) / "pg", port=free_port())
        db.migrate(server.start())
        yield server
        server.stop()


@dataclass
class LiveWriter:
    """A real :class:`StoreWriter` running on its own pool, with its counters."""

    writer: StoreWriter
    metrics: HubMetrics
    pool: AsyncConnectionPool


@pytest.fixture
async def live_writer(database_url: str) -> AsyncIterator[LiveWriter]:
    pool = open_pool(database_url)
    await pool.open(wait=True, timeout=10)
    metrics = HubMetrics()
    writer = StoreWriter(pool, metrics, flush_interval_s=0.01)
    task = asyncio.create_task(writer.run(), name="test.writer")
    try:
        yield LiveWriter(writer, metrics, pool)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pool.close()


@dataclass(frozen=True)
class TestCA:
    """A certificate authority of the suite's own (trustme) and the broker's certificate
    from it, for 127.0.0.1; ``ca_file`` is what clients trust (FLEETHUB_MQTT_CA_FILE)."""

    __test__ = False
    ca: trustme.CA
    ca_file: Path
    certfile: Path
    keyfile: Path


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    directory = tmp_path_factory.mktemp("ca")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    paths = TestCA(ca, directory / "ca.pem", directory / "server.pem", directory / "server.key")
    ca.cert_pem.write_to_path(str(paths.ca_file))
    server.private_key_pem.write_to_path(str(paths.keyfile))
    with paths.certfile.open("wb") as chain:
        for blob in server.cert_chain_pems:
            chain.write(blob.bytes())
    return paths


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory, test_ca: TestCA) -> Iterator[EmbeddedBroker]:
    """The suite's Mosquitto: plain MQTT on ``port``, and the same accounts over TLS on
    ``tls.port`` with a certificate from :func:`test_ca`."""
    directory = tmp_path_factory.mktemp("broker")
    embedded = EmbeddedBroker(
        directory,
        "127.0.0.1",
        free_port(),
        "fleethub-hub",
        persistence=False,
        tls=TlsListener(free_port(), test_ca.certfile, test_ca.keyfile),
    )
    embedded.start()
    yield embedded
    embedded.stop()


@pytest.fixture
def hub_mqtt(broker: EmbeddedBroker) -> MqttTarget:
    return broker.hub_target()


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A plain connection for the test's own queries (the product's store is async)."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
async def aconn(database_url: str) -> AsyncIterator[Conn]:
    """A connection for calling the product's store functions from an async test."""
    async with db.connect(database_url) as connection:
        yield connection


@pytest.fixture
def fleet_factory(database_url: str, broker: EmbeddedBroker) -> TestFleetFactory:
    return TestFleetFactory(database_url, broker)


class TestFleetFactory:
    """Unique fleets and tablets per test, with broker credentials (``await`` it; a sync
    test runs it with ``asyncio.run``)."""

    __test__ = False

    def __init__(self, database_url: str, broker: EmbeddedBroker):
        self.database_url, self.broker = database_url, broker

    async def __call__(
        self,
        tablets: int = 1,
        heartbeat_s: int = 1,
        offline_after_s: int = 2,
        alert_after_s: int = 1,
        hours: str = "",
        timezone: str = "UTC",
        flap_limit: int = 6,
        cars: bool = False,
        on: Conn | None = None,
        health: dict[str, Any] | None = None,
    ) -> TestFleet:
        """A fleet with its tablets and their broker accounts, registered on a connection of
        its own (or ``on``, one the caller opened, e.g. one kept through a store outage);
        ``health``: the fleet's health policy overrides, set before its tablets exist."""
        fleet_id = f"f-{uuid.uuid4().hex[:10]}"
        ids = [f"{fleet_id}-t{n}" for n in range(tablets)]
        async with contextlib.AsyncExitStack() as stack:
            conn = (
                on
                if on is not None
                else await stack.enter_async_context(db.connect(self.database_url))
            )
            await add_fleet(
                conn, FleetSpec(fleet_id, timezone, alert_after_s, hours, flap_limit), "test"
            )
            if health is not None:
                await conn.execute(
                    "UPDATE fleets SET health_policy = %s WHERE fleet_id = %s",
                    (Jsonb(health), fleet_id),
                )
            for n, tablet_id in enumerate(ids):
                car = f"{fleet_id}-car{n}" if cars else None
                await add_tablet(
                    conn, TabletSpec(tablet_id, fleet_id, car, heartbeat_s, offline_after_s), "test"
                )
        passwords = {tablet_id: f"pw-{tablet_id}" for tablet_id in ids}
        await self.broker.set_credentials(passwords)
        return TestFleet(fleet_id, ids, passwords, self.broker.host, self.broker.port)


@pytest.fixture
def settings(tmp_path: Path, broker: EmbeddedBroker) -> Settings:
    """Client ids of the test's own, with their broker accounts (each account is bound to
    its client id), for a hub of one shard and a panel."""
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        var_dir=tmp_path,
        hub_client_id=f"hub-{tag}",
        web_client_id=f"web-{tag}",
        watchdog_tick_s=0.1,
        metrics_interval_s=0.5,
        writer_flush_interval_s=0.02,
    )
    blocking(broker.add_accounts(settings.hub_client_id, 1, settings.web_client_id))
    return settings


class RunningHub:
    """A hub running in the test's event loop; ``restart`` keeps its settings."""

    def __init__(self, settings: Settings, database_url: str, mqtt: MqttTarget) -> None:
        self.settings, self.database_url, self.mqtt = settings, database_url, mqtt
        self.hub: Hub | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> Hub:
        self.hub = Hub(self.settings, self.database_url, self.mqtt)
        self._task = asyncio.create_task(self.hub.run(), name="test.hub")
        await asyncio.wait_for(self.hub.ready(), 15)
        return self.hub

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def restart(self) -> Hub:
        await self.stop()
        return await self.start()


@pytest.fixture
async def running_hub(
    settings: Settings, database_url: str, hub_mqtt: MqttTarget
) -> AsyncIterator[RunningHub]:
    running = RunningHub(settings, database_url, hub_mqtt)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture(autouse=True)
def fail_on_logged_exception(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A logged exception fails the test (Home Assistant's ``fail_on_log_exception``)."""
    caplog.set_level(logging.INFO)
    yield
    logged = [r for r in caplog.get_records("call") if r.exc_info and r.levelno >= logging.ERROR]
    assert not logged, f"exception logged: {logged[0].getMessage()}"


@pytest.fixture(autouse=True)
def no_lingering_pump() -> Iterator[None]:
    yield
    pumps = [t for t in threading.enumerate() if t.name == "hub.actors.pump"]
    assert not pumps, "an actor pump thread outlived its test"
