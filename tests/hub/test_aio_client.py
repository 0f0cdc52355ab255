"""The guarded aiomqtt client (broker/aio_client.py): a publish queued just before the
connection drops must not register a writer on the closed socket. aiomqtt 2.5's own client
logged ``OSError: [Errno 9] Bad file descriptor`` from ``add_writer`` when the hub's publish
session was kicked mid-publish (a CI run of test_prometheus_e2e)."""

from __future__ import annotations

import asyncio
import logging

import aiomqtt
import pytest

from broker.aio_client import Client
from config.settings import MqttTarget


async def _publish_then_drop(client: aiomqtt.Client) -> None:
    paho = client._client
    paho.publish("aio-client/drop", b"x", qos=1)  # asks the loop for a writer, later
    paho._sock_close()  # the connection drops before the loop gets there
    await asyncio.sleep(0.1)


async def test_a_writer_asked_for_before_a_drop_is_not_registered(
    plain_broker: MqttTarget, caplog: pytest.LogCaptureFixture
) -> None:
    async with Client(plain_broker.host, plain_broker.port, identifier="guarded") as client:
        await _publish_then_drop(client)
    assert not [r for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.ERROR]


async def test_aiomqtts_own_client_registers_it(
    plain_broker: MqttTarget, caplog: pytest.LogCaptureFixture
) -> None:
    """The defect the guard is for, shown on the unguarded client (so that the test above
    would notice if the race could no longer happen this way)."""
    loop = asyncio.get_running_loop()
    errors: list[BaseException | None] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context.get("exception")))
    try:
        async with aiomqtt.Client(
            plain_broker.host, plain_broker.port, identifier="unguarded"
        ) as client:
            await _publish_then_drop(client)
    except aiomqtt.MqttError:
        pass
    finally:
        loop.set_exception_handler(None)
    assert any(isinstance(e, OSError) for e in errors), errors
