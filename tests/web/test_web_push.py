"""Web Push of lead offers, against a local push service (127.0.0.1): no other is contacted.

The test's "browser" is a P-256 key pair and a 16-byte auth secret: what the push service
receives must decrypt (aes128gcm, ``http_ece``) back to the payload with that key, and carry
a VAPID ``Authorization`` whose JWT verifies with the panel's public key.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import secrets
import stat
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import http_ece  # type: ignore[import-untyped]
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from config.errors import ConfigError
from config.settings import Settings
from store.db import open_pool
from tests.web.agent_helpers import (
    Agent,
    agent_sign_in,
    make_agent,
    make_lead_campaign,
    new_lead,
    offer,
)
from tests.web.conftest import Conn, TenantFactory, sign_in
from web.agents.push_sender import PushSender
from web.agents.web_push import VapidKey, b64url, b64url_decode, vapid_key


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakePushService:
    """A push service on a free loopback port: records requests, answers scripted statuses."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    script: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses, then 201
    lock: threading.Lock = field(default_factory=threading.Lock)

    def endpoint(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/push/{name}"

    def bodies(self, name: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == f"/push/{name}"]


@contextlib.contextmanager
def push_service() -> Iterator[FakePushService]:
    service = FakePushService()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with service.lock:
                service.received.append(Received(self.path, dict(self.headers.items()), body))
                statuses = service.script.get(self.path, [])
                status = statuses.pop(0) if statuses else 201
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    service.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="test.push-service", daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class Browser:
    """A push subscription's keys, as a browser keeps them."""

    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    @classmethod
    def new(cls) -> Browser:
        return cls(ec.generate_private_key(ec.SECP256R1()), secrets.token_bytes(16))

    def subscription(self, endpoint: str) -> dict[str, object]:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> dict[str, object]:
        plain = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm"
        )
        decoded: dict[str, object] = json.loads(plain)
        return decoded


def vapid_claims(headers: dict[str, str], public_key: str, audience: str) -> dict[str, object]:
    """The VAPID JWT's claims, verified with ``public_key`` (the panel's applicationServerKey)."""
    auth = {k.lower(): v for k, v in headers.items()}["authorization"]
    scheme, _, params = auth.partition(" ")
    assert scheme == "vapid"
    fields = dict(p.split("=", 1) for p in params.split(","))
    assert fields["k"].rstrip("=") == public_key
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(fields["k"]))
    claims: dict[str, object] = jwt.decode(
        fields["t"], key, algorithms=["ES256"], audience=audience
    )
    return claims


def subscribe(conn: Conn, agent: Agent, browser: Browser, endpoint: str) -> None:
    sub = browser.subscription(endpoint)
    keys = sub["keys"]
    assert isinstance(keys, dict)
    conn.execute(
        "INSERT INTO push_subscriptions (endpoint, user_id, p256dh, auth) VALUES (%s, %s, %s, %s)",
        (endpoint, agent.user_id, keys["p256dh"], keys["auth"]),
    )


def delivery(conn: Conn, offer_id: int, endpoint: str) -> tuple[object, ...] | None:
    return conn.execute(
        "SELECT attempts, sent_at IS NOT NULL, gave_up_at IS NOT NULL, last_error"
        " FROM push_deliveries WHERE offer_id = %s AND endpoint = %s",
        (offer_id, endpoint),
    ).fetchone()


async def until(probe: Callable[[], object], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def until_sync(probe: Callable[[], object], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def service() -> Iterator[FakePushService]:
    with push_service() as running:
        yield running


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool]:
    opened: AsyncConnectionPool = open_pool(database_url, max_size=4)
    await opened.open(wait=True)
    yield opened
    await opened.close()


@contextlib.asynccontextmanager
async def running(sender: PushSender) -> AsyncIterator[PushSender]:
    task = asyncio.create_task(sender.run(), name="test.push_sender")
    try:
        yield sender
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def key_of(tmp_path: Path) -> VapidKey:
    return vapid_key(Settings(var_dir=tmp_path))


# --- through the panel ------------------------------------------------------------------------


def test_an_offer_is_pushed_encrypted_and_signed_to_the_agents_browser(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, service: FakePushService
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    agent = make_agent(conn, tenant)
    csrf = agent_sign_in(panel, agent.email)
    public_key = panel.get("/agent/push/key").json()["public_key"]
    browser, endpoint = Browser.new(), service.endpoint(uuid.uuid4().hex)
    stored = panel.post(
        "/agent/push/subscribe", json=browser.subscription(endpoint), headers={"X-CSRF-Token": csrf}
    )
    assert stored.status_code == 201, stored.text
    assert stored.json() == {"subscriptions": 1}
    lead_id = new_lead(conn, make_lead_campaign(conn, tenant, "Life cover"), "Siti Nurhaliza")
    offer_id = offer(conn, lead_id, agent, seconds=120)

    name = endpoint.rsplit("/", 1)[1]
    until_sync(lambda: service.bodies(name))
    got = service.bodies(name)
    assert len(got) == 1
    assert browser.decrypt(got[0].body) == {
        "lead_id": lead_id,
        "name": "Siti Nurhaliza",
        "campaign": "Life cover",
        "url": f"/agent/leads#lead-{lead_id}",
    }
    headers = {k.lower(): v for k, v in got[0].headers.items()}
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["urgency"] == "high"
    assert 0 < int(headers["ttl"]) <= 120
    claims = vapid_claims(got[0].headers, public_key, f"http://127.0.0.1:{service.port}")
    assert claims["sub"] == "mailto:fleethub@example.com"
    until_sync(lambda: delivery(conn, offer_id, endpoint) == (1, True, False, None))
    time.sleep(0.3)
    assert len(service.bodies(name)) == 1  # sent once


def test_subscribe_checks_the_role_the_token_and_the_body(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, service: FakePushService
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    agent = make_agent(conn, tenant)
    sub = Browser.new().subscription(service.endpoint(uuid.uuid4().hex))
    csrf = sign_in(panel, tenant.admin)
    assert (
        panel.post("/agent/push/subscribe", json=sub, headers={"X-CSRF-Token": csrf}).status_code
        == 403
    )
    panel.cookies.clear()
    csrf = agent_sign_in(panel, agent.email)
    assert panel.post("/agent/push/subscribe", json=sub).status_code == 403  # no CSRF token
    bad = {**sub, "endpoint": "javascript:alert(1)"}
    for body in (bad, {"endpoint": sub["endpoint"]}, {**sub, "keys": {"p256dh": "x", "auth": "y"}}):
        response = panel.post("/agent/push/subscribe", json=body, headers={"X-CSRF-Token": csrf})
        assert response.status_code == 422, body
    garbled = panel.post(
        "/agent/push/subscribe",
        content=b"{not json",
        headers={"X-CSRF-Token": csrf, "content-type": "application/json"},
    )
    assert garbled.status_code == 400
    assert conn.execute(
        "SELECT count(*) FROM push_subscriptions WHERE user_id = %s", (agent.user_id,)
    ).fetchone() == (0,)
    ok = panel.post("/agent/push/subscribe", json=sub, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    # someone else's endpoint is not theirs to remove; their own is
    assert (
        panel.post(
            "/agent/push/unsubscribe",
            json={"endpoint": f"{sub['endpoint']}x"},
            headers={"X-CSRF-Token": csrf},
        ).status_code
        == 404
    )
    gone = panel.post(
        "/agent/push/unsubscribe",
        json={"endpoint": sub["endpoint"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert gone.json() == {"subscriptions": 0}


def test_the_service_worker_is_served_for_the_agent_pages(panel: TestClient) -> None:
    response = panel.get("/agent-sw.js")
    assert response.status_code == 200
    assert response.headers["service-worker-allowed"] == "/"
    assert response.headers["content-type"].startswith("text/javascript")
    assert 'addEventListener("push"' in response.text


# --- the sender alone -------------------------------------------------------------------------


async def test_failures_are_retried_with_backoff_then_delivered_once(
    pool: AsyncConnectionPool,
    tenant_factory: TenantFactory,
    conn: Conn,
    service: FakePushService,
    tmp_path: Path,
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    agent = make_agent(conn, tenant)
    browser, name = Browser.new(), uuid.uuid4().hex
    endpoint = service.endpoint(name)
    subscribe(conn, agent, browser, endpoint)
    service.script[f"/push/{name}"] = [500, 500]
    lead_id = new_lead(conn, make_lead_campaign(conn, tenant))
    offer_id = offer(conn, lead_id, agent)
    sender = PushSender(pool, key_of(tmp_path), "mailto:ops@example.com", base_backoff_s=0.1)
    async with running(sender):
        await until(lambda: delivery(conn, offer_id, endpoint) == (3, True, False, None))
        await asyncio.sleep(0.5)
    assert len(service.bodies(name)) == 3
    assert sender.outcomes == {"retried": 2, "sent": 1}  # in the panel's /metrics
    assert browser.decrypt(service.bodies(name)[-1].body)["lead_id"] == lead_id
    row = conn.execute(
        "SELECT failures, last_ok_at IS NOT NULL FROM push_subscriptions WHERE endpoint = %s",
        (endpoint,),
    ).fetchone()
    assert row == (0, True)


async def test_a_gone_subscription_is_removed(
    pool: AsyncConnectionPool,
    tenant_factory: TenantFactory,
    conn: Conn,
    service: FakePushService,
    tmp_path: Path,
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    agent = make_agent(conn, tenant)
    name = uuid.uuid4().hex
    endpoint = service.endpoint(name)
    subscribe(conn, agent, Browser.new(), endpoint)
    service.script[f"/push/{name}"] = [410]
    offer(conn, new_lead(conn, make_lead_campaign(conn, tenant)), agent)
    sender = PushSender(pool, key_of(tmp_path), "mailto:ops@example.com", base_backoff_s=0.1)
    async with running(sender):
        await until(
            lambda: (
                conn.execute(
                    "SELECT 1 FROM push_subscriptions WHERE endpoint = %s", (endpoint,)
                ).fetchone()
                is None
            )
        )
    assert len(service.bodies(name)) == 1
    assert sender.outcomes == {"gone": 1}


async def test_it_gives_up_after_max_attempts(
    pool: AsyncConnectionPool,
    tenant_factory: TenantFactory,
    conn: Conn,
    service: FakePushService,
    tmp_path: Path,
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    agent = make_agent(conn, tenant)
    name = uuid.uuid4().hex
    endpoint = service.endpoint(name)
    subscribe(conn, agent, Browser.new(), endpoint)
    service.script[f"/push/{name}"] = [503] * 10
    offer_id = offer(conn, new_lead(conn, make_lead_campaign(conn, tenant)), agent)
    sender = PushSender(
        pool, key_of(tmp_path), "mailto:ops@example.com", base_backoff_s=0.05, max_attempts=3
    )
    async with running(sender):
        await until(
            lambda: (
                delivery(conn, offer_id, endpoint) == (3, False, True, "push service answered 503")
            )
        )
        await asyncio.sleep(0.4)
    assert len(service.bodies(name)) == 3
    assert sender.outcomes == {"retried": 2, "gave_up": 1}
    row = conn.execute(
        "SELECT failures FROM push_subscriptions WHERE endpoint = %s", (endpoint,)
    ).fetchone()
    assert row == (3,)
    conn.execute("DELETE FROM push_subscriptions WHERE endpoint = %s", (endpoint,))


async def test_two_senders_never_send_the_same_offer_twice(
    pool: AsyncConnectionPool,
    database_url: str,
    tenant_factory: TenantFactory,
    conn: Conn,
    service: FakePushService,
    tmp_path: Path,
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    agents = [make_agent(conn, tenant, f"a{n}") for n in range(3)]
    names = {a.user_id: [uuid.uuid4().hex for _ in range(2)] for a in agents}
    for a in agents:
        for name in names[a.user_id]:
            subscribe(conn, a, Browser.new(), service.endpoint(name))
    campaign = make_lead_campaign(conn, tenant)
    key = key_of(tmp_path)
    other_pool: AsyncConnectionPool = open_pool(database_url, max_size=4)
    await other_pool.open(wait=True)
    try:
        first = PushSender(pool, key, "mailto:ops@example.com")
        second = PushSender(other_pool, key, "mailto:ops@example.com")
        async with running(first), running(second):
            offers = []
            for n in range(10):
                agent = agents[n % 3]
                offers.append(offer(conn, new_lead(conn, campaign, f"Lead {n}"), agent))
                first.wake()
                second.wake()
            expected = sum(len(names[agents[n % 3].user_id]) for n in range(10))
            mine = [name for ns in names.values() for name in ns]
            await until(lambda: sum(len(service.bodies(n)) for n in mine) >= expected)
            await asyncio.sleep(0.5)
    finally:
        await other_pool.close()
    per_endpoint = {name: len(service.bodies(name)) for ns in names.values() for name in ns}
    assert sum(per_endpoint.values()) == expected
    assert set(per_endpoint.values()) == {
        sum(1 for n in range(10) if agents[n % 3].user_id == u) for u in names
    }


# --- the VAPID key ----------------------------------------------------------------------------


def test_the_vapid_key_is_made_once_private_and_can_be_configured(tmp_path: Path) -> None:
    first = key_of(tmp_path)
    path = tmp_path / "vapid.pem"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert key_of(tmp_path).public_key == first.public_key
    assert len(b64url_decode(first.public_key)) == 65  # an uncompressed P-256 point
    pem = path.read_text()
    configured = vapid_key(Settings(var_dir=tmp_path / "other", vapid_private_key=SecretStr(pem)))
    assert configured.public_key == first.public_key
    raw = first.private_key.private_numbers().private_value.to_bytes(32, "big")
    as_raw = vapid_key(
        Settings(
            var_dir=tmp_path / "other",
            vapid_private_key=SecretStr(base64.urlsafe_b64encode(raw).decode()),
        )
    )
    assert as_raw.public_key == first.public_key
    assert not (tmp_path / "other" / "vapid.pem").exists()
    with pytest.raises(ConfigError, match="not a usable key"):
        vapid_key(Settings(var_dir=tmp_path, vapid_private_key=SecretStr("bm90IGEga2V5")))
    with pytest.raises(ValueError, match="vapid_subject"):
        Settings(var_dir=tmp_path, vapid_subject="ops@example.com")
