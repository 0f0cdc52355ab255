"""Tenant isolation on every route: another tenant's objects are 404, never 403, never shown.

The routes are read from the app itself, so a new route with a path parameter
is covered (or this test fails until it is).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from hub.payloads import PlaylistItem
from hub.playlists import Target, push
from tests.web.conftest import Conn, Tenant, TenantFactory, api_token, sign_in
from tests.web.lead_helpers import their_lead_objects

ITEMS = [PlaylistItem(ad_id="ad-x", campaign_id="c-x", url="https://cdn.example/x.mp4",
                      sha256="ab" * 32, duration_ms=15_000, position=0)]  # fmt: skip


def other_tenant_ids(conn: Conn, tenant: Tenant, client: TestClient) -> dict[str, str]:
    """One object of each kind in ``tenant``, keyed by the path parameter names routes use."""
    tablet = tenant.all_tablets[0]
    pushed = push(conn, Target("fleet", tenant.fleets[0]), ITEMS, emergency=True,
                  expires_s=3600, reason="theirs", actor="test", refresh_s=300,
                  tenant_id=tenant.tenant_id, name="Their playlist")  # fmt: skip
    incident_id = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO incidents (incident_id, tablet_id, fleet_id, kind, opened_at, offline_since)"
        " VALUES (%s, %s, %s, 'offline', %s, %s)",
        (incident_id, tablet, tenant.fleets[0], datetime.now(UTC),
         datetime.now(UTC) - timedelta(minutes=10)))  # fmt: skip
    ids = {"tablet_id": tablet, "fleet_id": tenant.fleets[0], "playlist_id": pushed.playlist_id,
           "incident_id": incident_id, "assignment_id": str(pushed.assignment_id)}  # fmt: skip
    ids["push_id"] = their_push(client, tenant)
    ids.update(their_lead_objects(conn, tenant))
    return ids


def their_push(client: TestClient, tenant: Tenant) -> str:
    """A push made by the other tenant's admin through the API."""
    headers = api_token(client, tenant.admin)
    response = client.post("/api/v1/pushes", headers=headers, json={
        "targets": [f"fleet:{tenant.fleets[0]}"], "items": [i.model_dump() for i in ITEMS],
        "expires_minutes": 30, "reason": "their emergency"})  # fmt: skip
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
# passenger opens from a QR code): tested in tests/web/test_leads_form.py.
PUBLIC_PREFIXES = ("/l/",)

# Path parameters that choose a view rather than name an object: the route answers for the
# user's own scope (200), and must not show the other tenant's objects.
VIEW_PARAMS = {"kind": "hourly"}


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
        if not names_an_object(path):
            assert response.status_code in (200, 403), (method, url)
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
        response = panel.get(
            route.path,
            params={"fleet": their_fleet},
            headers=headers if route.path.startswith(API_PREFIXES) else None,
        )
        assert response.status_code in (200, 404, 422), route.path
        assert their_tablet not in response.text, route.path
        checked += 1
    assert checked >= 5
