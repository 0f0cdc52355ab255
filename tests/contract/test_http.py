"""docs/mqtt-contract.md, "HTTP fallback (device API)": pairing, heartbeats, proof of play
and the plan over HTTP, by the same rules as MQTT, and ``Idempotency-Key`` on every POST."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.contract.conftest import Conn
from tests.contract.tablet import ContractTablet
from tests.web.conftest import TenantFactory, api_token

CLAIM = "/v1/device/pairing/claim"
HEARTBEAT = "/v1/device/heartbeat"
EVENTS = "/v1/device/events"
PLAN = "/v1/device/plan"


def paired(panel: TestClient, tenant_factory: TenantFactory, key: str | None = None) -> Any:
    """A tablet paired over HTTP: the claim's answer."""
    tenant = tenant_factory(fleets=1, tablets=0)
    admin = api_token(panel, tenant.admin)
    made = panel.post(f"/api/v1/fleets/{tenant.fleets[0]}/claim-codes", json={}, headers=admin)
    assert made.status_code == 201, made.text
    headers = {} if key is None else {"Idempotency-Key": key}
    body = {"claim_code": made.json()["claim_code"], "device_info": {"model": "T10"}}
    claimed = panel.post(CLAIM, json=body, headers=headers)
    assert claimed.status_code == 201, claimed.text
    return claimed.json() | {"_claim": body}


def token(claimed: dict[str, Any], key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {claimed['device_token']}"}
    return headers if key is None else headers | {"Idempotency-Key": key}


def play(**fields: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "ad_id": "ad-1",
        "campaign_id": "c-1",
        "playlist_id": "pl-1",
        "playlist_etag": "e" * 32,
        "started_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "duration_ms": 15000,
        "result": "completed",
        **fields,
    }


def listener(claimed: dict[str, Any], kind: str) -> ContractTablet:
    """The paired tablet itself on MQTT, subscribed to one of its own topics."""
    host, port = claimed["mqtt"]["url"].removeprefix("mqtt://").split(":")
    tablet = ContractTablet(claimed["tablet_id"], claimed["mqtt"]["password"], host, int(port))
    assert tablet.connect(subscribe=(kind,)) == 0
    return tablet


def test_a_claim_answers_the_documented_fields(
    panel: TestClient, tenant_factory: TenantFactory
) -> None:
    claimed = paired(panel, tenant_factory)
    assert set(claimed) - {"_claim"} == {
        "tablet_id",
        "fleet_id",
        "car_id",
        "device_token",
        "heartbeat_interval_s",
        "mqtt",
    }
    assert claimed["tablet_id"].startswith("tab-")
    assert claimed["device_token"].startswith("fht_")
    assert claimed["mqtt"]["username"] == claimed["tablet_id"]
    again = panel.post(CLAIM, json=claimed["_claim"])
    assert again.status_code == 409  # works once


def test_a_lost_claim_answer_is_given_again_for_the_same_idempotency_key(
    panel: TestClient, tenant_factory: TenantFactory
) -> None:
    """Issue 17, defect 6: every device POST honours ``Idempotency-Key``."""
    key = f"claim-{uuid.uuid4()}"
    claimed = paired(panel, tenant_factory, key)
    body = claimed.pop("_claim")
    replay = panel.post(CLAIM, json=body, headers={"Idempotency-Key": key})
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == claimed  # the same token and broker password
    other_body = panel.post(
        CLAIM, json=body | {"device_info": {"model": "X"}}, headers={"Idempotency-Key": key}
    )
    assert other_body.status_code == 422
    assert panel.post(CLAIM, json=body, headers={"Idempotency-Key": "other"}).status_code == 409
    listener(claimed, "playlist").close()  # the replayed credentials work


def test_an_http_heartbeat_sent_twice_with_one_key_is_published_once(
    panel: TestClient, tenant_factory: TenantFactory
) -> None:
    """Issue 17, defect 6."""
    claimed = paired(panel, tenant_factory)
    tablet = listener(claimed, "heartbeat")
    body = {"v": 1, "seq": 1, "boot_id": "boot-http"}
    key = str(uuid.uuid4())
    first = panel.post(HEARTBEAT, json=body, headers=token(claimed, key))
    again = panel.post(HEARTBEAT, json=body, headers=token(claimed, key))
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json() == again.json() == {"status": "accepted"}
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    mismatch = panel.post(HEARTBEAT, json=body | {"seq": 2}, headers=token(claimed, key))
    assert mismatch.status_code == 422
    marker = panel.post(HEARTBEAT, json=body | {"seq": 3}, headers=token(claimed))
    assert marker.status_code == 202

    async def seqs() -> list[int]:
        got: list[int] = []
        while 3 not in got:
            got.append(json.loads((await tablet.next("heartbeat")).payload)["seq"])
        return got

    assert asyncio.run(seqs()) == [1, 3]
    tablet.close()


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "na\xefve".encode("latin-1"), "a b"],
    ids=["empty", "long", "latin1", "space"],
)
def test_a_malformed_idempotency_key_is_400(
    panel: TestClient, tenant_factory: TenantFactory, key: str | bytes
) -> None:
    claimed = paired(panel, tenant_factory)
    headers: dict[str, Any] = token(claimed) | {"Idempotency-Key": key}
    body = {"v": 1, "seq": 1, "boot_id": "b"}
    response = panel.post(HEARTBEAT, content=json.dumps(body), headers=headers)
    assert response.status_code == 400


def test_events_with_one_key_are_answered_the_first_answer_again(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    claimed = paired(panel, tenant_factory)
    batch = {"batch_id": "b-1", "events": [play(), play(duration_ms=-1)]}
    key = str(uuid.uuid4())
    first = panel.post(EVENTS, json=batch, headers=token(claimed, key))
    assert first.status_code == 200
    assert (first.json()["accepted"], first.json()["rejected"]) == (1, 1)
    again = panel.post(EVENTS, json=batch, headers=token(claimed, key))
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    # Without the key the same batch is judged again: its stored event is a duplicate.
    plain = panel.post(EVENTS, json=batch, headers=token(claimed))
    assert (plain.json()["accepted"], plain.json()["duplicate"]) == (0, 1)
    sql = "SELECT count(*) FROM plays WHERE tablet_id = %s"
    assert conn.execute(sql, (claimed["tablet_id"],)).fetchone() == (1,)
    # Keys are per tablet: another tablet's same key is its own.
    other = paired(panel, tenant_factory)
    theirs = panel.post(EVENTS, json={"events": [play()]}, headers=token(other, key))
    assert theirs.json()["accepted"] == 1


def test_http_bodies_follow_the_mqtt_rules(
    panel: TestClient, tenant_factory: TenantFactory
) -> None:
    """Issue 17, defect 5: the same rules for unknown fields and times, over HTTP too."""
    claimed = paired(panel, tenant_factory)
    auth = token(claimed)
    ok = {"v": 1, "seq": 1, "boot_id": "b"}
    for good in (
        ok | {"cpu_temp_c": 40},
        ok | {"now_playing": {"ad_id": "a", "campaign_id": "c", "position_ms": 1}},
        ok | {"ts": "2026-11-22T08:00:00Z"},
    ):
        assert panel.post(HEARTBEAT, json=good, headers=auth).status_code == 202, good
    for bad in (
        ok | {"ts": "2026-11-22T08:00:00"},
        ok | {"note": "a\u0000"},
        ok | {"seq": "1"},
        ok | {"boot_id": "b" * 129},
        ok | {"app_version": "v" * 257},
    ):
        assert panel.post(HEARTBEAT, json=bad, headers=auth).status_code == 422, bad
    assert (
        panel.post(HEARTBEAT, content=b'{"v":1,"seq":1,"boot_id":"b","x":NaN}', headers=auth)
    ).status_code == 422
    big = {"events": [play(pad="x" * 400) for _ in range(450)]}
    assert panel.post(EVENTS, json=big, headers=auth).status_code == 413
    assert panel.post(EVENTS, json={"events": []}, headers=auth).status_code == 422
    naive = panel.post(
        EVENTS, json={"events": [play(started_at="2026-11-22T08:00:00")]}, headers=auth
    )
    assert naive.json()["events"][0]["reason"] == "invalid_started_at"
    assert panel.post(HEARTBEAT, json=ok).status_code == 401


def test_the_plan_of_a_tablet_with_no_assignment_is_pl_none_with_an_etag(
    panel: TestClient, tenant_factory: TenantFactory
) -> None:
    claimed = paired(panel, tenant_factory)
    plan = panel.get(PLAN, headers=token(claimed))
    assert plan.status_code == 200
    segments = plan.json()["segments"]
    assert {s["playlist"]["playlist_id"] for s in segments} == {"pl-none"}
    etag = plan.headers["ETag"]
    again = panel.get(PLAN, headers=token(claimed) | {"If-None-Match": etag})
    assert again.status_code == 304
