"""The proof-of-play benchmark: batches of plays → Mosquitto → hub → PostgreSQL → plays/ack.

A fresh embedded PostgreSQL (or ``FLEETHUB_DATABASE_URL``), one embedded Mosquitto,
one hub process (``fleethub run``) and publisher processes
(:mod:`devtools.bench.plays_worker`) on loopback. ``tablets`` tablets are registered;
each publishes QoS 1 batches of 10–50 new events (uuid4 ids) on
``tablets/{id}/plays``, ``rate`` events/s in aggregate for ``duration_s``, and
waits for each batch's ``plays/ack``. Figures:

- committed: rows in ``plays`` (a fresh database holds nothing else); sustained
  rate = committed rows / (last commit − first receipt);
- receipt → committed per event, two ways: ``stored_at − received_at`` as the
  schema records it (``stored_at`` defaults to ``now()``, the *start* of the
  writing transaction, so it leaves out the statement and the commit), and
  ``commit time − received_at`` with the transaction's real commit time
  (``pg_xact_commit_timestamp``; the embedded server runs with
  ``track_commit_timestamp = on``);
- publish → ack per batch, measured by the publishers (ack sent after commit);
- accepted / duplicate / rejected from the acks; hub CPU % and peak RSS.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from broker.processes import Child, free_port
from broker.runner import EmbeddedBroker
from devtools.bench.run import Worker, machine
from devtools.bench.stats import CpuWindow, summary
from devtools.bench.store_session import StoreSession
from devtools.demo import password
from devtools.embedded_db import EmbeddedPostgres
from store import admin, bench_probes, bench_seed, db, fleets

PREFIX = "bplay-"


@dataclass(frozen=True)
class PlaysBenchConfig:
    tablets: int = 2_000
    rate: float = 5_000.0  # events per second, in total
    duration_s: float = 30.0
    batch_min: int = 10
    batch_max: int = 50
    per_publisher: int = 1_000  # tablets per publisher process
    ack_timeout_s: float = 60.0
    work_dir: Path = Path("var/bench")
    database_url: str | None = None
    hub_profile: Path | None = None  # run the hub under cProfile, stats written here


async def _register(url: str, tablets: int) -> None:
    async with db.connect(url) as conn:
        spec = fleets.FleetSpec("bench-plays", alert_after_s=3600, name="bench plays")
        await fleets.add_fleet(conn, spec, "bench")
        await bench_seed.numbered_tablets(conn, "bench-plays", PREFIX, tablets, 60, 180)


def _database(cfg: PlaysBenchConfig, stamp: str) -> tuple[str, EmbeddedPostgres | None, bool]:
    """The database URL, the server we started (if any), and whether commit times are kept."""
    if cfg.database_url:
        return cfg.database_url, None, asyncio.run(_commit_timestamps(cfg.database_url))
    # Its own data directory: the setting below must not follow the other benchmarks.
    server = EmbeddedPostgres(cfg.work_dir / "pgdata-plays", port=free_port())
    admin_url = server.start(database="postgres")
    if not asyncio.run(_commit_timestamps(admin_url, keep=True)):  # a restart applies it
        server.stop()
        server.start(database="postgres")
    name = f"bench_plays_{stamp.lower()}"
    asyncio.run(_create_database(admin_url, name))
    return server.url(name), server, True


async def _commit_timestamps(url: str, keep: bool = False) -> bool:
    """Whether the server keeps commit times; with ``keep``, have it keep them from its restart."""
    async with db.connect(url) as conn:
        kept = await admin.commit_timestamps_kept(conn)
        if keep and not kept:
            await admin.keep_commit_timestamps(conn)
    return kept


async def _create_database(admin_url: str, name: str) -> None:
    async with db.connect(admin_url) as conn:
        await admin.create_database(conn, name)


def run_plays_bench(cfg: PlaysBenchConfig, console: Console) -> dict[str, Any]:
    if not 1 <= cfg.batch_min <= cfg.batch_max <= 500:
        raise ValueError("batch sizes must satisfy 1 <= min <= max <= 500")
    cfg.work_dir.mkdir(parents=True, exist_ok=True)
    logs = cfg.work_dir / "logs"
    logs.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report: dict[str, Any] = {
        "started_at": f"plays-{stamp}",
        "config": {
            k: str(v) if isinstance(v, Path) else v
            for k, v in cfg.__dict__.items()
            if k != "database_url"
        },
        "machine": machine(),
    }
    server: EmbeddedPostgres | None = None
    broker = EmbeddedBroker(
        cfg.work_dir / "broker-plays",
        "127.0.0.1",
        free_port(),
        f"bench-plays-hub-{stamp}",
        persistence=False,
        max_queued=1_000_000,
    )
    hub: Child | None = None
    workers: list[Worker] = []
    try:
        with console.status("starting PostgreSQL and Mosquitto, registering tablets…"):
            url, server, commit_times = _database(cfg, stamp)
            db.migrate(url)
            key = os.urandom(16)
            ids = [f"{PREFIX}{n:06d}" for n in range(cfg.tablets)]
            # Into the dynsec file before start: at runtime each command rewrites it.
            asyncio.run(broker.set_credentials({i: password(key, i) for i in ids}))
            broker.start()
            asyncio.run(_register(url, cfg.tablets))
        env = {
            **os.environ,
            "FLEETHUB_DATABASE_URL": url,
            "FLEETHUB_SHARD_COUNT": "1",
            "FLEETHUB_SHARD_INDEX": "0",
            "FLEETHUB_MQTT_URL": broker.hub_target().url(),
            "FLEETHUB_HUB_CLIENT_ID": broker.hub_client_id,
            "FLEETHUB_METRICS_INTERVAL_S": "1",
        }
        argv = [sys.executable, "-m", "cli.main", "run"]
        if cfg.hub_profile is not None:
            argv[1:1] = ["-m", "cProfile", "-o", str(cfg.hub_profile.resolve())]
        hub = Child("hub", argv, logs / "hub-plays.log", env=env)
        time.sleep(3)  # let the hub subscribe before tablets publish
        publishers = max(1, math.ceil(cfg.tablets / cfg.per_publisher))
        with console.status(f"connecting {cfg.tablets} tablets from {publishers} processes…"):
            for w in range(publishers):
                mine = ids[w::publishers]
                ids_file = cfg.work_dir / f"plays-ids-{w}.txt"
                ids_file.write_text("\n".join(mine))
                worker_argv = [
                    sys.executable,
                    "-m",
                    "devtools.bench.plays_worker",
                    "--port",
                    str(broker.port),
                    "--ids-file",
                    str(ids_file),
                    "--secret",
                    key.hex(),
                    "--first-source",
                    f"127.0.{w + 1}.3",
                ]
                workers.append(Worker(worker_argv, logs / f"plays-worker-{w}.log"))
            connected = [w.read() for w in workers]
        report["connect"] = {
            "tablets": sum(c["count"] for c in connected),
            "elapsed_s": max(c["elapsed_s"] for c in connected),
        }
        with StoreSession(url) as store:
            report["plays"] = _plays(cfg, store, workers, hub, commit_times, console)
            time.sleep(1.5)  # the hub stores its counters every second
            report["hub_counters"] = _counters(store)
    finally:
        for worker in workers:
            worker.stop()
        if hub is not None:
            hub.stop(signal.SIGINT, timeout=30)  # SIGINT: a clean exit writes the profile
        broker.stop()
        if server is not None:
            server.stop()
    return report


def _plays(
    cfg: PlaysBenchConfig,
    store: StoreSession,
    workers: list[Worker],
    hub: Child,
    commit_times: bool,
    console: Console,
) -> dict[str, Any]:
    window = CpuWindow([hub.pid])
    since = datetime.now(UTC)
    window.start()
    with console.status(f"plays: {cfg.rate:.0f} events/s for {cfg.duration_s:.0f} s…"):
        for w in workers:
            w.send(
                {
                    "cmd": "plays",
                    "rate": cfg.rate / len(workers),
                    "duration": cfg.duration_s,
                    "min": cfg.batch_min,
                    "max": cfg.batch_max,
                    "ack_timeout": cfg.ack_timeout_s,
                }
            )
        deadline = time.monotonic() + cfg.duration_s
        while time.monotonic() < deadline:
            window.sample_rss()
            time.sleep(1)
        cpu = window.cpu_percent()  # over the publishing window
        results = [w.read() for w in workers]
    window.sample_rss()
    sent = sum(r["events_sent"] for r in results)
    row = store.run(lambda conn: bench_probes.play_latency(conn, commit_times, since))
    (count, distinct, s50, s99, smax, c50, c99, cmax, first_received, last_commit) = row
    span = (last_commit - first_received).total_seconds() if count else 0.0
    acks = [x for r in results for x in r["ack_latency_s"]]
    source = "pg_xact_commit_timestamp" if commit_times else "stored_at (transaction start)"
    return {
        "events_offered": round(cfg.rate * cfg.duration_s),
        "events_sent": sent,
        "events_failed": sum(r["events_failed"] for r in results),
        "batches_sent": sum(r["batches_sent"] for r in results),
        "offered_rate_per_s": round(sent / max(r["elapsed_s"] for r in results), 1),
        "committed": count,
        "duplicate_rows": count - distinct,
        "committed_rate_per_s": round(count / span, 1) if span > 0 else None,
        "commit_span_s": round(span, 2),
        "latency_received_to_stored_at_s": {"p50": s50, "p99": s99, "max": smax},
        "latency_received_to_committed_s": {"p50": c50, "p99": c99, "max": cmax},
        "commit_time_source": source,
        "batches_acked": sum(r["batches_acked"] for r in results),
        "batches_unacked": sum(r["batches_unacked"] for r in results),
        "acked_accepted": sum(r["accepted"] for r in results),
        "acked_duplicate": sum(r["duplicate"] for r in results),
        "acked_rejected": sum(r["rejected"] for r in results),
        "batch_errors": sum(r["batch_errors"] for r in results),
        "puback_failures": sum(r["puback_failures"] for r in results),
        "publish_to_ack_s": summary(acks),
        "hub_cpu_percent_of_one_core": round(cpu, 1),
        "hub_peak_rss_mib": round(window.peak_rss / 2**20, 1),
    }


def _counters(store: StoreSession) -> dict[str, Any]:
    counters = store.run(bench_probes.latest_hub_counters)
    keep = ("received", "rejected", "dropped", "write_errors", "db_outages")
    return {k: v for k, v in counters.items() if k.startswith("plays_") or k in keep}
