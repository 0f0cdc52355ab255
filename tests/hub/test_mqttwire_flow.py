"""The hub's MQTT client under its own flow control: while it pauses reading (its inbox is
full), the broker's PUBACKs wait unread behind the deliveries held back, so the
acknowledgement timeout counts only the time spent reading (issue 16: manifests' PUBACKs
queued behind a heartbeat backlog expired, and the link dropped on "acknowledgement for
unknown packet id")."""

from __future__ import annotations

import asyncio
import json

from broker.mqttwire.connection import MqttConnection
from broker.runner import EmbeddedBroker
from tests.conftest import TestFleetFactory

ACK_TIMEOUT_S = 0.5


async def test_a_puback_held_back_by_paused_reading_does_not_time_out(
    broker: EmbeddedBroker, fleet_factory: TestFleetFactory
) -> None:
    fleet = await fleet_factory(tablets=1)
    tid = fleet.tablet_ids[0]
    conn = MqttConnection(
        broker.host,
        broker.port,
        client_id=tid,
        username=tid,
        password=fleet.passwords[tid],
        connect_timeout=5,
        ack_timeout=ACK_TIMEOUT_S,
    )
    await conn.connect()
    try:
        conn.pause_reading()
        topic = f"tablets/{tid}/status"
        done = conn.publish_nowait(topic, json.dumps({"state": "online"}).encode(), qos=1)
        assert done is not None
        await asyncio.sleep(4 * ACK_TIMEOUT_S)  # the PUBACK has arrived, unread
        assert not done.done()
        conn.resume_reading()
        await asyncio.wait_for(done, 5)  # acknowledged, not timed out
        assert conn.connected
        # Reading again, the timeout counts as before: a second publish is acknowledged too.
        await conn.publish(topic, json.dumps({"state": "online"}).encode(), qos=1)
    finally:
        await conn.disconnect()
