"""Pairing: claim codes → tablet identity, device token and broker credentials; revocation.

Everything real: the panel app on the real store, the session's Mosquitto with its
dynamic-security plugin, paho-mqtt clients as the paired tablets, and (for the HTTP
heartbeat) a running hub with its actors.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from broker.runner import EmbeddedBroker
from store import claims
from store.users import add_user
from tests.conftest import RunningHub
from tests.helpers import Conn as AsyncConn
from tests.helpers import PahoTablet, eventually, hub_role_account, state_of
from tests.web.conftest import PASSWORD, Conn, TenantFactory, api_token, sign_in
from web.pairing.codes import pairing_payload, qr_data_uri

CLAIM = "/v1/device/pairing/claim"


def new_code(panel: TestClient, headers: dict[str, str], fleet_id: str, **body: Any) -> str:
    response = panel.post(f"/api/v1/fleets/{fleet_id}/claim-codes", json=body, headers=headers)
    assert response.status_code == 201, response.text
    code = response.json()["claim_code"]
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", code)
    return str(code)


def claim(panel: TestClient, code: str, **info: Any) -> Any:
    return panel.post(CLAIM, json={"claim_code": code, "device_info": info})


def tablet_from(claimed: dict[str, Any]) -> PahoTablet:
    mqtt_creds = claimed["mqtt"]
    host, port = mqtt_creds["url"].removeprefix("mqtt://").split(":")
    return PahoTablet(
        claimed["tablet_id"],
        mqtt_creds["password"],
        host,
        int(port),
        username=mqtt_creds["username"],
    )


def device(claimed: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {claimed['device_token']}"}


def test_a_claim_code_exchanges_for_a_working_token_and_broker_credentials(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, broker: EmbeddedBroker
) -> None:
    tenant = tenant_factory(fleets=1, tablets=0)
    fleet_id = tenant.fleets[0]
    code = new_code(panel, api_token(panel, tenant.admin), fleet_id, car_id="car-px1")

    response = claim(panel, code.lower().replace("-", " "), model="Tab A8", serial="R9X")
    assert response.status_code == 201, response.text
    claimed = response.json()
    assert claimed["fleet_id"] == fleet_id
    assert claimed["car_id"] == "car-px1"
    assert claimed["mqtt"]["url"] == f"mqtt://{broker.host}:{broker.port}"
    assert claimed["mqtt"]["username"] == claimed["tablet_id"]
    assert claimed["device_token"].startswith("fht_")

    # The token authenticates on the device endpoints, for this tablet only.
    plan = panel.get("/v1/device/plan", headers=device(claimed))
    assert plan.status_code == 200
    assert plan.json()["tablet_id"] == claimed["tablet_id"]
    # The store keeps hashes only, and the tablet is registered in the right fleet and car.
    row = conn.execute(
        "SELECT t.fleet_id, t.car_id, c.claimed_at IS NOT NULL, c.device_info"
        " FROM tablets t JOIN claim_codes c USING (tablet_id)"
        " WHERE t.tablet_id = %s",
        (claimed["tablet_id"],),
    ).fetchone()
    assert row == (fleet_id, "car-px1", True, {"model": "Tab A8", "serial": "R9X"})
    stored = conn.execute(
        "SELECT c::text FROM claim_codes c WHERE code_hash = %s",
        (claims.digest(code.replace("-", "")),),
    ).fetchone()
    assert stored is not None  # found by its hash; the code itself is stored nowhere
    assert code.replace("-", "") not in str(stored[0])
    assert code not in str(stored[0])

    # The broker credentials work, confined to tablets/{id}/#.
    tablet = tablet_from(claimed).connect()
    try:
        tablet.client.subscribe(tablet.topic("notes"), qos=1)
        other = f"tablets/{tenant_factory(fleets=1, tablets=1).all_tablets[0]}/notes"
        tablet.client.subscribe(other, qos=1)
        time.sleep(0.3)
        publish_as_hub(broker, other, b"not for you")
        publish_as_hub(broker, tablet.topic("notes"), b"for you")
        got = wait_messages(tablet, 1)
        assert [(m.topic, m.payload) for m in got] == [(tablet.topic("notes"), b"for you")]
    finally:
        tablet.close()
    actions = [
        r[0]
        for r in conn.execute(
            "SELECT action FROM audit_log WHERE tenant_id = %s ORDER BY audit_id",
            (tenant.tenant_id,),
        ).fetchall()
    ]
    assert actions[-2:] == ["claim_code.create", "tablet.claim"]


def test_a_claim_code_works_once(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=0)
    code = new_code(panel, api_token(panel, tenant.admin), tenant.fleets[0])
    assert claim(panel, code).status_code == 201
    again = claim(panel, code)
    assert again.status_code == 409
    assert "already used" in again.json()["detail"]
    count = conn.execute(
        "SELECT count(*) FROM tablets WHERE fleet_id = %s", (tenant.fleets[0],)
    ).fetchone()
    assert count == (1,)


def test_an_expired_code_is_refused(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=0)
    code = new_code(panel, api_token(panel, tenant.admin), tenant.fleets[0], ttl_s=60)
    conn.execute(
        "UPDATE claim_codes SET created_at = now() - interval '2 hours',"
        " expires_at = now() - interval '1 hour' WHERE code_hash = %s",
        (claims.digest(code.replace("-", "")),),
    )
    response = claim(panel, code)
    assert response.status_code == 410
    assert "expired" in response.json()["detail"]
    assert conn.execute(
        "SELECT count(*) FROM tablets WHERE fleet_id = %s", (tenant.fleets[0],)
    ).fetchone() == (0,)


@pytest.mark.parametrize(
    "body", [{"claim_code": "ZZZZ-ZZZZ"}, {"claim_code": "nope"}, {"claim_code": "ABCD-EFGU"}]
)
def test_unknown_codes_are_404(panel: TestClient, body: dict[str, str]) -> None:
    response = panel.post(CLAIM, json=body)
    assert response.status_code == 404
    assert "unknown claim code" in response.json()["detail"]


def test_bad_claim_bodies_are_422(panel: TestClient) -> None:
    assert panel.post(CLAIM, json={}).status_code == 422
    assert panel.post(CLAIM, json={"claim_code": "A" * 33}).status_code == 422
    too_much = {f"k{n}": "v" for n in range(33)}
    assert (
        panel.post(CLAIM, json={"claim_code": "ABCD-EFGH", "device_info": too_much}).status_code
        == 422
    )


def test_guessing_is_rate_limited(panel: TestClient, tenant_factory: TenantFactory) -> None:
    tenant = tenant_factory(fleets=1, tablets=0)
    code = new_code(panel, api_token(panel, tenant.admin), tenant.fleets[0])
    for _ in range(10):
        assert claim(panel, "ZZZZ-ZZZ" + str(uuid.uuid4().int % 10)).status_code == 404
    blocked = claim(panel, code)  # even the right code, from this address, for a while
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0


def test_codes_are_scoped_to_the_users_fleets(
    panel: TestClient, tenant_factory: TenantFactory
) -> None:
    tenant, other = tenant_factory(fleets=2, tablets=0), tenant_factory(fleets=1, tablets=0)
    owner = api_token(panel, tenant.owner)  # owns fleets[0] only
    assert new_code(panel, owner, tenant.fleets[0])
    for fleet_id in (tenant.fleets[1], other.fleets[0]):
        response = panel.post(f"/api/v1/fleets/{fleet_id}/claim-codes", json={}, headers=owner)
        assert response.status_code == 404
        assert panel.get(f"/api/v1/fleets/{fleet_id}/claim-codes", headers=owner).status_code == 404
    listed = panel.get(f"/api/v1/fleets/{tenant.fleets[0]}/claim-codes", headers=owner).json()
    assert [(c["created_by"], c["claimed_at"], c["expired"]) for c in listed] == [
        (tenant.owner, None, False)
    ]
    bad_ttl = panel.post(
        f"/api/v1/fleets/{tenant.fleets[0]}/claim-codes", json={"ttl_s": 10}, headers=owner
    )
    assert bad_ttl.status_code == 422


def test_the_pairing_page_shows_a_new_code_after_a_redirect(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=0)
    fleet_id = tenant.fleets[0]
    conn.execute("UPDATE fleets SET timezone = 'Asia/Singapore' WHERE fleet_id = %s", (fleet_id,))
    csrf = sign_in(panel, tenant.admin)
    start = panel.get("/pairing", follow_redirects=False)  # the menu's entry: its one fleet
    assert (start.status_code, start.headers["location"]) == (303, f"/fleets/{fleet_id}/pairing")
    page = panel.get(f"/fleets/{fleet_id}/pairing")
    assert page.status_code == 200
    assert "No claim codes yet" in page.text
    assert "For the installer" in page.text
    bad = panel.post(f"/fleets/{fleet_id}/pairing", data={"csrf_token": csrf, "ttl": "soon"})
    assert bad.status_code == 422
    assert "invalid duration" in bad.text
    assert panel.post(f"/fleets/{fleet_id}/pairing", data={"ttl": "1h"}).status_code == 403
    assert conn.execute(
        "SELECT count(*) FROM claim_codes WHERE fleet_id = %s", (fleet_id,)
    ).fetchone() == (0,)
    made = panel.post(
        f"/fleets/{fleet_id}/pairing",
        data={"csrf_token": csrf, "ttl": "2h", "car_id": "car-9"},
        follow_redirects=False,
    )
    assert made.status_code == 303  # post/redirect/get: a reload never makes a second code
    shown = panel.get(made.headers["location"])
    code = re.search(r'class="claim-code"><strong>([0-9A-Z]{4}-[0-9A-Z]{4})<', shown.text)
    assert code, shown.text
    # The server address the app needs, a QR code of it and the code, expiry in local time.
    server = "http://testserver"
    assert f"<code>{server}</code>" in shown.text
    qr = qr_data_uri(pairing_payload(server, code.group(1)))
    assert f'src="{qr}"' in shown.text
    expires = conn.execute(
        "SELECT expires_at FROM claim_codes WHERE fleet_id = %s", (fleet_id,)
    ).fetchone()
    assert expires is not None
    assert isinstance(expires[0], datetime)
    local = expires[0].astimezone(ZoneInfo("Asia/Singapore")).strftime("%Y-%m-%d %H:%M")
    assert f"{local} +08</time>" in shown.text
    assert 'class="warning"' not in shown.text
    loopback = panel.get(made.headers["location"], headers={"host": "127.0.0.1:8000"})
    assert 'class="warning"' in loopback.text  # a tablet cannot reach this machine's loopback
    assert "FLEETHUB_PUBLIC_BASE_URL" in loopback.text
    assert panel.get(made.headers["location"]).text.count(code.group(1)) >= 1  # a reload
    assert claim(panel, code.group(1)).status_code == 201
    panel.cookies.clear()
    sign_in(panel, tenant.admin)  # another browser: the code is not shown there
    listing = panel.get(f"/fleets/{fleet_id}/pairing").text
    assert code.group(1) not in listing
    assert f"…{code.group(1)[-2:]}" in listing
    assert "used" in listing


def test_a_tablet_pairs_with_the_code_and_address_the_qr_code_holds() -> None:
    payload = json.loads(pairing_payload("https://panel.example.com", "7KQ2-M9XD"))
    assert payload == {"v": 1, "server": "https://panel.example.com", "claim_code": "7KQ2-M9XD"}


def test_a_revoked_tablet_can_neither_connect_nor_call_the_api(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=0)
    headers = api_token(panel, tenant.admin)
    claimed = claim(panel, new_code(panel, headers, tenant.fleets[0])).json()
    tablet = tablet_from(claimed).connect()
    disconnected: list[Any] = []
    tablet.client.on_disconnect = lambda *args: disconnected.append(args)
    try:
        revoked = panel.post(f"/api/v1/tablets/{claimed['tablet_id']}/revoke", headers=headers)
        assert revoked.status_code == 204, revoked.text
        deadline = time.monotonic() + 5
        while not disconnected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert disconnected, "the broker kept the revoked tablet connected"
    finally:
        tablet.client.loop_stop()
    again = tablet_from(claimed)
    with pytest.raises(ConnectionError):
        again.connect()
    assert panel.get("/v1/device/plan", headers=device(claimed)).status_code == 401
    assert (
        panel.post("/v1/device/heartbeat", json=heartbeat(), headers=device(claimed)).status_code
        == 401
    )
    row = conn.execute(
        "SELECT t.revoked_at IS NOT NULL, count(d.*) FILTER (WHERE d.revoked_at"
        " IS NULL) FROM tablets t JOIN device_tokens d USING (tablet_id)"
        " WHERE t.tablet_id = %s GROUP BY t.revoked_at",
        (claimed["tablet_id"],),
    ).fetchone()
    assert row == (True, 0)
    # Again is harmless (it retries the broker step); another tenant's admin gets 404.
    assert (
        panel.post(f"/api/v1/tablets/{claimed['tablet_id']}/revoke", headers=headers).status_code
        == 204
    )
    outsider = api_token(panel, tenant_factory(fleets=1, tablets=0).admin)
    assert (
        panel.post(f"/api/v1/tablets/{claimed['tablet_id']}/revoke", headers=outsider).status_code
        == 404
    )


def test_the_tablet_page_revokes_with_csrf(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    tablet_id = tenant.all_tablets[0]
    csrf = sign_in(panel, tenant.admin)
    assert "Revoke tablet" in panel.get(f"/tablets/{tablet_id}").text
    assert panel.post(f"/tablets/{tablet_id}/revoke", data={}).status_code == 403
    done = panel.post(
        f"/tablets/{tablet_id}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert done.status_code == 303
    assert conn.execute(
        "SELECT revoked_at IS NOT NULL FROM tablets WHERE tablet_id = %s", (tablet_id,)
    ).fetchone() == (True,)
    assert "Revoke tablet" not in panel.get(f"/tablets/{tablet_id}").text


def heartbeat(**fields: Any) -> dict[str, Any]:
    return {"v": 1, "seq": 1, "boot_id": "boot-http", "battery": 77, **fields}


def test_bad_http_heartbeats_are_refused(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=0)
    claimed = claim(panel, new_code(panel, api_token(panel, tenant.admin), tenant.fleets[0])).json()
    for body in ({"v": 1, "seq": -1, "boot_id": "b"}, {"seq": 1}, heartbeat(battery=101)):
        response = panel.post("/v1/device/heartbeat", json=body, headers=device(claimed))
        assert response.status_code == 422, body
    big = panel.post(
        "/v1/device/heartbeat", content=b"{" + b" " * 20_000 + b"}", headers=device(claimed)
    )
    assert big.status_code == 413
    assert panel.post("/v1/device/heartbeat", json=heartbeat()).status_code == 401


async def test_an_http_heartbeat_goes_through_the_tablets_actor(
    running_hub: RunningHub, panel: TestClient, conn: Conn, aconn: AsyncConn
) -> None:
    """Claim over HTTP, then heartbeat over HTTP only: the hub's actor marks it online and
    stores the heartbeat, exactly as for one sent over MQTT."""
    admin = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    await add_user(
        aconn,
        tenant_id="default",
        email=admin,
        name="Default admin",
        role="admin",
        password=PASSWORD,
        fleets=[],
        actor="test",
    )
    fleet_id = f"f-{uuid.uuid4().hex[:10]}"
    conn.execute(
        "INSERT INTO fleets (fleet_id, tenant_id, name) VALUES (%s, 'default', %s)",
        (fleet_id, fleet_id),
    )
    headers = await asyncio.to_thread(api_token, panel, admin)
    code = await asyncio.to_thread(new_code, panel, headers, fleet_id)
    claimed = (await asyncio.to_thread(claim, panel, code)).json()
    tablet_id = claimed["tablet_id"]
    await eventually(lambda: tablet_id in running_hub.hub.owned if running_hub.hub else False)

    sent = await asyncio.to_thread(
        panel.post,
        "/v1/device/heartbeat",
        json=heartbeat(app_version="3.1.0"),
        headers=device(claimed),
    )
    assert sent.status_code == 202, sent.text
    assert sent.json() == {"status": "accepted"}
    await eventually(lambda: state_of(conn, tablet_id) == "online")
    row = await eventually(
        lambda: conn.execute(
            "SELECT seq, boot_id, battery, app_version FROM heartbeats WHERE tablet_id = %s",
            (tablet_id,),
        ).fetchone()
    )
    assert row == (1, "boot-http", 77, "3.1.0")

    # Revoked, the hub forgets its actor; its token no longer reaches the hub.
    revoked = await asyncio.to_thread(
        panel.post, f"/api/v1/tablets/{tablet_id}/revoke", headers=headers
    )
    assert revoked.status_code == 204
    await eventually(lambda: running_hub.hub is not None and tablet_id not in running_hub.hub.owned)
    refused = await asyncio.to_thread(
        panel.post, "/v1/device/heartbeat", json=heartbeat(seq=2), headers=device(claimed)
    )
    assert refused.status_code == 401


def publish_as_hub(broker: EmbeddedBroker, topic: str, payload: bytes) -> None:
    username, password = hub_role_account(broker)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=username)
    client.username_pw_set(username, password)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def wait_messages(tablet: PahoTablet, expected: int, settle: float = 0.5) -> list[Any]:
    out: list[Any] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(out) < expected:
        try:
            out.append(tablet.received.get(timeout=0.05))
        except Exception:  # noqa: S112  # queue.Empty: keep waiting
            continue
    time.sleep(settle)
    while not tablet.received.empty():
        out.append(tablet.received.get_nowait())
    return out
