"""fleethub's own MQTT links over TLS (``mqtts://``): the hub's tablet session (mqttwire),
its alert session and the panel's session (aiomqtt), and dynamic security — against the
suite's Mosquitto's TLS listener, whose certificate comes from a CA of the tests' own."""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any

import psycopg
import pytest

from broker import dynsec
from broker.mqttwire.connection import MqttConnection
from broker.mqttwire.errors import ConnectFailed, MqttWireError
from broker.runner import EmbeddedBroker
from config.errors import BrokerError
from config.settings import Settings
from contract.payloads import PlaylistItem
from store.playlists import Target, push
from tests.conftest import RunningHub, TestCA, TestFleetFactory
from tests.helpers import Conn as AsyncConn
from tests.helpers import PahoTablet, eventually, hub_role_account, state_of
from web.live.broker_link import BrokerLink

Conn = psycopg.Connection[tuple[Any, ...]]

ITEM = PlaylistItem(
    ad_id="ad-tls",
    campaign_id="c-tls",
    url="https://cdn.example/ad-tls.mp4",
    sha256="c" * 64,
    duration_ms=15000,
)


def tls_port(broker: EmbeddedBroker) -> int:
    assert broker.tls is not None
    return broker.tls.port


def trusting(test_ca: TestCA) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(test_ca.ca_file))


async def test_the_hub_runs_over_mqtts(
    settings: Settings,
    database_url: str,
    broker: EmbeddedBroker,
    test_ca: TestCA,
    fleet_factory: TestFleetFactory,
    conn: Conn,
    aconn: AsyncConn,
) -> None:
    """Tablet session, alert session and the tablets themselves on the TLS listener only:
    heartbeats reach the store, a pushed manifest reaches the tablet and its ack comes back."""
    target = broker.tls_target(test_ca.ca_file)
    hub = RunningHub(settings, database_url, target)
    await hub.start()  # ready: the tablet session and the alert session are both up
    try:
        fleet = await fleet_factory(tablets=1, heartbeat_s=30, offline_after_s=90)
        tid = fleet.tablet_ids[0]
        tablet = PahoTablet(
            tid, fleet.passwords[tid], broker.host, tls_port(broker), tls=trusting(test_ca)
        ).connect()
        try:
            tablet.heartbeat(battery=51)
            await eventually(lambda: state_of(conn, tid) == "online")
            stored = conn.execute(
                "SELECT battery FROM heartbeats WHERE tablet_id = %s", (tid,)
            ).fetchall()
            assert stored == [(51,)]

            result = await push(
                aconn,
                Target("tablet", tid),
                [ITEM],
                emergency=False,
                expires_s=None,
                reason="tls",
                actor="test",
                refresh_s=300,
            )
            # Every tablet has a manifest: pl-none first (nothing was assigned), then the push.
            seen: list[str] = []
            async with asyncio.timeout(10):
                while result.etag not in seen:
                    seen.extend(
                        json.loads(m.payload)["etag"]
                        for m in await tablet.messages(timeout=1)
                        if m.topic.endswith("/playlist") and m.payload
                    )
            assert seen[-1] == result.etag
            await eventually(
                lambda: (
                    conn.execute(
                        "SELECT status FROM deliveries WHERE tablet_id = %s AND etag = %s",
                        (tid, result.etag),
                    ).fetchone()
                    == ("applied",)
                )
            )
        finally:
            tablet.close()
    finally:
        await hub.stop()


async def test_plain_mqtt_is_refused_on_the_tls_listener(
    broker: EmbeddedBroker, fleet_factory: TestFleetFactory
) -> None:
    fleet = await fleet_factory(tablets=1)
    tid = fleet.tablet_ids[0]
    conn = MqttConnection(
        broker.host,
        tls_port(broker),
        client_id=tid,
        username=tid,
        password=fleet.passwords[tid],
        connect_timeout=5,
    )
    with pytest.raises(MqttWireError):  # the broker closes it during the TLS handshake
        await conn.connect()


async def test_a_certificate_for_another_name_is_refused(
    broker: EmbeddedBroker, test_ca: TestCA
) -> None:
    """A trusted certificate that names another host is refused, and so is a certificate
    from a CA the client does not trust: by the hub's client and the aiomqtt ones alike."""
    elsewhere = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # a server that is not the broker
    test_ca.ca.issue_cert("broker.elsewhere.example").configure_cert(elsewhere)
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0, ssl=elsewhere)
    port = server.sockets[0].getsockname()[1]
    target = broker.tls_target(test_ca.ca_file)
    context = target.ssl_context()
    assert context is not None
    wrong_name = MqttConnection("127.0.0.1", port, client_id="hub", connect_timeout=5, tls=context)
    try:
        with pytest.raises(ConnectFailed, match="certificate"):
            await wrong_name.connect()
    finally:
        server.close()
        await server.wait_closed()

    untrusted = broker.provision_target().model_copy(
        update={"port": target.port, "tls": True, "ca_file": None}  # the system's CAs
    )
    with pytest.raises(BrokerError, match="certificate"):
        await dynsec.provision_tablets(untrusted, {"tls-nobody": "pw"}, timeout=5)


async def test_provisioning_and_the_panel_session_over_mqtts(
    broker: EmbeddedBroker, settings: Settings, test_ca: TestCA
) -> None:
    """dynsec over TLS adds a tablet, which then logs in over TLS; the panel's session
    publishes an HTTP tablet's heartbeat over TLS, and the hub's role receives it."""
    tls = {"port": tls_port(broker), "tls": True, "ca_file": test_ca.ca_file}
    provision = broker.provision_target().model_copy(update=tls)
    tablet_id = "tls-tablet-1"
    await dynsec.provision_tablets(provision, {tablet_id: "tls-pw-1"})
    tablet = PahoTablet(
        tablet_id, "tls-pw-1", broker.host, tls_port(broker), tls=trusting(test_ca)
    ).connect(online=False)

    username, password = hub_role_account(broker)
    watcher = PahoTablet(
        username,
        password,
        broker.host,
        tls_port(broker),
        tls=trusting(test_ca),
    ).connect(subscribe=False, online=False)
    watcher.client.subscribe(f"tablets/{tablet_id}/heartbeat", qos=1)

    session = broker.hub_target().model_copy(update={"username": settings.web_client_id, **tls})
    link = BrokerLink(session, provision)
    task = asyncio.create_task(link.run(), name="test.panel.broker")
    try:
        await asyncio.wait_for(link.connected.wait(), 10)
        await link.publish(f"tablets/{tablet_id}/heartbeat", b'{"via": "panel"}')
        got = await watcher.messages()
        assert [(m.topic, m.payload) for m in got] == [
            (f"tablets/{tablet_id}/heartbeat", b'{"via": "panel"}')
        ]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        watcher.close()
        tablet.close()
        await dynsec.revoke_tablet(provision, tablet_id)
