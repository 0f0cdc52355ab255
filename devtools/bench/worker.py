"""A benchmark simulator process: tablets of one slice, driven by JSON lines on stdin.

Started by :mod:`devtools.bench.run`; answers each command with one JSON line on stdout.
Commands: ``{"cmd": "blast", "rate": R, "duration": D}`` (with ``--zones N``: also the
entries into devtools/bench/zones.py's grid and their manifests' latency),
``{"cmd": "fanout", "expect": N, "timeout": T}``, ``{"cmd": "stats"}`` (the fleet's counters)
and ``{"cmd": "quit"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from devtools import demo
from devtools.bench.zones import ZoneWatch, index
from devtools.simulator import Manifest, SimFleet, TabletConfig, ensure_fd_limit

ZONE_SETTLE_S = 3.0


def say(event: dict[str, Any]) -> None:
    """One JSON event line to the parent."""
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


async def stdin_lines() -> asyncio.StreamReader:
    """The parent's commands, one JSON line each, read without blocking the loop."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def main(args: argparse.Namespace, ids: list[str]) -> None:
    key = bytes.fromhex(args.secret) if args.secret else b""
    # Every manifest's first receipt per tablet, by etag, from the start: the push may
    # reach tablets before the "fanout" command reaches this process.
    receipts: dict[str, dict[str, float]] = {}
    wanted: dict[str, Any] = {"etag": "", "expect": 0}
    enough = asyncio.Event()

    watch = ZoneWatch(index(args.zones)) if args.zones else None
    # Following a tablet's fixes costs this process CPU on the hub's cores: a sample will do.
    followed = set(ids[:: args.follow_every])

    def on_playlist(tablet_id: str, manifest: Manifest, received: float) -> None:
        # Wall-clock time of arrival (the hook runs after the manifest was validated).
        arrived = time.time() - (time.monotonic() - received)
        if watch is not None and tablet_id in followed:
            watch.manifest(tablet_id, {i.campaign_id for i in manifest.items}, arrived)
        seen = receipts.setdefault(manifest.etag, {})
        if tablet_id not in seen:
            seen[tablet_id] = arrived
            if manifest.etag == wanted["etag"] and len(seen) >= wanted["expect"]:
                enough.set()

    def on_sent(tablet_id: str, seq: int, sent: float) -> None:
        if watch is not None and tablet_id in followed:
            lat, lon = fleet.tablet(tablet_id).position
            watch.fix(tablet_id, lat, lon, time.time() - (time.monotonic() - sent))

    ensure_fd_limit(len(ids))
    fleet = SimFleet(
        [(i, demo.password(key, i)) for i in ids],
        host=args.host,
        port=args.port,
        first_source=args.first_source,
        tablet_config=TabletConfig(
            heartbeat_interval_s=None, heartbeat_qos=args.qos, keepalive_s=300
        ),
        on_playlist=on_playlist,
        connect_rate_per_s=args.connect_rate,
        max_lifetime_s=args.max_lifetime,
    )
    reader = await stdin_lines()
    async with fleet.running():
        elapsed = await asyncio.wait_for(fleet.wait_connected(), args.connect_timeout)
        say({"event": "connected", "count": len(fleet), "elapsed_s": elapsed})
        while line := await reader.readline():
            cmd = json.loads(line)
            if cmd["cmd"] == "blast":
                result = await fleet.blast(cmd["rate"], cmd["duration"], on_sent)
                zones: dict[str, Any] = {}
                if watch is not None:  # the last entries' manifests may still be on their way
                    await asyncio.sleep(ZONE_SETTLE_S)
                    zones = {
                        "entries": watch.entries,
                        "unanswered": len(watch.entered),
                        "enter_latencies_s": watch.latencies,
                    }
                say(
                    {
                        "event": "blast",
                        "sent": result.sent,
                        "failed": result.failed,
                        "elapsed_s": result.elapsed_s,
                        **zones,
                    }
                )
            elif cmd["cmd"] == "fanout":
                wanted.update(etag=cmd["etag"], expect=cmd["expect"])
                enough.clear()  # set by the previous push's receipts
                if len(receipts.get(cmd["etag"], {})) >= cmd["expect"]:
                    enough.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(enough.wait(), cmd["timeout"])
                got = receipts.get(cmd["etag"], {})
                say({"event": "fanout", "received": list(got.values())})
            elif cmd["cmd"] == "stats":
                say({"event": "stats", **fleet.stats.snapshot()})
            elif cmd["cmd"] == "quit":
                break
        say({"event": "stats", **fleet.stats.snapshot()})


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m devtools.bench.worker")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ids-file", required=True, help="Tablet ids, whitespace-separated.")
    p.add_argument("--secret", default="")
    p.add_argument("--first-source", default="127.0.0.2")
    p.add_argument("--qos", type=int, default=1)
    p.add_argument("--zones", type=int, default=0, help="Follow entries into this grid.")
    p.add_argument("--follow-every", type=int, default=10, help="--zones: every Nth tablet.")
    p.add_argument("--connect-rate", type=float, default=3000.0)
    p.add_argument("--connect-timeout", type=float, default=120.0)
    p.add_argument("--max-lifetime", type=float, default=900.0)
    return p.parse_args(argv)


if __name__ == "__main__":
    arguments = parse(sys.argv[1:])
    asyncio.run(main(arguments, Path(arguments.ids_file).read_text().split()))
