"""Publish throughput of the two MQTT clients the hub could use for fan-out.

``python -m devtools.bench.publish_clients [N]``: N retained QoS 1 manifests to N topics of a
fresh embedded Mosquitto, through aiomqtt (256 concurrent publishers) and through the
minimal client (``broker/mqttwire``, pipelined, at most the broker's receive maximum
unacknowledged, as the hub's tablet session). Loopback only.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from broker import aio_client
from broker.dynsec_file import hub_publish_client_id, hub_tablet_client_id
from broker.mqttwire.connection import MqttConnection
from broker.processes import free_port
from broker.runner import EmbeddedBroker
from contract.manifest import Manifest
from devtools.demo import demo_items


def _payload() -> bytes:
    items = tuple(i.model_dump() for i in demo_items())
    from datetime import UTC, datetime

    return Manifest("pl-bench", 1, "normal", datetime.now(UTC), None, 300, items).to_json().encode()


async def with_aiomqtt(broker: EmbeddedBroker, n: int, payload: bytes) -> float:
    out_id = hub_publish_client_id(broker.hub_client_id, 0)  # an account is bound to its id
    async with aio_client.Client(
        broker.host,
        broker.port,
        username=out_id,
        identifier=out_id,
        password=broker.hub_password(),
        max_inflight_messages=1000,
    ) as client:
        client.pending_calls_threshold = 1_000_000
        topics = [f"tablets/t{i}/playlist" for i in range(n)]

        async def worker() -> None:
            while topics:
                await client.publish(topics.pop(), payload, qos=1, retain=True)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(256)))
        return time.perf_counter() - started


async def with_mqttwire(broker: EmbeddedBroker, n: int, payload: bytes) -> float:
    wire_id = hub_tablet_client_id(broker.hub_client_id, 0)
    conn = MqttConnection(
        broker.host,
        broker.port,
        client_id=wire_id,
        username=wire_id,
        password=broker.hub_password(),
        ack_timeout=60,
    )
    await conn.connect()
    slots = asyncio.Semaphore(conn.receive_max)
    futures = []
    started = time.perf_counter()
    for i in range(n):
        await slots.acquire()
        future = conn.publish_nowait(f"tablets/t{i}/playlist", payload, qos=1, retain=True)
        assert future is not None
        future.add_done_callback(lambda _: slots.release())
        futures.append(future)
    await asyncio.gather(*futures)
    elapsed = time.perf_counter() - started
    await conn.disconnect()
    return elapsed


def main(n: int) -> None:
    payload = _payload()
    with tempfile.TemporaryDirectory() as tmp:
        broker = EmbeddedBroker(
            Path(tmp) / "broker",
            "127.0.0.1",
            free_port(),
            "hub",
            persistence=False,
            max_queued=1_000_000,
        )
        broker.start()
        try:
            for name, run in (("aiomqtt", with_aiomqtt), ("mqttwire", with_mqttwire)):
                elapsed = asyncio.run(run(broker, n, payload))
                print(
                    f"{name:9} {n} retained QoS 1 publishes in {elapsed:.2f} s"
                    f" = {n / elapsed:,.0f}/s ({len(payload)} B each)"
                )
        finally:
            broker.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 19_000)
