"""Advertisers of one tenant are isolated from each other: an advertiser naming another
advertiser's campaign, media or account on every campaign and zone route sees nothing of it
and changes nothing (the tenant sweep, tests/web/test_tenancy.py, covers other tenants)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from config.settings import Settings
from tests.hub.campaign_helpers import CBD_RING
from tests.web.campaign_helpers import advertiser, campaign_of
from tests.web.conftest import Conn, TenantFactory, api_token, sign_in

THEIR_ROWS = (
    "SELECT to_jsonb(c)::text FROM campaigns c WHERE tenant_id = %(t)s AND campaign_id = %(c)s"
    " UNION ALL SELECT to_jsonb(x)::text FROM campaign_zones x"
    " WHERE tenant_id = %(t)s AND campaign_id = %(c)s"
    " UNION ALL SELECT to_jsonb(x)::text FROM campaign_creatives x"
    " WHERE tenant_id = %(t)s AND campaign_id = %(c)s"
    " UNION ALL SELECT to_jsonb(x)::text FROM campaign_fleets x"
    " WHERE tenant_id = %(t)s AND campaign_id = %(c)s"
    " UNION ALL SELECT to_jsonb(z)::text FROM zones z WHERE tenant_id = %(t)s"
    " UNION ALL SELECT to_jsonb(a)::text FROM advertisers a WHERE tenant_id = %(t)s"
)


def _form(**values: str) -> dict[str, str]:
    return {
        "name": "Mine",
        "timezone": "UTC",
        "flight_start": "2030-01-01T00:00",
        "flight_end": "2030-02-01T00:00",
        **values,
    }


def test_an_advertiser_naming_anothers_ids_sees_and_changes_nothing(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, panel_settings: Settings
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    mine, theirs = advertiser(conn, tenant, "mine"), advertiser(conn, tenant, "theirs")
    draft = campaign_of(conn, panel_settings, tenant, mine, approve=False)
    their = campaign_of(conn, panel_settings, tenant, theirs, zone_ring=CBD_RING)
    assert their.zone_id is not None
    snapshot: dict[str, Any] = {"t": tenant.tenant_id, "c": their.campaign_id}
    before = sorted(conn.execute(THEIR_ROWS, snapshot).fetchall())
    secrets = [their.campaign_id, f"Campaign {their.campaign_id.removeprefix('camp-')}"]

    csrf = sign_in(panel, mine.email)
    for path in ("", "/delivery", "/delivery.csv", "/delivery.json"):
        assert panel.get(f"/campaigns/{their.campaign_id}{path}").status_code == 404
    edit = _form(csrf_token=csrf, advertiser_id=theirs.advertiser_id, creative=their.media_id)
    assert panel.post(f"/campaigns/{their.campaign_id}", data=edit).status_code == 404
    for action in ("approve", "pause", "resume", "finish"):
        acted = panel.post(
            f"/campaigns/{their.campaign_id}/status", data={"csrf_token": csrf, "action": action}
        )
        assert acted.status_code == 404
    # Their id for a new campaign: refused (ids are the tenant's); their account named: the
    # campaign is the advertiser's own; their creative: not in its library.
    taken = panel.post("/campaigns", data=_form(csrf_token=csrf, campaign_id=their.campaign_id))
    assert taken.status_code == 422
    own = panel.post(
        "/campaigns",
        data=_form(csrf_token=csrf, campaign_id="mine-new", advertiser_id=theirs.advertiser_id),
        follow_redirects=False,
    )
    assert own.status_code == 303
    owner = conn.execute(
        "SELECT advertiser_id FROM campaigns WHERE tenant_id = %s AND campaign_id = 'mine-new'",
        (tenant.tenant_id,),
    ).fetchone()
    assert owner == (mine.advertiser_id,)
    borrowed = panel.post(
        f"/campaigns/{draft.campaign_id}", data=_form(csrf_token=csrf, creative=their.media_id)
    )
    assert borrowed.status_code == 422
    assert f"no media {their.media_id} in your library" in borrowed.text
    # Zones are the tenant's to share, but not which campaigns of others target them.
    pages = [panel.get("/zones"), panel.get(f"/zones/{their.zone_id}")]
    assert all(p.status_code == 200 for p in pages)
    headers = api_token(panel, mine.email)
    for path in ("/zones", f"/zones/{their.zone_id}"):
        pages.append(panel.get(f"/api/v1{path}", headers=headers))
    for path in ("", "/delivery"):
        found = panel.get(f"/api/v1/campaigns/{their.campaign_id}{path}", headers=headers)
        assert found.status_code == 404
        pages.append(found)
    pages.append(panel.get("/api/v1/campaigns", headers=headers))
    pages.append(panel.get("/campaigns"))
    for page in pages:  # a 404 repeats the id asked for, nothing more
        shown = [s for s in secrets[page.status_code == 404 :] if s in page.text]
        assert not shown, f"{page.url} shows {shown}"
    after = sorted(conn.execute(THEIR_ROWS, snapshot).fetchall())
    assert after == before

    # An admin sees every advertiser's campaigns on the zone.
    sign_in(panel, tenant.admin)
    assert their.campaign_id in panel.get(f"/zones/{their.zone_id}").text
