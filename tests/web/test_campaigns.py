"""Campaigns in the panel and the API: drafting, approval (audited), who sees what, zones
refused with a clear message, and delivery whose page, CSV and API totals agree."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from config.settings import Settings
from store.plays import ingest
from tests.helpers import store
from tests.hub.campaign_helpers import AIRPORT_RING, CBD_RING, IN_CBD, OUTSIDE, polygon
from tests.web.campaign_helpers import advertiser, campaign_of
from tests.web.conftest import Conn, TenantFactory, api_token, sign_in

SQUARE = json.loads(polygon(CBD_RING))


def media_id_of(conn: Conn, tenant_id: str) -> str:
    row = conn.execute(
        "SELECT media_id FROM media WHERE tenant_id = %s ORDER BY created_at DESC LIMIT 1",
        (tenant_id,),
    ).fetchone()
    assert row is not None
    return str(row[0])


def test_an_admin_drafts_approves_and_the_steps_are_audited(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, panel_settings: Settings
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    account = advertiser(conn, tenant)
    seed = campaign_of(conn, panel_settings, tenant, account, approve=False)  # a media item
    csrf = sign_in(panel, tenant.admin)
    assert "New campaign" in panel.get("/campaigns").text
    form = {
        "csrf_token": csrf,
        "campaign_id": "acme-launch",
        "advertiser_id": account.advertiser_id,
        "name": "Acme launch",
        "brand": "Acme",
        "timezone": "UTC",
        "flight_start": (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "flight_end": (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
        "goal_unit": "plays",
        "daily_goal": "500",
        "priority": "3",
        "dayparts": "1-5 07:00-10:00\n6-7",
        "fleet": tenant.fleets[0],
        "creative": seed.media_id,
    }
    created = panel.post("/campaigns", data=form, follow_redirects=False)
    assert created.status_code == 303, created.text
    page = panel.get("/campaigns/acme-launch")
    assert "draft" in page.text
    assert "Mon–Fri 07:00–10:00" in page.text
    approved = panel.post(
        "/campaigns/acme-launch/status",
        data={"csrf_token": csrf, "action": "approve"},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    row = conn.execute(
        "SELECT status FROM campaigns WHERE tenant_id = %s AND campaign_id = 'acme-launch'",
        (tenant.tenant_id,),
    ).fetchone()
    assert row == ("running",)  # inside its flight: it runs at once
    steps = conn.execute(
        "SELECT actor, action FROM audit_log WHERE tenant_id = %s AND target = %s"
        " ORDER BY audit_id",
        (tenant.tenant_id, "campaign:acme-launch"),
    ).fetchall()
    assert steps == [
        (tenant.admin, "campaign.create"),
        (tenant.admin, "campaign.approve"),
        ("system", "campaign.start"),
    ]
    # A running campaign is not edited: it is paused first.
    refused = panel.post("/campaigns/acme-launch", data={**form, "name": "x"})
    assert refused.status_code == 422
    assert "a running campaign cannot be changed: pause it first" in refused.text
    paused = panel.post(
        "/campaigns/acme-launch/status",
        data={"csrf_token": csrf, "action": "pause"},
        follow_redirects=True,
    )
    assert "Paused" in paused.text
    again = panel.post(
        "/campaigns/acme-launch/status", data={"csrf_token": csrf, "action": "pause"}
    )
    assert again.status_code == 409
    assert "a paused campaign cannot be paused" in again.text


def test_advertisers_see_only_their_own_and_other_roles_none(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, panel_settings: Settings
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    mine, theirs = advertiser(conn, tenant, "mine"), advertiser(conn, tenant, "theirs")
    my_campaign = campaign_of(conn, panel_settings, tenant, mine)
    their_campaign = campaign_of(conn, panel_settings, tenant, theirs)
    sign_in(panel, mine.email)
    listing = panel.get("/campaigns").text
    assert my_campaign.campaign_id in listing
    assert their_campaign.campaign_id not in listing
    for path in ("", "/delivery", "/delivery.csv", "/delivery.json"):
        assert panel.get(f"/campaigns/{my_campaign.campaign_id}{path}").status_code == 200
        assert panel.get(f"/campaigns/{their_campaign.campaign_id}{path}").status_code == 404
    headers = api_token(panel, mine.email)
    ids = [c["campaign_id"] for c in panel.get("/api/v1/campaigns", headers=headers).json()]
    assert ids == [my_campaign.campaign_id]
    url = f"/api/v1/campaigns/{their_campaign.campaign_id}/delivery"
    assert panel.get(url, headers=headers).status_code == 404
    # An advertiser cannot approve its own campaign; a fleet owner sees no campaigns at all.
    csrf = sign_in(panel, mine.email)
    action = panel.post(
        f"/campaigns/{my_campaign.campaign_id}/status", data={"csrf_token": csrf, "action": "pause"}
    )
    assert action.status_code == 403
    sign_in(panel, tenant.owner)
    assert panel.get("/campaigns").status_code == 403
    assert panel.get(f"/campaigns/{my_campaign.campaign_id}").status_code == 403


def test_invalid_geojson_is_refused_with_a_clear_message(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    headers = api_token(panel, tenant.admin)
    open_ring = {"type": "Polygon", "coordinates": [CBD_RING[:-1]]}
    refused = panel.post(
        "/api/v1/zones", params={"name": "Open"}, content=json.dumps(open_ring), headers=headers
    )
    assert refused.status_code == 422
    assert "is not closed" in refused.json()["detail"]
    swapped = {"type": "Polygon", "coordinates": [[[lat, lon] for lon, lat in CBD_RING]]}
    refused = panel.post(
        "/api/v1/zones", params={"name": "Swapped"}, content=json.dumps(swapped), headers=headers
    )
    assert "latitude 103.845 is outside" in refused.json()["detail"]
    huge = panel.post(
        "/api/v1/zones", params={"name": "Huge"}, content=b" " * (1024 * 1024 + 1), headers=headers
    )
    assert huge.status_code == 413
    csrf = sign_in(panel, tenant.admin)
    page = panel.post(
        "/zones", data={"csrf_token": csrf, "name": "Open", "geojson": json.dumps(open_ring)}
    )
    assert page.status_code == 422
    assert "is not closed" in page.text
    assert conn.execute(
        "SELECT count(*) FROM zones WHERE tenant_id = %s", (tenant.tenant_id,)
    ).fetchone() == (0,)
    made = panel.post(
        "/api/v1/zones", params={"name": "CBD"}, content=json.dumps(SQUARE), headers=headers
    )
    assert made.status_code == 201, made.text
    assert made.json()["vertices"] == 5
    multi = {"type": "MultiPolygon", "coordinates": [[CBD_RING], [AIRPORT_RING]]}
    dup = panel.post(
        "/api/v1/zones", params={"name": "CBD"}, content=json.dumps(multi), headers=headers
    )
    assert dup.status_code == 422
    assert "exists already" in dup.json()["detail"]


def test_delivery_page_csv_and_api_totals_agree(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, panel_settings: Settings
) -> None:
    tenant = tenant_factory(fleets=1, tablets=2)
    account = advertiser(conn, tenant)
    made = campaign_of(
        conn, panel_settings, tenant, account, zone_ring=CBD_RING, fleets=(tenant.fleets[0],)
    )
    fleet = tenant.fleets[0]
    now = datetime.now(UTC)
    for n, tablet in enumerate(tenant.tablets[fleet]):
        events: list[dict[str, Any]] = []
        for k, where in enumerate([IN_CBD, IN_CBD, OUTSIDE]):
            events.append(
                {
                    "event_id": str(uuid.uuid4()),
                    "ad_id": made.media_id,
                    "campaign_id": made.campaign_id,
                    "playlist_id": "pl-x",
                    "playlist_etag": "e",
                    "started_at": (now - timedelta(minutes=10 * n + k)).isoformat(),
                    "duration_ms": 6000,
                    "result": "completed",
                    "lat": where[0],
                    "lon": where[1],
                }
            )
        result = store(conn, lambda aconn: ingest(aconn, tablet, fleet, events, now))  # noqa: B023
        assert result.accepted == 3
    sign_in(panel, account.email)
    page = panel.get(f"/campaigns/{made.campaign_id}/delivery").text
    assert re.search(r'data-field="total-delivered">4<', page)
    assert re.search(r'data-field="total-plays">6<', page)
    sheet = list(
        csv.reader(io.StringIO(panel.get(f"/campaigns/{made.campaign_id}/delivery.csv").text))
    )
    total = sheet[-1]
    assert total[0] == "total"
    assert total[1:2] + total[3:4] + total[7:10] == ["4", "6", "2", "2", "2"]
    api = panel.get(
        f"/api/v1/campaigns/{made.campaign_id}/delivery", headers=api_token(panel, account.email)
    ).json()
    assert api["total"]["delivered"] == 4
    assert api["total"]["plays"] == 6
    assert api["total"]["out_of_target"] == 2
    assert sum(d["delivered"] for d in api["days"]) == 4
    assert sum(h["plays"] for h in api["hours"]["hours"]) <= 6
    assert api["cells"]
    assert sum(c["plays"] for c in api["cells"]) == 6
