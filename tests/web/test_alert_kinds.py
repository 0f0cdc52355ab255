"""Health incidents in the panel: the alerts view and the API filter by kind, the detail is
shown, and the tile of a tablet with one open names it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.web.conftest import Conn, TenantFactory, api_token, sign_in


def add(conn: Conn, tablet_id: str, fleet_id: str, kind: str, detail: str | None) -> uuid.UUID:
    incident_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO incidents (incident_id, tablet_id, fleet_id, kind, opened_at, detail)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (incident_id, tablet_id, fleet_id, kind, datetime.now(UTC) - timedelta(minutes=5), detail),
    )
    return incident_id


def test_alerts_filter_by_kind_and_show_the_detail(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=2)
    fleet_id = tenant.fleets[0]
    one, two = tenant.tablets[fleet_id]
    low = add(conn, one, fleet_id, "low_storage", "120 MB free (limit 500 MB)")
    skew = add(conn, two, fleet_id, "clock_skew", "device clock 900 s ahead")
    sign_in(panel, tenant.owner)
    page = panel.get("/alerts", params={"kind": "low_storage"})
    assert page.status_code == 200
    assert f"incident-{low}" in page.text
    assert f"incident-{skew}" not in page.text
    assert "120 MB free (limit 500 MB)" in page.text
    assert '<option value="low_storage" selected>low storage</option>' in page.text
    both = panel.get("/alerts")
    assert f"incident-{low}" in both.text
    assert f"incident-{skew}" in both.text
    wrong = panel.get("/alerts", params={"kind": "sunburn"})
    assert wrong.status_code == 422
    assert "is not a kind of incident" in wrong.text
    api = api_token(panel, tenant.admin)
    listed = panel.get("/api/v1/incidents", params={"kind": "clock_skew"}, headers=api).json()
    assert [i["incident_id"] for i in listed] == [str(skew)]
    assert listed[0]["detail"] == "device clock 900 s ahead"
    assert panel.get("/api/v1/incidents", params={"kind": "x"}, headers=api).status_code == 422


def test_the_tile_names_open_health_incidents(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    fleet_id = tenant.fleets[0]
    (tablet,) = tenant.tablets[fleet_id]
    add(conn, tablet, fleet_id, "low_storage", None)
    add(conn, tablet, fleet_id, "app_outdated", None)
    sign_in(panel, tenant.owner)
    grid = panel.get("/")
    tile = grid.text.split(f'id="tile-{tablet}"', 1)[1].split("</a>", 1)[0]
    assert '<i class="health-open">app outdated · low storage</i>' in tile
    detail = panel.get(f"/tablets/{tablet}")
    assert "low storage" in detail.text
