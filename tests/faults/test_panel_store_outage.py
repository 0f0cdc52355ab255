"""A store outage seen from the panel: its own embedded PostgreSQL, stopped and started.

While the store is away every route of the app's route table (generated, not hand-picked)
answers within a second: 503 + ``Retry-After`` when it needs the store, otherwise as it
would; pages get the friendly page. A tablet whose device token the store confirmed shortly
before keeps heartbeating over HTTP (the heartbeat needs only the broker), so the hub never
sees it go silent. After the store is back the panel serves again within about a second,
without a restart.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from starlette.routing import BaseRoute

from broker.runner import EmbeddedBroker
from config.settings import Settings
from devtools.embedded_db import EmbeddedPostgres
from store import device_tokens
from store.fleets import FleetSpec, TabletSpec, add_fleet, add_tablet
from store.users import add_tenant, add_user
from tests.conftest import RunningHub
from tests.helpers import Conn as AsyncConn
from tests.helpers import blocking, eventually, hub_role_account, state_of, store
from tests.web.conftest import login_csrf, post_login
from tests.web.test_panel_tasks import LONG_LIVED
from web.app import create_app
from web.deps import get_pool

pytestmark = [pytest.mark.faults, pytest.mark.slow]
PASSWORD = "correct horse battery"
ANSWER_S = 1.0  # every answer during the outage, and the first 2xx after it
# Routes that check the request's own signature before they read the store: unsigned, they
# are refused (403) without it, as they should be.
SIGNED = ("/v1/device/screenshots/",)


def _needs_pool(call: Any, dependant: Any) -> bool:
    return any(d.call in (get_pool, call) or _needs_pool(call, d) for d in dependant.dependencies)


def _api_routes(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every APIRoute with its full path prefix, looking inside included routers."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix, route
        elif (inner := getattr(route, "original_router", None)) is not None:
            context = getattr(route, "include_context", None)
            yield from _api_routes(inner.routes, prefix + getattr(context, "prefix", ""))


def _operations(app: Any) -> list[tuple[str, str, bool]]:
    """(method, concrete path, needs the pool) for every operation of the route table.

    A route with a body validates it before its dependencies reach the store: sent with no
    body it may answer 422 first, so it counts as needing the pool only without one (the
    sign-in routes are checked with a real form below)."""
    found = []
    for prefix, route in _api_routes(app.routes):
        path = prefix + route.path_format
        kinds = {p.name: p.field_info.annotation for p in route.dependant.path_params}
        for name in route.param_convertors:
            value = str(uuid.UUID(int=1)) if kinds.get(name) is uuid.UUID else "1"  # well formed
            path = path.replace("{" + name + "}", value)
        for method in sorted(route.methods or ()):
            needs_pool = _needs_pool(get_pool, route.dependant) and route.body_field is None
            found.append((method, path, needs_pool))
    return found


def _seed(url: str) -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    fleet_id, admin = f"fl-{tag}", f"admin-{tag}@example.com"

    async def add(aconn: AsyncConn) -> dict[str, str]:
        await add_tenant(aconn, f"tn-{tag}", f"Tenant {tag}", "test")
        await add_fleet(
            aconn, FleetSpec(fleet_id, name="Outage fleet", tenant_id=f"tn-{tag}"), "test"
        )
        await add_tablet(aconn, TabletSpec(f"{fleet_id}-t0", fleet_id, None, 1, 3), "test")
        await add_tablet(aconn, TabletSpec(f"{fleet_id}-t1", fleet_id, None, 1, 3), "test")
        await add_user(
            aconn,
            tenant_id=f"tn-{tag}",
            email=admin,
            name="Admin",
            role="admin",
            password=PASSWORD,
            fleets=[],
            actor="test",
        )
        return {
            "admin": admin,
            "tablet": f"{fleet_id}-t0",
            "verified": await device_tokens.issue(aconn, f"{fleet_id}-t0", "test"),
            "unverified": await device_tokens.issue(aconn, f"{fleet_id}-t1", "test"),
        }

    return store(url, add)


def _stored_seq(conn: psycopg.Connection[Any], tablet_id: str) -> int:
    row = conn.execute(
        "SELECT max(seq) FROM heartbeats WHERE tablet_id = %s", (tablet_id,)
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _timed(client: TestClient, method: str, path: str, **kwargs: Any) -> tuple[Any, float]:
    started = time.monotonic()
    response = client.request(method, path, follow_redirects=False, **kwargs)
    return response, time.monotonic() - started


def _unavailable(response: Any, took: float, limit: float = ANSWER_S) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert took < limit


def _heartbeats(broker: EmbeddedBroker, tablet_id: str) -> tuple[mqtt.Client, queue.Queue[Any]]:
    """The hub's view: a subscriber to the tablet's heartbeat topic, as the hub account."""
    got: queue.Queue[Any] = queue.Queue()
    target = broker.hub_target()
    account, password = hub_role_account(broker)  # bound to its own client id
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=account)
    client.username_pw_set(account, password)
    client.on_message = lambda _c, _u, msg: got.put(json.loads(msg.payload))
    client.connect(target.host, target.port)
    client.subscribe(f"tablets/{tablet_id}/heartbeat", qos=1)
    client.loop_start()
    return client, got


def _panel_settings(broker: EmbeddedBroker, var_dir: Path) -> Settings:
    """A panel of the test's own, with the broker account bound to its client id."""
    settings = Settings(
        var_dir=var_dir,
        mqtt_url=broker.hub_target().url(),
        web_client_id=f"web-{uuid.uuid4().hex[:8]}",
    )
    blocking(broker.add_accounts(web_client_id=settings.web_client_id))
    return settings


def test_through_a_store_outage_every_route_answers_at_once_and_recovers(
    own_store: EmbeddedPostgres, broker: EmbeddedBroker, tmp_path: Path
) -> None:
    url = own_store.url()
    seed = _seed(url)
    settings = _panel_settings(broker, tmp_path)
    app = create_app(settings, url)
    operations = _operations(app)
    assert len(operations) > 90
    assert sum(n for *_, n in operations) > 70
    watcher, heard = _heartbeats(broker, seed["tablet"])
    try:
        with TestClient(app) as client:
            login = post_login(client, seed["admin"], PASSWORD)
            assert login.status_code == 303, login.text
            csrf = login_csrf(client)  # the sign-in form's token, for the tries below
            token = client.post(
                "/api/v1/auth/token", data={"username": seed["admin"], "password": PASSWORD}
            )
            bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
            verified = {"Authorization": f"Bearer {seed['verified']}"}
            unverified = {"Authorization": f"Bearer {seed['unverified']}"}
            hb = {"v": 1, "seq": 1, "boot_id": "boot-outage", "battery": 50}
            assert client.post("/v1/device/heartbeat", json=hb, headers=verified).status_code == 202
            assert heard.get(timeout=5)["seq"] == 1

            own_store.stop()
            # The first request finds the store gone; from then on the gate answers at once.
            first, first_s = _timed(client, "GET", "/healthz")
            _unavailable(first, first_s)
            slow: list[str] = []
            wrong: list[str] = []
            slowest = 0.0
            for method, path, needs_pool in operations:
                headers = unverified if path.startswith("/v1/device/") else bearer
                response, took = _timed(client, method, path, headers=headers, json={})
                label = f"{method} {path} → {response.status_code} in {took:.2f} s"
                slowest = max(slowest, took)
                if took >= ANSWER_S:
                    slow.append(label)
                if response.status_code >= 500 and not (
                    response.status_code == 503 and response.headers.get("retry-after")
                ):
                    wrong.append(label)
                refused_unsigned = path.startswith(SIGNED) and response.status_code == 403
                if needs_pool and response.status_code != 503 and not refused_unsigned:
                    wrong.append(label)
            assert not slow, slow
            assert not wrong, wrong

            signin = {
                "email": seed["admin"],
                "password": PASSWORD,
                "username": seed["admin"],
                "csrf_token": csrf,
            }
            for path in ("/login", "/api/v1/auth/token"):
                refused, took = _timed(client, "POST", path, data=signin)
                _unavailable(refused, took)
            page, took = _timed(client, "GET", "/", headers={"Accept": "text/html"})
            _unavailable(page, took)
            assert "Back in a moment" in page.text
            health, took = _timed(client, "GET", "/healthz")
            _unavailable(health, took)
            assert health.json() == {
                "detail": "the store is unavailable: try again in a few seconds"
            }
            # A token the store confirmed shortly before still carries heartbeats; an
            # unknown one is not refused as invalid (401) but asked to come back (503).
            hb["seq"] = 2
            sent, took = _timed(client, "POST", "/v1/device/heartbeat", json=hb, headers=verified)
            assert sent.status_code == 202, sent.text
            assert took < ANSWER_S
            assert heard.get(timeout=5)["seq"] == 2
            events, _ = _timed(
                client,
                "POST",
                "/v1/device/events",
                headers=verified,
                json={"events": [{"event_id": str(uuid.uuid4())}]},
            )
            assert events.status_code in (422, 503)
            refused, took = _timed(
                client, "POST", "/v1/device/heartbeat", json=hb, headers=unverified
            )
            _unavailable(refused, took)

            own_store.start()
            back = time.monotonic()
            while client.get("/api/v1/tablets", headers=bearer).status_code != 200:
                assert time.monotonic() - back < 10, "the panel did not recover"
                time.sleep(0.02)
            recovered_s = time.monotonic() - back
            assert client.get("/healthz").status_code == 200
            assert client.get("/", headers={"Accept": "text/html"}).status_code == 200
            print(
                f"first 503 in {first_s:.3f} s; {len(operations)} operations during the "
                f"outage, slowest {slowest:.3f} s; first 2xx {recovered_s:.3f} s after "
                "the store was back"
            )
            assert recovered_s < ANSWER_S + 0.5
            assert app.state.store_gate.outages == 1
            # Every long-lived task lived through it (web/live/tasks.py restarts any that fails).
            assert app.state.tasks.running() == LONG_LIVED
    finally:
        watcher.loop_stop()
        watcher.disconnect()


async def test_an_http_only_tablet_is_not_marked_offline_through_a_store_outage(
    own_store: EmbeddedPostgres, broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """A tablet that only speaks HTTP heartbeats every 0.5 s (offline after 3 s) through a
    6 s outage, with a real hub on the same store: every heartbeat is taken (202), and the
    hub records no offline transition and no incident for it (before: 500s after 30 s each,
    and a false offline incident)."""
    url = own_store.url()
    seed = _seed(url)
    tablet_id, verified = seed["tablet"], {"Authorization": f"Bearer {seed['verified']}"}
    hub_settings = Settings(
        var_dir=tmp_path / "hub",
        hub_client_id=f"hub-{uuid.uuid4().hex[:8]}",
        watchdog_tick_s=0.1,
        writer_flush_interval_s=0.02,
        metrics_interval_s=0.5,
    )
    await broker.add_accounts(hub_settings.hub_client_id)  # every account is bound to its client id
    hub = RunningHub(hub_settings, url, broker.hub_target())
    await hub.start()
    settings = _panel_settings(broker, tmp_path / "panel")
    statuses: list[int] = []
    stop = threading.Event()
    try:
        with TestClient(create_app(settings, url)) as client:

            def beat() -> None:
                seq = 0
                while not stop.wait(0.5):
                    seq += 1
                    body = {"v": 1, "seq": seq, "boot_id": "boot-http-only", "battery": 80}
                    sent = client.post("/v1/device/heartbeat", json=body, headers=verified)
                    statuses.append(sent.status_code)

            beating = threading.Thread(target=beat, name="test.http-tablet")
            beating.start()
            with psycopg.connect(url, autocommit=True) as conn:
                await eventually(lambda: state_of(conn, tablet_id) == "online")
            await asyncio.to_thread(own_store.stop)
            await asyncio.sleep(6)  # the outage: twice the tablet's offline_after
            await asyncio.to_thread(own_store.start)
            with psycopg.connect(url, autocommit=True) as conn:
                after = len(statuses) + 2
                await eventually(lambda: _stored_seq(conn, tablet_id) >= after, timeout=15)
                offline = conn.execute(
                    "SELECT count(*) FROM presence_transitions WHERE "
                    "tablet_id = %s AND to_state = 'offline'",
                    (tablet_id,),
                ).fetchone()
                incidents = conn.execute(
                    "SELECT count(*) FROM incidents WHERE tablet_id = %s", (tablet_id,)
                ).fetchone()
            stop.set()
            beating.join(5)
    finally:
        stop.set()
        await hub.stop()
    assert offline == (0,)
    assert incidents == (0,)
    assert set(statuses) == {202}, statuses
