"""``fleethub bench --compare``: fleethub against the broker's limit and a naive baseline,
measured in one run with the same simulated tablets and the same offered rate.

One embedded PostgreSQL, one Mosquitto and the simulated tablets (spread over simulator
processes of ``per_worker`` tablets, each on its own loopback source addresses) start once
and stay connected. Then the legs run interleaved, ``limit naive fleethub`` × ``repeats``,
so the noise of a shared machine hits all three alike; each leg starts its consumer, records
the load average, blasts heartbeats at the offered rate for ``duration_s``, waits until
everything offered was delivered (bounded by ``drain_timeout_s``), measures and stops its
consumer (devtools/bench/compare_legs.py). The ratios come from each leg's median over the
repeats. Then a fresh hub pushes to every tablet, idle and under the heartbeat load
(devtools/bench/fanout.py), and a last leg overloads a fresh hub (devtools/bench/overload.py).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console

from broker.dynsec_file import hub_tablet_client_id
from broker.processes import free_port
from broker.runner import EmbeddedBroker
from devtools.bench.compare_legs import BrokerAccess, HubLeg, Leg, LimitLeg, NaiveLeg
from devtools.bench.run import Worker, _create_database, machine
from devtools.bench.stats import CpuWindow
from devtools.bench.store_session import StoreSession
from devtools.demo import password
from devtools.embedded_db import EmbeddedPostgres
from store import bench_seed, db, fleets

PREFIX = "bench-"
OFFLINE_AFTER_S = 3600  # no timeouts while other legs run without the hub


@dataclass(frozen=True)
class CompareConfig:
    tablets: int = 19_000
    rate: float = 10_000.0
    duration_s: float = 15.0
    repeats: int = 3
    per_worker: int = 5_000  # tablets per simulator process
    drain_timeout_s: float = 60.0
    overload_s: float = 10.0  # 0: no overload leg
    fanout: bool = True  # the fan-out leg: a push to every tablet, idle and under load
    profile: bool = False  # py-spy the hub during each fleethub leg's blast
    work_dir: Path = Path("var/bench")


class Bench:
    """What every leg shares: the store, the broker, the simulators."""

    def __init__(self, cfg: CompareConfig, stamp: str, console: Console) -> None:
        self.cfg, self.stamp, self.console = cfg, stamp, console
        self.logs = cfg.work_dir / "logs"
        self.server = EmbeddedPostgres(cfg.work_dir / "pgdata", port=free_port())
        self.broker = EmbeddedBroker(
            cfg.work_dir / "broker-compare",
            "127.0.0.1",
            free_port(),
            f"bench-hub-{stamp}",
            persistence=False,
            max_queued=200_000,
        )
        self.workers: list[Worker] = []
        self.url = ""
        self.store: StoreSession | None = None
        self.hub_runs = 0
        self.tablet_ids: list[str] = []

    # --- set-up ----------------------------------------------------------------

    def start(self) -> None:
        cfg = self.cfg
        self.logs.mkdir(parents=True, exist_ok=True)
        self.server.start(database="postgres")
        name = f"bench_{self.stamp.lower()}"
        asyncio.run(_create_database(self.server.url("postgres"), name))
        self.url = self.server.url(name)
        db.migrate(self.url)
        asyncio.run(self._register())
        key = os.urandom(16)
        ids = self.tablet_ids = [f"{PREFIX}{n:06d}" for n in range(cfg.tablets)]
        asyncio.run(self.broker.set_credentials({i: password(key, i) for i in ids}))
        # One hub per fleethub leg, then the fan-out leg's and the overload leg's.
        hub_ids = [self.hub_id(r) for r in range(cfg.repeats + 2)]
        for service in ("bench-limit", "bench-naive", *hub_ids):
            asyncio.run(self.broker.add_accounts(hub_client_id=service))
        self.broker.start()
        self.store = StoreSession(self.url).__enter__()
        with self.console.status(f"connecting {cfg.tablets} tablets…"):
            for w, start in enumerate(range(0, cfg.tablets, cfg.per_worker)):
                mine = ids[start : start + cfg.per_worker]
                ids_file = cfg.work_dir / f"compare-ids-{w}.txt"
                ids_file.write_text("\n".join(mine))
                argv = [sys.executable, "-m", "devtools.bench.worker"]
                argv += ["--port", str(self.broker.port), "--ids-file", str(ids_file)]
                argv += ["--secret", key.hex(), "--first-source", f"127.0.{w + 1}.2"]
                self.workers.append(Worker(argv, self.logs / f"compare-worker-{w}.log"))
                self.workers[-1].expect = len(mine)
            for worker in self.workers:
                worker.read()

    async def _register(self) -> None:
        async with db.connect(self.url) as conn:
            await fleets.add_fleet(conn, fleets.FleetSpec("bench", alert_after_s=3600), "bench")
            await bench_seed.numbered_tablets(
                conn, "bench", PREFIX, self.cfg.tablets, 5, OFFLINE_AFTER_S
            )

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        if self.store is not None:
            self.store.__exit__(None, None, None)
        self.broker.stop()
        self.server.stop()

    # --- legs ------------------------------------------------------------------

    def hub_id(self, run: int) -> str:
        return f"bench-hub-{self.stamp}-r{run}"

    def access(self) -> BrokerAccess:
        return BrokerAccess("127.0.0.1", self.broker.port, self.broker.hub_password())

    def leg(self, kind: str) -> Leg:
        assert self.store is not None
        access = self.access()
        if kind == "limit":
            out = self.cfg.work_dir / "compare-limit.txt"
            return LimitLeg(access, hub_tablet_client_id("bench-limit", 0), out)
        if kind == "naive":
            client = hub_tablet_client_id("bench-naive", 0)
            return NaiveLeg(access, client, self.url, self.store, self.logs / "compare-naive.log")
        return self.hub_leg()

    def hub_leg(self) -> HubLeg:
        assert self.store is not None
        run, self.hub_runs = self.hub_runs, self.hub_runs + 1
        env = {
            **os.environ,
            "FLEETHUB_DATABASE_URL": self.url,
            "FLEETHUB_MQTT_URL": self.broker.hub_target().url(),
            "FLEETHUB_HUB_CLIENT_ID": self.hub_id(run),
            # A fresh session each leg, gone when it disconnects: nothing queues for the hub
            # while the other legs run.
            "FLEETHUB_HUB_SESSION_EXPIRY_S": "0",
            "FLEETHUB_METRICS_INTERVAL_S": "1",
            "FLEETHUB_MANIFEST_REPUBLISH_PER_S": "20000",
        }
        log = self.logs / f"compare-hub-r{run}.log"
        return HubLeg(env, self.store, log, self.cfg.tablets, self.manifests)

    def manifests(self) -> int:
        total = 0
        for worker in self.workers:
            worker.send({"cmd": "stats"})
            total += int(worker.read()["playlists_received"])
        return total

    def blast(self, rate: float, duration_s: float) -> dict[str, Any]:
        """Every simulator its share of ``rate`` for ``duration_s``; what they sent."""
        for worker in self.workers:
            worker.send({"cmd": "blast", "rate": rate / len(self.workers), "duration": duration_s})
        results = [w.read() for w in self.workers]
        sent = sum(r["sent"] for r in results)
        elapsed = max(r["elapsed_s"] for r in results)
        failed = sum(r["failed"] for r in results)
        return {"sent": sent, "failed": failed, "elapsed_s": elapsed}

    def broker_pids(self) -> list[int]:
        return [self.broker.child.pid] if self.broker.child is not None else []

    def store_pids(self) -> list[int]:
        pid_file = self.server.pgdata / "postmaster.pid"
        postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
        return [postmaster.pid, *(c.pid for c in postmaster.children(recursive=True))]

    def run_leg(self, leg: Leg, repeat: int) -> dict[str, Any]:
        cfg = self.cfg
        load = os.getloadavg()
        with self.console.status(f"{leg.name} (run {repeat + 1}): starting its consumer…"):
            leg.start()
        try:
            windows = {
                "consumer": CpuWindow(leg.pids()),
                "broker": CpuWindow(self.broker_pids()),
                "store": CpuWindow(self.store_pids()),
            }
            since = datetime.now(UTC)
            if isinstance(leg, HubLeg | NaiveLeg):
                leg.since = since
            for window in windows.values():
                window.start()
            spy = None
            if cfg.profile and isinstance(leg, HubLeg):
                out = self.logs / f"profile-{self.stamp}-r{repeat}.txt"
                spy = leg.profile(cfg.duration_s, out)
            blast_from = datetime.now(UTC)
            with self.console.status(f"{leg.name} (run {repeat + 1}): {cfg.rate:.0f}/s…"):
                sent = self.blast(cfg.rate, cfg.duration_s)
            blast_until = datetime.now(UTC)
            with self.console.status(f"{leg.name} (run {repeat + 1}): draining…"):
                drained = _drain(leg, sent["sent"], cfg.drain_timeout_s)
            cpu = {name: round(w.cpu_percent(), 1) for name, w in windows.items()}
            consumer_cpu_s = windows["consumer"].cpu_seconds()
            if spy is not None:
                spy.wait(30)
            leg.stop()
            measured = leg.measure(since)
        finally:
            leg.stop()
        return {
            "leg": leg.name,
            "run": repeat + 1,
            "load_before": [round(x, 2) for x in load],
            "blast": [
                blast_from.isoformat(timespec="seconds"),
                blast_until.isoformat(timespec="seconds"),
            ],
            "offered_rate_per_s": round(sent["sent"] / sent["elapsed_s"], 1),
            "sent": sent["sent"],
            "send_failed": sent["failed"],
            "delivered": measured.count,
            "drained_in_time": drained,
            "sustained_rate_per_s": round(measured.sustained or 0.0, 1),
            "latency_s": {"p50": measured.p50, "p99": measured.p99, "max": measured.worst},
            "cpu_percent_of_one_core": cpu,
            # What one delivered message cost its consumer: load moves it much less than
            # the rates (a starved process runs less, not slower).
            "consumer_cpu_us_per_message": (
                round(consumer_cpu_s * 1e6 / measured.count, 1) if measured.count else None
            ),
        }


STALLED_S = {"limit": 3.0, "naive": 15.0, "fleethub": 15.0}


def _drain(leg: Leg, sent: int, timeout: float) -> bool:
    """Wait until the leg delivered what was sent (or nothing moved for ``STALLED_S``, or
    timeout). ``mosquitto_sub`` keeps a tail in its stdio buffer until it stops; a
    consumer that commits can pause for seconds on a busy machine without being done."""
    deadline = time.monotonic() + timeout
    last, still_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        done = leg.delivered()
        if done >= sent:
            return True
        if done != last:
            last, still_since = done, time.monotonic()
        elif time.monotonic() - still_since > STALLED_S[leg.name]:
            return isinstance(leg, LimitLeg) and done >= sent * 0.99
        time.sleep(0.5)
    return False


def ratios(legs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each contender's medians over its repeats, and fleethub's ratios to the others."""
    medians: dict[str, dict[str, float | None]] = {}
    for name in ("limit", "naive", "fleethub"):
        mine = [leg for leg in legs if leg["leg"] == name]
        medians[name] = {
            "offered_rate_per_s": _median([leg["offered_rate_per_s"] for leg in mine]),
            "sustained_rate_per_s": _median([leg["sustained_rate_per_s"] for leg in mine]),
            "p50_s": _median([leg["latency_s"]["p50"] for leg in mine]),
            "p99_s": _median([leg["latency_s"]["p99"] for leg in mine]),
            "consumer_cpu": _median([leg["cpu_percent_of_one_core"]["consumer"] for leg in mine]),
            "cpu_us_per_message": _median([leg.get("consumer_cpu_us_per_message") for leg in mine]),
        }
    hub = medians["fleethub"]["sustained_rate_per_s"]

    def ratio(other: str) -> float | None:
        base = medians[other]["sustained_rate_per_s"]
        return round(hub / base, 3) if hub and base else None

    return {
        "medians": medians,
        "fleethub_to_limit": ratio("limit"),
        "fleethub_to_naive": ratio("naive"),
    }


def _median(values: list[Any]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return statistics.median(present) if present else None


def run_compare(cfg: CompareConfig, console: Console) -> dict[str, Any]:
    from devtools.bench.fanout import run_fanout
    from devtools.bench.overload import run_overload

    cfg.work_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report: dict[str, Any] = {
        "started_at": f"compare-{stamp}",
        "command": " ".join(["fleethub", "bench", *sys.argv[2:]]),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in cfg.__dict__.items()},
        "machine": machine(),
        "legs": [],
    }
    bench = Bench(cfg, stamp, console)
    try:
        with console.status("starting PostgreSQL and Mosquitto, registering tablets…"):
            bench.start()
        report["simulators"] = {"processes": len(bench.workers), "per_process": cfg.per_worker}
        for repeat in range(cfg.repeats):
            for kind in ("limit", "naive", "fleethub"):
                result = bench.run_leg(bench.leg(kind), repeat)
                report["legs"].append(result)
                console.print(_one_line(result))
        report["ratios"] = ratios(report["legs"])
        if cfg.fanout:
            report["fanout"] = run_fanout(bench, cfg.rate, console)
        if cfg.overload_s > 0:
            capacity = report["ratios"]["medians"]["fleethub"]["sustained_rate_per_s"] or cfg.rate
            report["overload"] = run_overload(bench, capacity, console)
    finally:
        bench.stop()
    return report


def _one_line(leg: dict[str, Any]) -> str:
    lat = leg["latency_s"]
    p99 = f"{lat['p99'] * 1000:.0f} ms" if lat["p99"] is not None else "—"
    return (
        f"run {leg['run']} {leg['leg']:>8}: load {leg['load_before'][0]:.2f}, offered "
        f"{leg['offered_rate_per_s']:.0f}/s, sustained {leg['sustained_rate_per_s']:.0f}/s, "
        f"p99 {p99}, consumer {leg['cpu_percent_of_one_core']['consumer']:.0f} %"
    )
