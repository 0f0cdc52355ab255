"""A proof-of-play publisher process: tablets of one slice, driven by JSON lines on stdin.

Started by :mod:`devtools.bench.plays`. Each tablet is one ``broker/mqttwire`` connection
(client id and user name = tablet id) subscribed to its ``tablets/{id}/plays/ack``.
Commands: ``{"cmd": "plays", "rate": R, "duration": D, "min": 10, "max": 50,
"ack_timeout": T}`` — publish QoS 1 batches of ``min..max`` new events
round-robin over the tablets, ``R`` events/s in total for ``D`` seconds, then wait
(at most ``T`` s) for every batch's ack — and ``{"cmd": "quit"}``. Answers each
command with one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from broker.mqttwire.codec import Publish
from broker.mqttwire.connection import MqttConnection
from broker.mqttwire.errors import MqttWireError
from devtools import demo
from devtools.bench.worker import say, stdin_lines
from devtools.simulator import ensure_fd_limit
from devtools.simulator.addresses import loopback_host

TICK_S = 0.005
RESULTS = ("completed", "completed", "completed", "skipped", "interrupted", "error")


@dataclass
class Tally:
    """What the acks said, and when each batch's ack arrived."""

    pending: dict[str, tuple[float, int]] = field(default_factory=dict)  # batch_id → (t, events)
    ack_latency_s: list[float] = field(default_factory=list)
    acked_batches: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    batch_errors: int = 0
    unexpected_acks: int = 0
    puback_failures: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    finished_sending: bool = False

    def on_ack(self, message: Publish) -> None:
        arrived = time.monotonic()
        try:
            body = json.loads(message.payload)
            sent = self.pending.pop(body.get("batch_id"), None)
        except (ValueError, TypeError, AttributeError):
            sent = None
        if sent is None:
            self.unexpected_acks += 1
            return
        self.ack_latency_s.append(arrived - sent[0])
        self.acked_batches += 1
        self.accepted += int(body.get("accepted", 0))
        self.duplicate += int(body.get("duplicate", 0))
        self.rejected += int(body.get("rejected", 0))
        if body.get("error"):
            self.batch_errors += 1
        if self.finished_sending and not self.pending:
            self.done.set()

    def on_puback(self, future: asyncio.Future[None]) -> None:
        if future.cancelled() or future.exception() is not None:
            self.puback_failures += 1


def event(rng: random.Random, now: datetime) -> dict[str, Any]:
    """One valid play that started within the last ten minutes."""
    ad = rng.randrange(40)
    return {
        "event_id": str(uuid.uuid4()),
        "ad_id": f"ad-{ad}",
        "campaign_id": f"camp-{ad % 8}",
        "playlist_id": "pl-bench",
        "playlist_etag": "0de49d2fcd2b04d3bc21277eccd2b4e0",
        "started_at": (now - timedelta(seconds=rng.uniform(1, 600))).isoformat(
            timespec="milliseconds"
        ),
        "duration_ms": rng.randrange(5_000, 30_001),
        "result": rng.choice(RESULTS),
        "lat": round(52.52 + rng.uniform(-0.1, 0.1), 5),
        "lon": round(13.405 + rng.uniform(-0.1, 0.1), 5),
    }


async def connect_all(
    ids: list[str], args: argparse.Namespace, tally: Tally
) -> dict[str, MqttConnection]:
    key = bytes.fromhex(args.secret) if args.secret else b""
    host, source = loopback_host(args.host), loopback_host(args.first_source)
    slots = asyncio.Semaphore(128)
    conns: dict[str, MqttConnection] = {}

    async def one(tablet_id: str) -> None:
        async with slots:
            conn = MqttConnection(
                host,
                args.port,
                client_id=tablet_id,
                username=tablet_id,
                password=demo.password(key, tablet_id),
                keepalive=300,
                source_ip=source,
                on_message=tally.on_ack,
                ack_timeout=60.0,
            )
            await conn.connect()
            await conn.subscribe([(f"tablets/{tablet_id}/plays/ack", 1)])
            conns[tablet_id] = conn

    async with asyncio.TaskGroup() as group:
        for tablet_id in ids:
            group.create_task(one(tablet_id), name="bench.plays.connect")
    return conns


async def publish_plays(
    conns: dict[str, MqttConnection], cmd: dict[str, Any], tally: Tally, rng: random.Random
) -> dict[str, Any]:
    rate, duration = float(cmd["rate"]), float(cmd["duration"])
    smallest, largest = int(cmd.get("min", 10)), int(cmd.get("max", 50))
    tablets = list(conns.items())
    total = round(rate * duration)
    loop = asyncio.get_running_loop()
    start = loop.time()
    events = batches = failed = cursor = 0
    tally.finished_sending = False
    tally.done.clear()
    while events < total:
        elapsed = loop.time() - start
        due = total if elapsed >= duration else min(total, int(elapsed * rate))
        now = datetime.now(UTC)
        while events < due:
            tablet_id, conn = tablets[cursor]
            cursor = (cursor + 1) % len(tablets)
            size = min(rng.randint(smallest, largest), max(total - events, 1))
            batch_id = f"{tablet_id}-{batches}"
            payload = json.dumps(
                {"batch_id": batch_id, "events": [event(rng, now) for _ in range(size)]},
                separators=(",", ":"),
            ).encode()
            try:
                done = conn.publish_nowait(f"tablets/{tablet_id}/plays", payload, qos=1)
            except MqttWireError:
                failed += size
                events += size
                continue
            tally.pending[batch_id] = (time.monotonic(), size)
            assert done is not None
            done.add_done_callback(tally.on_puback)
            events += size
            batches += 1
        if events < total:
            await asyncio.sleep(min(TICK_S, max(0.0, start + duration - loop.time())))
    elapsed_s = loop.time() - start
    tally.finished_sending = True
    if tally.pending:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tally.done.wait(), float(cmd.get("ack_timeout", 60)))
    return {
        "event": "plays",
        "events_sent": events - failed,
        "events_failed": failed,
        "batches_sent": batches,
        "elapsed_s": elapsed_s,
        "batches_acked": tally.acked_batches,
        "batches_unacked": len(tally.pending),
        "accepted": tally.accepted,
        "duplicate": tally.duplicate,
        "rejected": tally.rejected,
        "batch_errors": tally.batch_errors,
        "unexpected_acks": tally.unexpected_acks,
        "puback_failures": tally.puback_failures,
        "ack_latency_s": tally.ack_latency_s,
    }


async def main(args: argparse.Namespace, ids: list[str]) -> None:
    ensure_fd_limit(len(ids))
    tally = Tally()
    rng = random.Random(args.seed)  # noqa: S311 - simulation, not security
    started = time.monotonic()
    reader = await stdin_lines()
    async with asyncio.timeout(args.max_lifetime):
        conns = await asyncio.wait_for(connect_all(ids, args, tally), args.connect_timeout)
        try:
            say(
                {"event": "connected", "count": len(conns), "elapsed_s": time.monotonic() - started}
            )
            while line := await reader.readline():
                cmd = json.loads(line)
                if cmd["cmd"] == "plays":
                    say(await publish_plays(conns, cmd, tally, rng))
                elif cmd["cmd"] == "quit":
                    break
        finally:
            for conn in conns.values():
                conn.disconnect_nowait()
            closing = [c.closed_future() for c in conns.values()]
            if closing:
                await asyncio.wait(closing, timeout=5)


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m devtools.bench.plays_worker")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ids-file", required=True, help="Tablet ids, whitespace-separated.")
    p.add_argument("--secret", default="")
    p.add_argument("--first-source", default="127.0.0.2")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--connect-timeout", type=float, default=120.0)
    p.add_argument("--max-lifetime", type=float, default=900.0)
    return p.parse_args(argv)


if __name__ == "__main__":
    arguments = parse(sys.argv[1:])
    asyncio.run(main(arguments, Path(arguments.ids_file).read_text().split()))
