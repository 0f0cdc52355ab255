"""The three contenders of ``fleethub bench --compare``, each a consumer process that its leg
starts before the blast and stops after it (so no leg inherits another's session or backlog):

- ``limit``: Debian's ``mosquitto_sub`` (C, QoS 1, clean session) writing each message with
  its receive time (``-F '%U %p'``) to a file read after the leg: what the broker can deliver
  to one subscriber that does nothing else;
- ``naive``: the paho + psycopg baseline (devtools/bench/naive.py);
- ``fleethub``: ``fleethub run``, the hub as its own process, with a fresh MQTT session of
  its own per leg (a client id of its own, session expiry 0): it starts without a backlog,
  republishes every manifest as after any lost session, and the blast starts only once that
  is done and the hub is quiet.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from broker.processes import Child
from devtools.bench.stats import percentile
from devtools.bench.store_session import StoreSession
from store import bench_probes

TOPIC = "tablets/+/heartbeat"
READY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Measured:
    """A leg's delivered messages: count, latencies (s) and the span of their arrivals."""

    count: int
    p50: float | None
    p99: float | None
    worst: float | None
    first: float | None  # epoch seconds
    last: float | None

    @property
    def sustained(self) -> float | None:
        span = (self.last - self.first) if self.first is not None and self.last else 0.0
        return self.count / span if span > 0 else None


@dataclass(frozen=True)
class BrokerAccess:
    host: str
    port: int
    password: str  # the hub's password, shared by the bench's service accounts


def _wait_for(probe: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(interval)
    raise RuntimeError(f"{what} did not happen within {timeout:.0f} s")


class LimitLeg:
    """``mosquitto_sub``: the broker alone delivering to a C subscriber."""

    name = "limit"

    def __init__(self, broker: BrokerAccess, client_id: str, out: Path) -> None:
        self.broker, self.client_id, self.out = broker, client_id, out
        self.child: Child | None = None
        self._offset = 0
        self._lines = 0

    def start(self) -> None:
        binary = shutil.which("mosquitto_sub")
        if binary is None:
            raise RuntimeError("mosquitto_sub is missing (Debian: mosquitto-clients)")
        self.out.unlink(missing_ok=True)
        argv = [binary, "-h", self.broker.host, "-p", str(self.broker.port)]
        argv += ["-i", self.client_id, "-u", self.client_id, "-P", self.broker.password]
        argv += ["-q", "1", "-t", TOPIC, "-F", "%U %p"]
        self.child = Child("mosquitto_sub", argv, self.out)
        self._offset = self._lines = 0
        time.sleep(1.0)  # connect and subscribe on loopback: milliseconds
        if not self.child.alive():
            raise RuntimeError(f"mosquitto_sub exited: {self.out.read_text()[-500:]}")

    def pids(self) -> list[int]:
        return [self.child.pid] if self.child is not None else []

    def delivered(self) -> int:
        with self.out.open("rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        self._offset += len(chunk)
        self._lines += chunk.count(b"\n")
        return self._lines  # a few lines behind: stdio buffers them

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(signal.SIGINT)  # it disconnects and flushes its output
            self.child = None

    def measure(self, since: datetime) -> Measured:
        floor = since.timestamp()
        lags: list[float] = []
        first = last = None
        with self.out.open("rb") as f:
            for line in f:
                stamp, _, payload = line.partition(b" ")
                try:
                    received = float(stamp)
                    sent = datetime.fromisoformat(json.loads(payload)["ts"]).timestamp()
                except (ValueError, KeyError, TypeError):
                    continue  # not a heartbeat line
                if sent < floor:
                    continue
                lags.append(received - sent)
                first = received if first is None else min(first, received)
                last = received if last is None else max(last, received)
        return _measured(lags, first, last)


class NaiveLeg:
    """The paho + psycopg baseline as its own process."""

    name = "naive"

    def __init__(
        self, broker: BrokerAccess, client_id: str, url: str, store: StoreSession, log: Path
    ) -> None:
        self.broker, self.client_id, self.url, self.store, self.log = (
            broker,
            client_id,
            url,
            store,
            log,
        )
        self.child: Child | None = None
        self.since = datetime.now(UTC)

    def start(self) -> None:
        argv = [sys.executable, "-m", "devtools.bench.naive", "--host", self.broker.host]
        argv += ["--port", str(self.broker.port), "--client-id", self.client_id]
        argv += ["--database-url", self.url]
        env = {**os.environ, "FLEETHUB_BENCH_PASSWORD": self.broker.password}
        self.log.unlink(missing_ok=True)
        self.child = Child("naive", argv, self.log, env=env)
        _wait_for(self._subscribed, 30, "the naive subscriber's subscription")

    def _subscribed(self) -> bool:
        if self.child is not None and not self.child.alive():
            raise RuntimeError(f"the naive subscriber exited: {self.log.read_text()[-500:]}")
        return self.log.exists() and "subscribed" in self.log.read_text()

    def pids(self) -> list[int]:
        return [self.child.pid] if self.child is not None else []

    def delivered(self) -> int:
        return self.store.run(lambda c: bench_probes.heartbeats_received_since(c, self.since))

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(signal.SIGTERM, timeout=30)
            self.child = None

    def measure(self, since: datetime) -> Measured:
        return _committed(self.store, since)


class HubLeg:
    """``fleethub run`` with a fresh session; ``manifests()`` counts manifests the simulated
    tablets received (the hub's republish reached them all once it grew by ``tablets``)."""

    name = "fleethub"

    def __init__(
        self,
        env: dict[str, str],
        store: StoreSession,
        log: Path,
        tablets: int,
        manifests: Callable[[], int],
    ) -> None:
        self.env, self.store, self.log = env, store, log
        self.tablets, self.manifests = tablets, manifests
        self.child: Child | None = None
        self.since = datetime.now(UTC)

    def start(self) -> None:
        before = self.manifests()
        argv = [sys.executable, "-m", "cli.main", "run"]
        self.child = Child("hub", argv, self.log, env=self.env)
        _wait_for(
            lambda: self._alive() and self.manifests() - before >= self.tablets,
            READY_TIMEOUT_S,
            "the hub's republish of every manifest",
            interval=0.5,
        )
        # Then quiet: its latest counters (stored every second, FLEETHUB_METRICS_INTERVAL_S)
        # show nothing waiting and nothing received since the previous ones.
        seen: list[dict[str, Any]] = []

        def settled() -> bool:
            counters = self.store.run(bench_probes.latest_hub_counters)
            self._alive()
            seen.append(counters)
            idle = counters.get("inbox") == 0 and counters.get("publish_backlog") == 0
            same = len(seen) > 1 and seen[-2].get("received") == counters.get("received")
            return bool(counters) and idle and same

        _wait_for(settled, READY_TIMEOUT_S, "the hub settling after its start", interval=1.1)

    def _alive(self) -> bool:
        if self.child is not None and not self.child.alive():
            raise RuntimeError(f"the hub exited; see {self.log}")
        return True

    def pids(self) -> list[int]:
        return [self.child.pid] if self.child is not None else []

    def delivered(self) -> int:
        return self.store.run(lambda c: bench_probes.heartbeats_received_since(c, self.since))

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(signal.SIGTERM, timeout=30)
            self.child = None

    def measure(self, since: datetime) -> Measured:
        return _committed(self.store, since)

    def profile(self, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
        """py-spy (a dev dependency) sampling the hub's threads for ``seconds``, into a
        collapsed-stack file; None where py-spy is not installed."""
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if self.child is None or not Path(spy).exists():
            return None
        argv = [spy, "record", "--pid", str(self.child.pid), "--duration", str(int(seconds))]
        argv += ["--rate", "50", "--threads", "--nonblocking", "--format", "raw"]
        argv += ["--output", str(out)]
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _committed(store: StoreSession, since: datetime) -> Measured:
    count, p50, p99, worst, first, last = store.run(
        lambda c: bench_probes.heartbeat_latency(c, since)
    )
    return Measured(
        int(count),
        p50,
        p99,
        worst,
        first.timestamp() if first else None,
        last.timestamp() if last else None,
    )


def _measured(lags: list[float], first: float | None, last: float | None) -> Measured:
    return Measured(
        len(lags),
        percentile(lags, 50),
        percentile(lags, 99),
        max(lags) if lags else None,
        first,
        last,
    )


Leg = LimitLeg | NaiveLeg | HubLeg
