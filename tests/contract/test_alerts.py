"""docs/mqtt-contract.md, "Alerts": ``fleets/{fleet_id}/alerts`` as a subscriber on paho
reads it (the hub's role may read it; fleet owners' apps are given such an account)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from broker.runner import EmbeddedBroker
from tests.conftest import RunningHub
from tests.contract.conftest import Conn, Tablets, rows
from tests.contract.tablet import ContractTablet
from tests.helpers import eventually, hub_role_account


def subscriber(broker: EmbeddedBroker, fleet_id: str) -> ContractTablet:
    """A paho client on ``fleets/{fleet_id}/alerts`` (reusing the contract tablet's inbox)."""
    account, password = hub_role_account(broker, f"alerts-{uuid.uuid4().hex[:8]}")
    client = ContractTablet(account, password, broker.host, broker.port)
    assert client.connect(subscribe=()) == 0
    client.client.subscribe(f"fleets/{fleet_id}/alerts", qos=1)
    return client


async def next_alert(listener: ContractTablet, fleet_id: str) -> dict[str, Any]:
    while True:
        msg = await listener.next_any(timeout=15)
        if msg.topic == f"fleets/{fleet_id}/alerts":
            assert msg.qos == 1
            assert not msg.retain
            body: dict[str, Any] = json.loads(msg.payload)
            return body


async def test_an_offline_incident_is_published_opened_then_resolved_once(
    running_hub: RunningHub, tablets: Tablets, broker: EmbeddedBroker, conn: Conn
) -> None:
    fleet = await tablets.fleet(alert_after_s=1)
    tid = fleet.tablet_ids[0]
    listener = subscriber(broker, fleet.fleet_id)
    try:
        tablet = tablets.of(fleet)
        assert tablet.connect(subscribe=()) == 0
        tablet.online()
        tablet.drop()  # the will: offline, and the incident opens after alert_after
        opened = await next_alert(listener, fleet.fleet_id)
        assert opened["v"] == 1
        assert (opened["event"], opened["kind"]) == ("opened", "offline")
        assert (opened["tablet_id"], opened["fleet_id"]) == (tid, fleet.fleet_id)
        assert opened["offline_since"] is not None
        assert {"incident_id", "opened_at", "at"} <= set(opened)
        back = tablets.of(fleet)
        assert back.connect(subscribe=()) == 0
        back.online()
        resolved = await next_alert(listener, fleet.fleet_id)
        assert (resolved["event"], resolved["incident_id"]) == ("resolved", opened["incident_id"])
        sql = "SELECT kind FROM notifications WHERE tablet_id = %s ORDER BY created_at"
        await eventually(lambda: len(rows(conn, sql, tid)) == 2)
        assert rows(conn, sql, tid) == [("incident.opened",), ("incident.resolved",)]
        assert await listener.quiet("never", 1.0) == []
        assert [m for m in listener.seen if m.topic.endswith("/alerts")] == []
    finally:
        listener.close()


async def test_flapping_opens_a_flapping_incident(
    running_hub: RunningHub, tablets: Tablets, broker: EmbeddedBroker
) -> None:
    fleet = await tablets.fleet(flap_limit=2, alert_after_s=3600)
    listener = subscriber(broker, fleet.fleet_id)
    try:
        for _ in range(2):  # online, offline, online, offline: 4 transitions > 2
            tablet = tablets.of(fleet)
            assert tablet.connect(subscribe=()) == 0
            tablet.online()
            tablet.drop()
        alert = await next_alert(listener, fleet.fleet_id)
        assert (alert["event"], alert["kind"]) == ("opened", "flapping")
    finally:
        listener.close()
