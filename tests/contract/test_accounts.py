"""docs/mqtt-contract.md: a tablet's client id and user name are its ``tablet_id``; its
role confines it to ``tablets/{its id}/#``; revoking it disconnects it."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from broker.runner import EmbeddedBroker
from tests.conftest import RunningHub
from tests.contract.conftest import Tablets
from tests.helpers import eventually

# CONNACK return code 5 (MQTT 3.1.1) or reason code 0x87 (MQTT 5): paho names both so.
NOT_AUTHORISED = "Not authorized"


@pytest.mark.parametrize("mqtt5", [False, True], ids=["mqtt311", "mqtt5"])
async def test_a_tablet_must_connect_with_its_tablet_id_as_client_id(
    running_hub: RunningHub, tablets: Tablets, mqtt5: bool
) -> None:
    """Issue 17, defect 4: the account is bound to that client id."""
    fleet = await tablets.fleet(2)
    tid, other = fleet.tablet_ids
    holder = tablets.of(fleet, mqtt5=mqtt5)
    assert holder.connect(subscribe=()) == 0
    for client_id in (f"{tid}-2", other, "fleethub-hub-0", f"x-{uuid.uuid4().hex[:6]}"):
        stranger = tablets.of(fleet, client_id=client_id, mqtt5=mqtt5)
        assert str(stranger.connect(subscribe=())) == NOT_AUTHORISED, client_id
    if mqtt5:  # an empty client id, which the broker would assign
        empty = tablets.of(fleet, client_id="", mqtt5=True)
        assert str(empty.connect(subscribe=())) == NOT_AUTHORISED
    # The session holding the id was not touched: it still publishes and is not closed.
    assert holder.disconnected is None
    holder.heartbeat()


async def test_a_tablet_is_confined_to_its_own_topics(
    running_hub: RunningHub, tablets: Tablets
) -> None:
    fleet = await tablets.fleet(2)
    tablet, other = tablets.of(fleet, 0), tablets.of(fleet, 1)
    assert tablet.connect(subscribe=()) == 0
    assert other.connect(subscribe=()) == 0
    granted: list[list[object]] = []
    tablet.client.on_subscribe = lambda _c, _u, _m, codes, _p=None: granted.append(list(codes))
    tablet.client.subscribe(f"tablets/{other.tablet_id}/playlist", qos=1)
    tablet.client.subscribe(f"tablets/{tablet.tablet_id}/playlist", qos=1)
    await eventually(lambda: len(granted) == 2)
    assert [int(str(c[0].value if hasattr(c[0], "value") else c[0])) for c in granted] == [
        0x80,
        1,
    ]
    # A publish elsewhere is dropped: the other tablet (subscribed to its own) hears nothing.
    other.client.subscribe(other.topic("playlist/ack"), qos=1)
    await asyncio.sleep(0.2)
    tablet.client.publish(other.topic("playlist/ack"), b'{"etag":"e","status":"applied"}', 1)
    assert await other.quiet("playlist/ack", 1.0) == []


async def test_a_revoked_tablet_is_disconnected_and_refused(
    running_hub: RunningHub, tablets: Tablets, broker: EmbeddedBroker
) -> None:
    fleet = await tablets.fleet()
    tablet = tablets.of(fleet)
    assert tablet.connect(subscribe=()) == 0
    await broker.remove_credentials(tablet.tablet_id)
    await eventually(lambda: tablet.disconnected is not None)
    again = tablets.of(fleet)
    assert str(again.connect(subscribe=())) == NOT_AUTHORISED
