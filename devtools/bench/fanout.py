"""The fan-out leg of ``fleethub bench --compare``: an emergency push to every connected
simulated tablet, from just before the push's commit to each tablet's receipt of the new
manifest, measured twice on one fresh hub: with the hub otherwise idle, then while the
simulators blast heartbeats at the compared legs' offered rate (the push lands a third of
the way into the blast, so the hub is busy with heartbeats throughout).

First, its limit in the same run: no hub, one publisher on the hub's own MQTT client
(broker/mqttwire, the broker's receive maximum in flight) putting an emergency manifest on
every tablet's playlist topic, retained, QoS 1, as fast as the broker acknowledges: what the
broker and the simulated tablets (which validate and acknowledge every manifest, on the same
two cores) take to deliver 19,000 manifests, whoever sends them; once idle, once a third of
the way into a heartbeat blast that ``mosquitto_sub`` consumes (the compared legs' limit).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console

from broker.dynsec_file import hub_publish_client_id
from broker.mqttwire.connection import MqttConnection
from contract.manifest import Manifest, items_id, normalise
from contract.payloads import PlaylistItem
from devtools.bench.compare_legs import BrokerAccess
from devtools.bench.overload import bench_load
from devtools.bench.stats import CpuWindow, summary
from devtools.demo import demo_items
from store import db
from store.playlists import PushResult, Target, push

if TYPE_CHECKING:
    from devtools.bench.compare import Bench
    from devtools.bench.compare_legs import HubLeg

RECEIPT_TIMEOUT_S = 60
PROFILE_IDLE_S = 20  # the idle push's profile (its receipts took 10-11 s at load 9-12)


def run_fanout(bench: Bench, rate: float, console: Console) -> dict[str, Any]:
    with console.status(f"fan-out limit: one publisher to {bench.cfg.tablets} tablets, no hub…"):
        limit = _limit(bench, "limit", None)
    with console.status(f"fan-out limit under {rate:.0f}/s heartbeats to mosquitto_sub…"):
        limit_loaded = _limit(bench, "limit-loaded", rate)
    leg = bench.hub_leg()
    with console.status("fan-out: starting a fresh hub…"):
        leg.start()
    try:
        with console.status(f"fan-out to {bench.cfg.tablets} tablets, hub idle…"):
            idle = _profiled(bench, leg, "idle", PROFILE_IDLE_S, None)
        with console.status(f"fan-out to {bench.cfg.tablets} tablets under {rate:.0f}/s…"):
            loaded = _profiled(bench, leg, "loaded", bench.cfg.duration_s + PROFILE_IDLE_S, rate)
    finally:
        leg.stop()
    return {"limit": limit, "limit_under_load": limit_loaded, "idle": idle, "under_load": loaded}


def _limit(bench: Bench, label: str, rate: float | None) -> dict[str, Any]:
    """The broker alone: one manifest published to every tablet, receipts as the hub's. With
    ``rate``, a third of the way into a heartbeat blast that ``mosquitto_sub`` consumes (the
    compared legs' limit), as the hub's loaded push lands in one."""
    items = _items(label)
    manifest = Manifest(
        items_id(items),
        1,
        "emergency",
        datetime.now(UTC),
        None,
        300,
        tuple(i.model_dump() for i in normalise(items)),
    )
    load = bench_load()
    cpu = CpuWindow(bench.broker_pids())
    cpu.start()
    consumer = bench.leg("limit") if rate is not None else None
    if consumer is not None:
        consumer.start()
    try:
        _start_blast(bench, rate)
        client_id = hub_publish_client_id("bench-limit", 0)
        started = time.time()
        payload = manifest.to_json().encode()
        asyncio.run(_publish_alone(bench.access(), client_id, bench.tablet_ids, payload))
        published_s = time.time() - started
        blast = _blast_result(bench, rate)
        received = _receipts(bench, manifest.etag)
    finally:
        if consumer is not None:
            consumer.stop()
    return {
        "load_before": load,
        "etag": manifest.etag,
        "targeted": len(bench.tablet_ids),
        "received": len(received),
        "latency_s": summary([t - started for t in received]),
        "all_published_after_s": round(published_s, 3),
        "broker_cpu_percent_of_one_core": round(cpu.cpu_percent(), 1),
        **blast,
    }


async def _publish_alone(
    access: BrokerAccess, client_id: str, tablet_ids: list[str], payload: bytes
) -> None:
    """Every tablet's playlist, retained, QoS 1, the broker's receive maximum in flight."""
    conn = MqttConnection(
        access.host,
        access.port,
        client_id=client_id,
        username=client_id,
        password=access.password,
        clean_session=True,
        connect_timeout=30,
        ack_timeout=60,
    )
    await conn.connect()
    try:
        pending: deque[asyncio.Future[None]] = deque()
        for tablet_id in tablet_ids:
            while pending and (conn.in_flight >= conn.receive_max or not conn.writable):
                await pending.popleft()
            future = conn.publish_nowait(
                f"tablets/{tablet_id}/playlist", payload, qos=1, retain=True
            )
            if future is not None:
                pending.append(future)
        await asyncio.gather(*pending)
    finally:
        await conn.disconnect()


def _start_blast(bench: Bench, rate: float | None) -> None:
    """With ``rate``: every simulator blasts its share of it for the legs' duration; returns a
    third of the way in, where the push lands."""
    if rate is None:
        return
    duration = bench.cfg.duration_s
    for worker in bench.workers:
        worker.send({"cmd": "blast", "rate": rate / len(bench.workers), "duration": duration})
    time.sleep(duration / 3)


def _blast_result(bench: Bench, rate: float | None) -> dict[str, Any]:
    """What :func:`_start_blast` offered, once it ended (nothing without ``rate``)."""
    if rate is None:
        return {}
    results = [w.read() for w in bench.workers]
    sent, elapsed = sum(r["sent"] for r in results), max(r["elapsed_s"] for r in results)
    return {"heartbeats_offered_per_s": round(sent / elapsed, 1) if elapsed else None}


def _receipts(bench: Bench, etag: str) -> list[float]:
    """Each tablet's first receipt (wall clock) of the manifest ``etag``."""
    for worker in bench.workers:
        cmd = {"cmd": "fanout", "etag": etag, "expect": worker.expect}
        worker.send({**cmd, "timeout": RECEIPT_TIMEOUT_S})
    return [t for w in bench.workers for t in w.read()["received"]]


def _profiled(
    bench: Bench, leg: HubLeg, label: str, seconds: float, rate: float | None
) -> dict[str, Any]:
    """One push, with py-spy on the hub from just before it (``--profile``): a profile per
    push, ``profile-<stamp>-fanout-<label>.txt``."""
    spy = None
    if bench.cfg.profile:
        spy = leg.profile(seconds, bench.logs / f"profile-{bench.stamp}-fanout-{label}.txt")
    measured = _push_and_collect(bench, leg.pids(), rate, label)
    if spy is not None:
        spy.wait(seconds + 30)
    return measured


def _items(label: str) -> list[PlaylistItem]:
    """The demo playlist with its ad ids named by ``label``: each push its own etag."""
    return [i.model_copy(update={"ad_id": f"{i.ad_id}-{label}"}) for i in demo_items()]


async def _push(url: str, label: str) -> PushResult:
    """An emergency push to the bench's fleet; its items (hence its etag) named by ``label``,
    so each push is a new manifest every tablet must receive."""
    items = _items(label)
    async with db.connect(url) as conn:
        return await push(
            conn,
            Target("fleet", "bench"),
            items,
            emergency=True,
            expires_s=None,
            reason=f"bench fan-out ({label})",
            actor="bench",
            refresh_s=300,
        )


def _push_and_collect(
    bench: Bench, hub_pids: list[int], rate: float | None, label: str
) -> dict[str, Any]:
    load = bench_load()
    cpu = CpuWindow(hub_pids)
    cpu.start()
    _start_blast(bench, rate)
    pushed_at = time.time()
    result = asyncio.run(_push(bench.url, label))
    blast = _blast_result(bench, rate)
    received = _receipts(bench, result.etag)
    return {
        "load_before": load,
        "etag": result.etag,
        "targeted": result.targeted,
        "received": len(received),
        "latency_s": summary([t - pushed_at for t in received]),
        "hub_cpu_percent_of_one_core": round(cpu.cpu_percent(), 1),
        **blast,
    }
