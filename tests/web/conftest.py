"""Panel fixtures: tenants with fleets and users in the real store, and a signed-in client."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx2 as httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import AsyncConnectionPool

from broker.runner import EmbeddedBroker
from config.settings import Settings
from store.fleets import FleetSpec, TabletSpec, add_fleet, add_tablet
from store.rate_limits import RateLimitStore
from store.users import add_tenant, add_user
from tests.helpers import Conn as AsyncConn
from tests.helpers import blocking, store
from web.app import create_app

Conn = psycopg.Connection[tuple[object, ...]]
PASSWORD = "correct horse battery"


@dataclass
class Tenant:
    """A tenant with fleets of tablets (in cars), an admin and a fleet owner of the first fleet."""

    tenant_id: str
    fleets: list[str]
    tablets: dict[str, list[str]]
    admin: str
    owner: str
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def all_tablets(self) -> list[str]:
        return [t for ts in self.tablets.values() for t in ts]


TenantFactory = Callable[..., Tenant]


@pytest.fixture
def tenant_factory(conn: Conn) -> TenantFactory:
    def make(fleets: int = 2, tablets: int = 2) -> Tenant:
        tag = uuid.uuid4().hex[:8]
        tenant_id = f"tn-{tag}"
        fleet_ids = [f"fl-{tag}-{n}" for n in range(fleets)]
        tablet_ids = {f: [f"{f}-t{m}" for m in range(tablets)] for f in fleet_ids}
        admin, owner = f"admin-{tag}@example.com", f"owner-{tag}@example.com"

        async def add(aconn: AsyncConn) -> None:
            await add_tenant(aconn, tenant_id, f"Tenant {tag}", "test")
            for n, fleet_id in enumerate(fleet_ids):
                await add_fleet(
                    aconn, FleetSpec(fleet_id, name=f"Fleet {tag} {n}", tenant_id=tenant_id), "test"
                )
                for m, tablet_id in enumerate(tablet_ids[fleet_id]):
                    await add_tablet(
                        aconn, TabletSpec(tablet_id, fleet_id, f"{fleet_id}-car{m}", 1, 3), "test"
                    )
            await add_user(
                aconn,
                tenant_id=tenant_id,
                email=admin,
                name=f"Admin {tag}",
                role="admin",
                password=PASSWORD,
                fleets=[],
                actor="test",
            )
            await add_user(
                aconn,
                tenant_id=tenant_id,
                email=owner,
                name=f"Owner {tag}",
                role="fleet_owner",
                password=PASSWORD,
                fleets=fleet_ids[:1],
                actor="test",
            )

        store(conn, add)
        return Tenant(tenant_id, fleet_ids, tablet_ids, admin, owner)

    return make


@pytest.fixture
def panel_settings(tmp_path_factory: pytest.TempPathFactory, broker: EmbeddedBroker) -> Settings:
    """The panel reaches the test broker with its own session account (HTTP heartbeats) and
    the provisioning account (pairing)."""
    web_client_id = f"web-{uuid.uuid4().hex[:8]}"
    blocking(broker.add_accounts(web_client_id=web_client_id))
    return Settings(
        var_dir=tmp_path_factory.mktemp("panel"),
        mqtt_url=broker.hub_target().url(),
        provision_mqtt_url=broker.provision_target().url(),
        web_client_id=web_client_id,
    )


@pytest.fixture
def panel(panel_settings: Settings, database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(panel_settings, database_url)) as client:
        yield client


def sibling(opened: TestClient, client: tuple[str, int] = ("testclient", 50000)) -> TestClient:
    """Another client (own cookies, own address) of an app whose lifespan ``opened`` runs:
    its requests run on that lifespan's event loop, where the app's store pool lives."""
    other = TestClient(opened.app, client=client)
    other.portal = opened.portal
    return other


def login_csrf(client: TestClient) -> str:
    """The login form's CSRF token, as a browser gets it (its cookie goes into the client)."""
    page = client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def post_login(
    client: TestClient,
    email: str,
    password: str = PASSWORD,
    follow_redirects: bool = False,
    **fields: str,
) -> httpx.Response:
    """Post the login form as a browser does: the form's CSRF token included."""
    data = {"email": email, "password": password, "csrf_token": login_csrf(client), **fields}
    return client.post("/login", data=data, follow_redirects=follow_redirects)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Sign the client in; returns the session's CSRF token (from the page's meta tag)."""
    response = post_login(client, email, password)
    assert response.status_code == 303, response.text
    page = client.get("/", follow_redirects=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def api_token(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@contextlib.contextmanager
def rate_limits_away(client: TestClient) -> Iterator[None]:
    """The app's rate-limit counts unreachable (a pool on no server, never opened: every
    call raises ``PoolClosed``, an ``OperationalError`` like a store outage)."""
    state = client.app.state  # type: ignore[attr-defined]
    kept = state.rate_limits
    state.rate_limits = RateLimitStore(
        AsyncConnectionPool("postgresql://127.0.0.1:1/away", open=False)
    )
    try:
        yield
    finally:
        state.rate_limits = kept
