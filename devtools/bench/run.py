"""The end-to-end benchmark: Mosquitto, PostgreSQL, hub shard processes and simulators.

Phases (each bounded in time, all traffic on loopback):
1. heartbeats — simulators publish at an aggregate rate; published → committed latency
   comes from the store (``stored_at − device ts``), throughput from committed rows;
2. offline detection — every tablet then falls silent; error = detected − deadline;
3. playlist fan-out — one push to the whole fleet; push commit → manifest received;
4. a command — ``set_volume`` to the whole fleet; issued → published and published → the
   tablet's result received, from the store, and the time until every result was stored;
5. resident actors — N tablet actors in one process (no I/O), RSS.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import psutil
from rich.console import Console

from broker.processes import Child, free_port
from broker.runner import EmbeddedBroker
from devtools.bench.stats import CpuWindow, summary
from devtools.bench.store_session import StoreSession
from devtools.demo import demo_items, password
from devtools.embedded_db import EmbeddedPostgres
from hub.runtime import owner
from store import admin, bench_probes, bench_seed, commands, db, fleets
from store.playlists import PushResult, Target, push
from store.users import User

PER_WORKER = 10_000
PREFIX = "bench-"


@dataclass(frozen=True)
class BenchConfig:
    tablets: int = 20_000
    rate: float = 10_000.0
    duration_s: float = 30.0
    hub_shards: int = 1
    brokers: int = 1  # 1, or one per hub shard (each shard's tablets on its own broker)
    heartbeat_interval_s: int = 5
    offline_after_s: int = 10
    resident_actors: int = 100_000
    qos: int = 1
    work_dir: Path = Path("var/bench")
    database_url: str | None = None
    # --zones (devtools/bench/zones.py): a running campaign over this many zones; and only
    # the heartbeat phase.
    zones: int = 0
    only_heartbeats: bool = False


class Worker:
    def __init__(self, argv: list[str], log: Path) -> None:
        self.log = log.open("ab")
        self.expect = 0  # tablets this worker holds
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True
        )

    def send(self, cmd: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"bench worker exited ({self.proc.wait()}); see {self.log.name}")
        result: dict[str, Any] = json.loads(line)
        return result

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send({"cmd": "quit"})
                self.proc.wait(20)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(5)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()
        self.log.close()


async def _register(url: str, cfg: BenchConfig) -> None:
    async with db.connect(url) as conn:
        await fleets.add_fleet(conn, fleets.FleetSpec("bench", alert_after_s=3600), "bench")
        await bench_seed.numbered_tablets(
            conn, "bench", PREFIX, cfg.tablets, cfg.heartbeat_interval_s, cfg.offline_after_s
        )


def _wait(probe: Any, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(interval)
    return False


def run_bench(cfg: BenchConfig, console: Console) -> dict[str, Any]:
    cfg.work_dir.mkdir(parents=True, exist_ok=True)
    logs = cfg.work_dir / "logs"
    logs.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report: dict[str, Any] = {
        "started_at": stamp,
        "config": {
            k: str(v) if isinstance(v, Path) else v
            for k, v in cfg.__dict__.items()
            if k != "database_url"
        },
        "machine": machine(),
    }
    if cfg.brokers not in (1, cfg.hub_shards):
        raise ValueError("--brokers must be 1 or equal to --hub-shards")
    server: EmbeddedPostgres | None = None
    brokers = [
        EmbeddedBroker(
            cfg.work_dir / f"broker-{b}",
            "127.0.0.1",
            free_port(),
            f"bench-hub-{stamp}",
            persistence=False,
            max_queued=1_000_000,
            shard_count=cfg.hub_shards,
        )
        for b in range(cfg.brokers)
    ]
    hubs: list[Child] = []
    workers: list[Worker] = []
    try:
        if cfg.database_url:
            url = cfg.database_url
        else:
            server = EmbeddedPostgres(cfg.work_dir / "pgdata", port=free_port())
            server.start(database="postgres")
            url = server.url(f"bench_{stamp.lower()}")
            asyncio.run(_create_database(server.url("postgres"), f"bench_{stamp.lower()}"))
        db.migrate(url)
        key = os.urandom(16)
        ids = [f"{PREFIX}{n:06d}" for n in range(cfg.tablets)]
        # A tablet connects to the broker of the hub shard that owns it.
        per_broker: list[list[str]] = [[] for _ in brokers]
        for tablet_id in ids:
            per_broker[owner(tablet_id, cfg.hub_shards) % cfg.brokers].append(tablet_id)
        with console.status("starting Mosquitto and registering tablets…"):
            for broker, mine in zip(brokers, per_broker, strict=True):
                # Into the dynsec file before start: at runtime each command rewrites it.
                asyncio.run(broker.set_credentials({i: password(key, i) for i in mine}))
                broker.start()
            asyncio.run(_register(url, cfg))
            if cfg.zones:
                from devtools.bench.zones import seed

                asyncio.run(seed(url, cfg.zones, cfg.work_dir))
        hub_env = {
            **os.environ,
            "FLEETHUB_DATABASE_URL": url,
            "FLEETHUB_SHARD_COUNT": str(cfg.hub_shards),
            "FLEETHUB_HUB_CLIENT_ID": f"bench-hub-{stamp}",
        }  # the brokers' accounts
        for shard in range(cfg.hub_shards):
            broker = brokers[shard % cfg.brokers]
            env = {
                **hub_env,
                "FLEETHUB_SHARD_INDEX": str(shard),
                "FLEETHUB_MQTT_URL": broker.hub_target().url(),
            }
            hubs.append(
                Child(
                    f"hub-{shard}",
                    [sys.executable, "-m", "cli.main", "run"],
                    logs / f"hub-{shard}.log",
                    env=env,
                )
            )
        time.sleep(3)  # let the shards subscribe before tablets connect
        slices = [
            (b, mine[i : i + PER_WORKER])
            for b, mine in enumerate(per_broker)
            for i in range(0, len(mine), PER_WORKER)
        ]
        with console.status(f"connecting {cfg.tablets} tablets from {len(slices)} processes…"):
            for w, (b, mine) in enumerate(slices):
                ids_file = cfg.work_dir / f"ids-{w}.txt"
                ids_file.write_text("\n".join(mine))
                argv = [
                    sys.executable,
                    "-m",
                    "devtools.bench.worker",
                    "--port",
                    str(brokers[b].port),
                    "--ids-file",
                    str(ids_file),
                    "--secret",
                    key.hex(),
                    "--first-source",
                    f"127.0.{w + 1}.2",
                    "--qos",
                    str(cfg.qos),
                    "--zones",
                    str(cfg.zones),
                ]
                workers.append(Worker(argv, logs / f"worker-{w}.log"))
                workers[-1].expect = len(mine)
            connected = [w.read() for w in workers]
        report["connect"] = {
            "tablets": sum(c["count"] for c in connected),
            "elapsed_s": max(c["elapsed_s"] for c in connected),
        }
        with StoreSession(url) as store:
            _wait(lambda: store.run(bench_probes.online_tablets) >= cfg.tablets, 60)
            report["heartbeats"] = _heartbeats(cfg, store, workers, hubs, console)
            if cfg.zones:
                report["zone_entries"] = report["heartbeats"].pop("zone_entries")
            if not cfg.only_heartbeats:
                report["offline_detection"] = _offline(cfg, store, report["heartbeats"], console)
                report["fanout"] = _fanout(cfg, url, workers, console)
                report["command"] = _command(cfg, url, store, console)
    finally:
        for worker in workers:
            worker.stop()
        for hub in hubs:
            hub.stop()
        for broker in brokers:
            broker.stop()
        if server is not None:
            server.stop()
    if cfg.resident_actors and not cfg.only_heartbeats:
        from devtools.bench.actors import resident_actors

        with console.status(f"creating {cfg.resident_actors} resident tablet actors…"):
            report["resident_actors"] = asyncio.run(resident_actors(cfg.resident_actors))
    return report


def _hub_target(broker: EmbeddedBroker) -> Any:
    return broker.hub_target()


def _heartbeats(
    cfg: BenchConfig,
    store: StoreSession,
    workers: list[Worker],
    hubs: list[Child],
    console: Console,
) -> dict[str, Any]:
    window = CpuWindow([h.pid for h in hubs])
    before = store.run(bench_probes.heartbeat_rows)
    t0 = datetime.now(UTC)
    window.start()
    with console.status(f"heartbeats: {cfg.rate:.0f}/s for {cfg.duration_s:.0f} s…"):
        for w in workers:
            w.send({"cmd": "blast", "rate": cfg.rate / len(workers), "duration": cfg.duration_s})
        deadline = time.monotonic() + cfg.duration_s
        while time.monotonic() < deadline:
            window.sample_rss()
            time.sleep(1)
        blasts = [w.read() for w in workers]
        cpu = window.cpu_percent()
        sent = sum(b["sent"] for b in blasts)
        _wait(lambda: store.run(bench_probes.heartbeat_rows) - before >= sent, 60)
    row = store.run(lambda conn: bench_probes.heartbeat_latency(conn, t0))
    count, p50, p99, worst, first, last = row
    span = (last - first).total_seconds() if first and last else 0.0
    return {
        "sent": sent,
        "send_failed": sum(b["failed"] for b in blasts),
        "committed": count,
        "offered_rate_per_s": round(sent / max(b["elapsed_s"] for b in blasts), 1),
        "committed_rate_per_s": round(count / span, 1) if span else None,
        "latency_s": {"p50": p50, "p99": p99, "max": worst},
        "hub_cpu_percent_of_one_core": round(cpu, 1),
        "hub_peak_rss_mib": round(window.peak_rss / 2**20, 1),
        "blast_end": datetime.now(UTC).isoformat(),
        "zone_entries": {
            "entries": sum(b.get("entries", 0) for b in blasts),
            "unanswered": sum(b.get("unanswered", 0) for b in blasts),
            "latency_s": summary([x for b in blasts for x in b.get("enter_latencies_s", [])]),
        },
    }


def _offline(
    cfg: BenchConfig,
    store: StoreSession,
    hb: dict[str, Any],
    console: Console,
) -> dict[str, Any]:
    since = datetime.fromisoformat(hb["blast_end"])
    with console.status("offline detection: every tablet falls silent…"):
        _wait(
            lambda: store.run(lambda conn: bench_probes.timeouts_after(conn, since)) >= cfg.tablets,
            cfg.offline_after_s + 60,
        )
    errors = store.run(lambda conn: bench_probes.detection_errors(conn, since))
    return {"timeouts_detected": len(errors), "error_s": summary(errors)}


async def _create_database(admin_url: str, name: str) -> None:
    async with db.connect(admin_url) as conn:
        await admin.create_database(conn, name)


async def _push(url: str) -> PushResult:
    async with db.connect(url) as conn:
        return await push(
            conn,
            Target("fleet", "bench"),
            demo_items(),
            emergency=True,
            expires_s=None,
            reason="bench fan-out",
            actor="bench",
            refresh_s=300,
        )


def _fanout(cfg: BenchConfig, url: str, workers: list[Worker], console: Console) -> dict[str, Any]:
    with console.status(f"playlist fan-out to {cfg.tablets} tablets…"):
        pushed_at = time.time()
        result = asyncio.run(_push(url))
        for w in workers:
            w.send({"cmd": "fanout", "etag": result.etag, "expect": w.expect, "timeout": 60})
        received = [t for w in workers for t in w.read()["received"]]
    latencies = [t - pushed_at for t in received]
    return {"targeted": result.targeted, "received": len(received), "latency_s": summary(latencies)}


async def _issue(url: str) -> Any:
    bench = User(0, "default", "bench", "bench", "admin", None)
    async with db.connect(url) as conn:
        issued = await commands.issue(
            conn, bench, "set_volume", {"level": 40}, fleet="bench", expires_s=600
        )
    return issued.command_id


def _command(cfg: BenchConfig, url: str, store: StoreSession, console: Console) -> dict[str, Any]:
    with console.status(f"a command to {cfg.tablets} tablets…"):
        started = time.monotonic()
        command_id = asyncio.run(_issue(url))

        def finished() -> bool:
            counts = store.run(lambda conn: commands.states(conn, command_id))
            return not counts.get("queued") and not counts.get("delivered")

        done = _wait(finished, 180, interval=0.5)
        all_stored_s = time.monotonic() - started
    row = store.run(lambda conn: bench_probes.command_latency(conn, command_id))
    total, succeeded, sent_p50, sent_p99, result_p50, result_p99, result_max = row
    return {
        "targets": total,
        "succeeded": succeeded,
        "issued_to_published_s": {"p50": sent_p50, "p99": sent_p99},
        "published_to_result_s": {"p50": result_p50, "p99": result_p99, "max": result_max},
        "all_results_stored_s": round(all_stored_s, 2) if done else None,
    }


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def write_report(report: dict[str, Any], out_dir: Path, out: IO[str]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"bench-{report['started_at']}.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return path
