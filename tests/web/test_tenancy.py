"""Tenant isolation on every route: another tenant's objects are 404, never 403, never shown.

The routes are read from the app itself, so a new route with a path parameter
is covered (or this test fails until it is).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx2 import Response
from psycopg import sql
from starlette.routing import BaseRoute

from config.errors import ConfigError
from config.settings import Settings
from contract.payloads import PlaylistItem
from devtools import media_samples
from store import claims, device_tokens
from store.fleets import FleetSpec, TabletSpec, add_fleet, add_tablet
from store.playlists import Target, push
from store.users import add_user
from tests.helpers import store
from tests.web.agent_helpers import agent_sign_in, make_agent
from tests.web.billing_helpers import add_driver, driver_link, their_billing_objects
from tests.web.campaign_helpers import advertiser, their_campaign_objects
from tests.web.conftest import (
    PASSWORD,
    Conn,
    Tenant,
    TenantFactory,
    api_token,
    sibling,
    sign_in,
)
from tests.web.lead_helpers import their_lead_objects
from tests.web.tenant_sweep import CASES, SKIPPED, Case, changed, naming, rows_of, shared
from tests.web.tenant_sweep import fill as fill_in
from web.app import create_app

ITEMS = [
    PlaylistItem(
        ad_id="ad-x",
        campaign_id="c-x",
        url="https://cdn.example/x.mp4",
        sha256="ab" * 32,
        duration_ms=15_000,
        position=0,
    )
]


def other_tenant_ids(conn: Conn, tenant: Tenant, client: TestClient) -> dict[str, str]:
    """One object of each kind in ``tenant``, keyed by the path parameter names routes use."""
    tablet = tenant.all_tablets[0]
    pushed = store(
        conn,
        lambda aconn: push(
            aconn,
            Target("fleet", tenant.fleets[0]),
            ITEMS,
            emergency=True,
            expires_s=3600,
            reason="theirs",
            actor="test",
            refresh_s=300,
            tenant_id=tenant.tenant_id,
            name="Their playlist",
        ),
    )
    incident_id = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO incidents (incident_id, tablet_id, fleet_id, kind, opened_at, offline_since)"
        " VALUES (%s, %s, %s, 'offline', %s, %s)",
        (
            incident_id,
            tablet,
            tenant.fleets[0],
            datetime.now(UTC),
            datetime.now(UTC) - timedelta(minutes=10),
        ),
    )
    ids = {
        "tablet_id": tablet,
        "fleet_id": tenant.fleets[0],
        "playlist_id": pushed.playlist_id,
        "incident_id": incident_id,
        "assignment_id": str(pushed.assignment_id),
        "car_id": f"{tenant.fleets[0]}-car0",
        "user_id": _user_id(conn, tenant.owner),
    }
    token = conn.execute(
        "INSERT INTO api_tokens (user_id, name, token_hash, hint)"
        " SELECT user_id, 'theirs', %s, 'xxxx' FROM users WHERE email = %s RETURNING token_id",
        (uuid.uuid4().hex, tenant.admin),
    ).fetchone()
    assert token is not None
    ids["token_id"] = str(token[0])
    ids["push_id"] = their_push(client, tenant)
    ids.update(their_lead_objects(conn, tenant))
    ids.update(their_billing_objects(conn, tenant, ids["lead_id"], ids["campaign_id"]))
    ids.update(their_media(client, tenant))
    ids.update(their_campaign_objects(conn, tenant, ids))
    ids.update(their_device_ops(client, tenant))
    return ids


def their_device_ops(client: TestClient, tenant: Tenant) -> dict[str, str]:
    """A screenshot command and a rollout the other tenant's admin started, and their owner's
    alert channel."""
    response = client.post(
        "/api/v1/commands",
        json={"name": "screenshot", "fleet": tenant.fleets[0]},
        headers=api_token(client, tenant.admin),
    )
    assert response.status_code == 201, response.text
    other = sibling(client)
    csrf = sign_in(other, tenant.owner)
    form = {"csrf_token": csrf, "channel": "email", "target": tenant.owner}
    added = other.post("/alerts/channels", data=form, follow_redirects=False)
    assert added.status_code == 303, added.text
    page = other.get("/alerts/channels").text
    match = re.search(r'id="subscription-(\d+)"', page)
    assert match, page[:500]
    csrf = sign_in(other, tenant.admin)
    rollout = {
        "csrf_token": csrf,
        "fleet": tenant.fleets[0],
        "app_version": "3.2.0",
        "package_url": "https://apps.example/theirs.apk",
        "sha256": "ab" * 32,
        "waves": "50, 100",
        "soak": "10m",
    }
    started = other.post("/rollouts", data=rollout, follow_redirects=False)
    assert started.status_code == 303, started.text
    return {
        "command_id": response.json()["command_id"],
        "subscription_id": match.group(1),
        "rollout_id": started.headers["location"].rsplit("/", 1)[1],
    }


def their_media(client: TestClient, tenant: Tenant) -> dict[str, str]:
    """A media item uploaded by the other tenant's admin: its id and its file's SHA-256."""
    response = client.post(
        "/api/v1/media",
        params={"name": "Their poster"},
        content=media_samples.image(label=tenant.tenant_id, fmt="PNG"),
        headers=api_token(client, tenant.admin),
    )
    assert response.status_code == 201, response.text
    return {"media_id": response.json()["media_id"], "sha256": response.json()["sha256"]}


def _user_id(conn: Conn, email: str) -> str:
    row = conn.execute("SELECT user_id FROM users WHERE email = %s", (email,)).fetchone()
    assert row is not None
    return str(row[0])


def their_push(client: TestClient, tenant: Tenant) -> str:
    """A push made by the other tenant's admin through the API."""
    headers = api_token(client, tenant.admin)
    response = client.post(
        "/api/v1/pushes",
        headers=headers,
        json={
            "targets": [f"fleet:{tenant.fleets[0]}"],
            "items": [i.model_dump() for i in ITEMS],
            "expires_minutes": 30,
            "reason": "their emergency",
        },
    )
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return str(body.get("push_id", body.get("id")))


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every APIRoute, looking inside included routers (FastAPI wraps them)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (inner := getattr(route, "original_router", None)) is not None:
            yield from api_routes(inner.routes)


def routes_with_params(client: TestClient) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for route in api_routes(client.app.routes):  # type: ignore[attr-defined]
        if "{" in route.path:
            out.extend((method, route.path) for method in sorted(route.methods or ()))
    return out


API_PREFIXES = ("/api/", "/v1/")  # bearer-token routes (/v1/ are the device spec's paths)
# Anonymous routes that name an object by an unguessable code, not by tenant (the lead form a
# passenger opens from a QR code): tested in tests/web/test_leads_form.py; a user's one-time
# set-password link and a driver's sign-in link (no sign-in yet); and a tablet's signed media
# download link (no user: the link's signature names tablet and tenant, 403 without it):
# tested in tests/web/test_media_download.py.
# A tablet's signed screenshot upload link likewise (tests/web/test_commands.py).
PUBLIC_PREFIXES = ("/l/", "/password/", "/signin/", "/media/", "/v1/device/screenshots/")

# Path parameters that choose a view rather than name an object: the route answers for the
# user's own scope (200), and must not show the other tenant's objects.
VIEW_PARAMS = {"kind": "hourly", "month": "2026-03"}


def fill(path: str, ids: dict[str, str]) -> str:
    values = {**ids, **VIEW_PARAMS}
    names = re.findall(r"{(\w+)(?::\w+)?}", path)
    missing = [n for n in names if n not in values]
    assert not missing, f"{path}: add an object for {missing} to this test"
    return re.sub(r"{(\w+)(?::\w+)?}", lambda m: values[m.group(1)], path)


def leaks(text: str, ids: dict[str, str]) -> list[str]:
    """The other tenant's distinctive ids (not bare numbers) found in ``text``."""
    kinds = ("tablet_id", "fleet_id", "playlist_id", "incident_id")
    return [ids[k] for k in kinds if ids[k] in text]


def names_an_object(path: str) -> bool:
    return any(n not in VIEW_PARAMS for n in re.findall(r"{(\w+)(?::\w+)?}", path))


@pytest.mark.parametrize("who", ["admin", "owner"])
def test_other_tenants_objects_are_404_everywhere(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, who: str
) -> None:
    mine, theirs = tenant_factory(), tenant_factory()
    ids = other_tenant_ids(conn, theirs, panel)
    email = mine.admin if who == "admin" else mine.owner
    headers = api_token(panel, email)
    csrf = sign_in(panel, email)
    checked = 0
    for method, path in routes_with_params(panel):
        if path.startswith(PUBLIC_PREFIXES):
            continue
        url = fill(path, ids)
        if path.startswith(API_PREFIXES):
            response = panel.request(method, url, headers=headers)
        elif method == "GET":
            response = panel.get(url)
        else:
            response = panel.request(method, url, data={"csrf_token": csrf})
        if not names_an_object(path):  # the user's own (a form posted empty may be refused)
            assert response.status_code in (200, 403, 422), (method, url)
            assert not leaks(response.text, ids), (method, url)
            continue
        assert response.status_code in (404, 403 if who == "owner" else 404), (method, url)
        if response.status_code == 403:  # a role check that fires before the lookup
            assert not leaks(response.text, ids), (method, url)
        checked += 1
    assert checked >= 10


def test_fleet_owner_gets_404_for_a_fleet_of_their_tenant_they_do_not_own(
    panel: TestClient, tenant_factory: TenantFactory
) -> None:
    tenant = tenant_factory(fleets=2)
    not_mine = tenant.tablets[tenant.fleets[1]][0]
    sign_in(panel, tenant.owner)
    assert panel.get(f"/tablets/{not_mine}").status_code == 404
    assert (
        panel.get(f"/api/v1/tablets/{not_mine}", headers=api_token(panel, tenant.owner)).status_code
        == 404
    )
    grid = panel.get("/").text
    assert not_mine not in grid
    assert tenant.tablets[tenant.fleets[0]][0] in grid


def test_fleet_filters_never_show_other_tenants_data(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    mine, theirs = tenant_factory(), tenant_factory()
    sign_in(panel, mine.admin)
    headers = api_token(panel, mine.admin)
    their_fleet = theirs.fleets[0]
    their_tablet = theirs.all_tablets[0]
    checked = 0
    for route in api_routes(panel.app.routes):  # type: ignore[attr-defined]
        if "GET" not in (route.methods or ()) or "{" in route.path:
            continue
        if "fleet" not in {p.name for p in route.dependant.query_params}:
            continue
        if route.path.endswith("/stream"):  # endless; its scope: tests/web/test_feed.py
            continue
        response = panel.get(
            route.path,
            params={"fleet": their_fleet},
            headers=headers if route.path.startswith(API_PREFIXES) else None,
        )
        assert response.status_code in (200, 404, 422), route.path
        assert their_tablet not in response.text, route.path
        checked += 1
    assert checked >= 5


# --- the sweep: every route, every method, as each role of one tenant, with another's ids ---


def test_every_route_has_a_sweep_case(panel_settings: Settings, database_url: str) -> None:
    """A route added without a case (or a case left for a route gone) fails here."""
    app = create_app(panel_settings, database_url)  # the route table; never started
    routes = {f"{m} {r.path}" for r in api_routes(app.routes) for m in r.methods or ()}
    assert not CASES.keys() & SKIPPED.keys()
    missing = sorted(routes - CASES.keys() - SKIPPED.keys())
    assert not missing, f"add a case to tests/web/tenant_sweep.py CASES for {missing}"
    stale = sorted((CASES.keys() | SKIPPED.keys()) - routes)
    assert not stale, f"no such route any more: {stale}"


def their_world(conn: Conn, tenant: Tenant, client: TestClient) -> dict[str, str]:
    """Every kind of object of ``tenant`` a route can name, with its people and secrets."""
    ids = other_tenant_ids(conn, tenant, client)
    ids["car_id"] = f"{tenant.fleets[0]}-car0"
    agent = make_agent(conn, tenant, "their-agent")
    ids["agent_user_id"], ids["agent_email"] = str(agent.user_id), agent.email
    ids["endpoint"] = f"https://push.example/{uuid.uuid4().hex}"
    conn.execute(
        "INSERT INTO push_subscriptions (endpoint, user_id, p256dh, auth)"
        " VALUES (%s, %s, 'p', 'a')",
        (ids["endpoint"], agent.user_id),
    )
    conn.execute(
        "INSERT INTO campaign_agents (tenant_id, campaign_id, user_id) VALUES (%s, %s, %s)",
        (tenant.tenant_id, ids["campaign_id"], agent.user_id),
    )
    row = conn.execute("SELECT etag FROM pushes WHERE push_id = %s", (ids["push_id"],)).fetchone()
    assert row is not None
    ids["etag"] = str(row[0])
    store(conn, lambda aconn: claims.create(aconn, tenant.fleets[0], "test", car_id=ids["car_id"]))
    return ids


# The other tenant's ids that name one object in the whole store (not per tenant).
GLOBAL_IDS = (
    "tablet_id",
    "fleet_id",
    "car_id",
    "incident_id",
    "push_id",
    "code",
    "lead_id",
    "agent_email",
    "endpoint",
)


def their_secrets(conn: Conn, tenant: Tenant, ids: dict[str, str]) -> list[str]:
    """What must never reach another tenant: names, e-mails, phones and global ids."""
    row = conn.execute(
        "SELECT array_agg(DISTINCT v) FROM (SELECT name FROM tenants WHERE tenant_id = %(t)s"
        " UNION SELECT name FROM fleets WHERE tenant_id = %(t)s"
        " UNION SELECT name FROM users WHERE tenant_id = %(t)s"
        " UNION SELECT email FROM users WHERE tenant_id = %(t)s"
        " UNION SELECT name FROM tenant_playlists WHERE tenant_id = %(t)s"
        " UNION SELECT name FROM lead_campaigns WHERE tenant_id = %(t)s"
        " UNION SELECT name FROM leads WHERE tenant_id = %(t)s"
        " UNION SELECT phone FROM leads WHERE tenant_id = %(t)s"
        " UNION SELECT reason FROM pushes WHERE tenant_id = %(t)s"
        " UNION SELECT name FROM drivers WHERE tenant_id = %(t)s"
        " UNION SELECT reason FROM lead_disputes WHERE tenant_id = %(t)s"
        " UNION SELECT name FROM media WHERE tenant_id = %(t)s"
        " UNION SELECT name FROM advertisers WHERE tenant_id = %(t)s"
        " UNION SELECT name FROM zones WHERE tenant_id = %(t)s"
        " UNION SELECT name FROM campaigns WHERE tenant_id = %(t)s) s(v)",
        {"t": tenant.tenant_id},
    ).fetchone()
    assert row is not None
    assert isinstance(row[0], list)
    return sorted({*map(str, row[0]), *(ids[k] for k in GLOBAL_IDS), *tenant.all_tablets})


@dataclass
class Caller:
    role: str
    email: str
    csrf: str = ""
    bearer: dict[str, str] = field(default_factory=dict)


def auths(path: str, case: Case) -> tuple[str, ...]:
    """How the route is called: a device's token, or a user's bearer token and session cookie
    for the API (the same user either way), or the cookie (and CSRF) for the panel."""
    if case.device:
        return ("device",)
    return ("bearer", "cookie") if path.startswith(API_PREFIXES) else ("cookie",)


def send(
    clients: tuple[TestClient, TestClient],
    caller: Caller,
    auth: str,
    method: str,
    path: str,
    case: Case,
    ids: dict[str, str],
    device: dict[str, str],
) -> Response:
    """``clients``: one with the caller's session cookie, one without cookies (tokens only)."""
    signed_in, bare = clients
    url = fill_in(re.sub(r"{(\w+)(?::\w+)?}", r"{\1}", path), {**ids, **fill_in(case.path, ids)})
    query, body = fill_in(case.query, ids), fill_in(case.json, ids)
    if auth in ("device", "bearer"):
        token = device if auth == "device" else caller.bearer
        return bare.request(method, url, params=query, json=body, headers=token)
    if method == "GET":
        return signed_in.get(url, params=query, follow_redirects=False)
    if case.form is None:  # a JSON route: CSRF in the header
        csrf = {"x-csrf-token": caller.csrf}
        return signed_in.request(
            method, url, params=query, json=body, headers=csrf, follow_redirects=False
        )
    form = {**fill_in(case.form, ids), "csrf_token": caller.csrf}
    return signed_in.request(method, url, params=query, data=form, follow_redirects=False)


def link_sign_in(client: TestClient, link: str) -> str:
    """Sign a driver in with their link (its confirm page's form); the session's CSRF token."""
    form = re.search(r'name="csrf_token" value="([^"]+)"', client.get(link).text)
    assert form
    client.post(link, data={"csrf_token": form.group(1)}, follow_redirects=False)
    page = client.get("/driver")
    match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def test_the_sweep_finds_no_cross_tenant_effect(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    """As A's admin, fleet owner, agent, advertiser and driver, every method of every route
    with B's ids in the path, query and body: no body shows B's data, none of B's rows
    changes, and whatever A creates under B's ids is A's own (no row of A names B's objects)."""
    mine, theirs = tenant_factory(fleets=1, tablets=1), tenant_factory()
    ids = their_world(conn, theirs, panel)
    secrets = their_secrets(conn, theirs, ids)
    global_ids = sorted({*(ids[k] for k in GLOBAL_IDS), *theirs.all_tablets, *theirs.fleets})
    ids |= {
        "my_user_id": _user_id(conn, mine.owner),
        "my_fleet_id": mine.fleets[0],
        "my_tablet_id": mine.all_tablets[0],
        "event_id": str(uuid.uuid4()),
        "started_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
    }
    agent = make_agent(conn, mine, "my-agent")
    my_advertiser = advertiser(conn, mine, "my-adv")
    my_driver = add_driver(conn, mine.tenant_id, mine.fleets[0], "My driver")
    ids["my_driver_id"] = str(my_driver)
    token = store(conn, lambda aconn: device_tokens.issue(aconn, mine.all_tablets[0], "test"))
    device = {"Authorization": f"Bearer {token}"}
    callers = [
        Caller("admin", mine.admin),
        Caller("owner", mine.owner),
        Caller("agent", agent.email),
        Caller("advertiser", my_advertiser.email),
        Caller("driver", f"driver-{my_driver}"),
    ]
    findings: list[str] = []
    requests = 0
    clients = (panel, sibling(panel))  # the second shares the running app, no cookies
    for caller in callers:
        panel.cookies.clear()
        if caller.role == "driver":  # a one-time link, no password: no API token either
            caller.csrf = link_sign_in(panel, driver_link(conn, mine.tenant_id, my_driver))
        else:
            caller.csrf = (
                agent_sign_in(panel, caller.email)
                if caller.role == "agent"
                else sign_in(panel, caller.email)
            )
            caller.bearer = api_token(panel, caller.email)
        for key, cases in CASES.items():
            method, path = key.split(" ", 1)
            for case, auth in ((c, a) for c in cases for a in auths(path, c)):
                if case.device and caller.role != "admin":
                    continue  # a device is no role: once is enough
                theirs_before, mine_before = (
                    rows_of(conn, theirs.tenant_id),
                    rows_of(conn, mine.tenant_id),
                )
                response = send(clients, caller, auth, method, path, case, ids, device)
                requests += 1
                where = f"{caller.role} ({auth}) {key} {case}"
                sent = f"{response.request.url} {response.request.content!r}"
                if response.status_code >= 500:
                    findings.append(f"{where}: {response.status_code}")
                if shown := [s for s in secrets if s in response.text and s not in sent]:
                    findings.append(f"{where}: the body shows {shown}")
                theirs_after, mine_after = (
                    rows_of(conn, theirs.tenant_id),
                    rows_of(conn, mine.tenant_id),
                )
                if touched := changed(theirs_before, theirs_after):
                    findings.append(f"{where}: their rows changed: {touched}")
                if named := naming(mine_after, mine_before, global_ids):
                    findings.append(f"{where}: {named}")
                if both := shared(mine_after, theirs_after, mine_before):
                    findings.append(f"{where}: rows held by both tenants: {both}")
    print(f"tenant sweep: {requests} requests, {len(findings)} cross-tenant effects")
    assert not findings, "\n".join(findings)
    # What A created under B's per-tenant ids is A's own: a campaign and a playlist of A.
    for table, column in (("lead_campaigns", "campaign_id"), ("tenant_playlists", "playlist_id")):
        query = sql.SQL(
            "SELECT tenant_id FROM {} WHERE {} = %s AND tenant_id = ANY(%s) ORDER BY 1"
        ).format(sql.Identifier(table), sql.Identifier(column))
        pair = [mine.tenant_id, theirs.tenant_id]
        owners = conn.execute(query, (ids[column], pair)).fetchall()
        assert owners == sorted([(mine.tenant_id,), (theirs.tenant_id,)]), table


# --- global ids: another tenant naming one gets a 409 that says no more, and nothing changes ---


def test_a_claim_code_for_another_tenants_car_is_refused(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    mine, theirs = tenant_factory(fleets=1, tablets=1), tenant_factory(fleets=1, tablets=1)
    their_car = f"{theirs.fleets[0]}-car0"
    url = f"/api/v1/fleets/{mine.fleets[0]}/claim-codes"
    before = rows_of(conn, theirs.tenant_id)
    refused = panel.post(url, headers=api_token(panel, mine.admin), json={"car_id": their_car})
    assert refused.status_code == 409, refused.text
    assert theirs.fleets[0] not in refused.text.replace(their_car, "")
    assert theirs.tenant_id not in refused.text
    csrf = sign_in(panel, mine.owner)
    page = panel.post(
        f"/fleets/{mine.fleets[0]}/pairing", data={"csrf_token": csrf, "car_id": their_car}
    )
    assert page.status_code == 409
    assert "already in use" in page.text
    assert conn.execute(
        "SELECT count(*) FROM claim_codes WHERE fleet_id = %s", (mine.fleets[0],)
    ).fetchone() == (0,)
    assert rows_of(conn, theirs.tenant_id) == before


def test_a_car_taken_by_another_tenant_after_the_code_was_made_is_refused_at_claim(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    mine, theirs = tenant_factory(fleets=1, tablets=1), tenant_factory(fleets=1, tablets=1)
    car = f"car-{uuid.uuid4().hex[:8]}"
    code = store(conn, lambda aconn: claims.create(aconn, mine.fleets[0], "test", car_id=car)).code
    store(
        conn,
        lambda aconn: add_tablet(
            aconn, TabletSpec(f"{theirs.fleets[0]}-late", theirs.fleets[0], car), "test"
        ),
    )
    before = rows_of(conn, theirs.tenant_id)
    refused = panel.post("/v1/device/pairing/claim", json={"claim_code": code})
    assert refused.status_code == 409, refused.text
    assert theirs.fleets[0] not in refused.text
    assert rows_of(conn, theirs.tenant_id) == before
    row = conn.execute(
        "SELECT claimed_at FROM claim_codes WHERE fleet_id = %s", (mine.fleets[0],)
    ).fetchone()
    assert row == (None,)  # unused: a code for a free car id still works


def test_another_tenants_push_endpoint_is_refused(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    mine, theirs = tenant_factory(fleets=1, tablets=1), tenant_factory(fleets=1, tablets=1)
    their_agent, my_agent = make_agent(conn, theirs), make_agent(conn, mine)
    endpoint = f"https://push.example/{uuid.uuid4().hex}"
    body = {"endpoint": endpoint, "keys": {"p256dh": "B" * 87, "auth": "A" * 22}}
    csrf = agent_sign_in(panel, their_agent.email)
    assert (
        panel.post("/agent/push/subscribe", json=body, headers={"x-csrf-token": csrf}).status_code
        == 201
    )
    before = rows_of(conn, theirs.tenant_id)
    panel.cookies.clear()
    csrf = agent_sign_in(panel, my_agent.email)
    refused = panel.post("/agent/push/subscribe", json=body, headers={"x-csrf-token": csrf})
    assert refused.status_code == 409, refused.text
    assert their_agent.email not in refused.text
    assert rows_of(conn, theirs.tenant_id) == before
    # Within one tenant a browser still moves to the agent signed in on it.
    colleague = make_agent(conn, mine, "colleague")
    assert (
        panel.post(
            "/agent/push/subscribe",
            json={**body, "endpoint": endpoint + "x"},
            headers={"x-csrf-token": csrf},
        ).status_code
        == 201
    )
    panel.cookies.clear()
    csrf = agent_sign_in(panel, colleague.email)
    moved = panel.post(
        "/agent/push/subscribe",
        json={**body, "endpoint": endpoint + "x"},
        headers={"x-csrf-token": csrf},
    )
    assert moved.status_code == 201, moved.text


def test_the_cli_never_takes_another_tenants_ids(tenant_factory: TenantFactory, conn: Conn) -> None:
    """Tablet and fleet ids are global (MQTT topics ``tablets/{id}/…``, ``fleets/{id}/alerts``),
    and so are e-mails: naming another tenant's is refused and changes nothing."""
    mine, theirs = tenant_factory(fleets=1, tablets=1), tenant_factory(fleets=1, tablets=1)
    before = rows_of(conn, theirs.tenant_id)
    with pytest.raises(ConfigError, match="belongs to another tenant"):
        store(
            conn,
            lambda aconn: add_tablet(
                aconn, TabletSpec(theirs.all_tablets[0], mine.fleets[0]), "test"
            ),
        )
    with pytest.raises(ConfigError, match="belongs to another tenant"):
        store(
            conn,
            lambda aconn: add_fleet(
                aconn, FleetSpec(theirs.fleets[0], tenant_id=mine.tenant_id), "test"
            ),
        )
    with pytest.raises(ConfigError, match="belongs to another tenant"):
        store(
            conn,
            partial(
                add_user,
                tenant_id=mine.tenant_id,
                email=theirs.admin,
                name="Taken",
                role="admin",
                password=PASSWORD,
                fleets=[],
                actor="test",
            ),
        )
    assert rows_of(conn, theirs.tenant_id) == before
