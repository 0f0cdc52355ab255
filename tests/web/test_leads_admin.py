"""Admins' lead pages and API: campaigns, agents, QR codes (PNG/SVG), the lead list, isolation."""

from __future__ import annotations

import re
import uuid
from functools import partial
from typing import Any

import segno
from fastapi.testclient import TestClient

from store.users import add_user
from tests.helpers import store
from tests.web.conftest import PASSWORD, Conn, Tenant, TenantFactory, api_token, sign_in
from tests.web.lead_helpers import form_token, make_campaign, make_code, make_lead
from web.leads.codes import picture


def audit(conn: Conn, tenant_id: str, action: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT actor, target, details FROM audit_log WHERE tenant_id = %s"
        " AND action = %s ORDER BY audit_id",
        (tenant_id, action),
    ).fetchall()


def agent(conn: Conn, tenant: Tenant, name: str = "Agent") -> int:
    return store(
        conn,
        partial(
            add_user,
            tenant_id=tenant.tenant_id,
            email=f"agent-{uuid.uuid4().hex[:8]}@ex.com",
            name=name,
            role="agent",
            password=PASSWORD,
            fleets=[],
            actor="test",
        ),
    )


def test_create_and_edit_a_campaign_with_audit(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    csrf = sign_in(panel, tenant.admin)
    campaign_id = f"ins-{uuid.uuid4().hex[:6]}"
    created = panel.post(
        "/leads/campaigns",
        data={
            "csrf_token": csrf,
            "campaign_id": campaign_id,
            "name": "Car insurance",
            "dedupe_hours": "12",
            "offer_timeout_s": "90",
            "routing": "round_robin",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    assert created.headers["location"] == f"/leads/campaigns/{campaign_id}?done=created"
    row = conn.execute(
        "SELECT name, extract(epoch FROM dedupe_window)::int, offer_timeout_s,"
        " routing FROM lead_campaigns WHERE tenant_id = %s AND campaign_id = %s",
        (tenant.tenant_id, campaign_id),
    ).fetchone()
    assert row == ("Car insurance", 12 * 3600, 90, "round_robin")
    [(actor, target, details)] = audit(conn, tenant.tenant_id, "lead_campaign.create")
    assert (actor, target) == (tenant.admin, f"lead_campaign:{campaign_id}")
    assert details["dedupe_hours"] == 12
    page = panel.get(f"/leads/campaigns/{campaign_id}")
    assert page.status_code == 200
    assert "Car insurance" in page.text
    assert '<a href="/leads">Leads</a>' in page.text  # the nav link

    again = panel.post(
        "/leads/campaigns", data={"csrf_token": csrf, "campaign_id": campaign_id, "name": "Other"}
    )
    assert again.status_code == 409
    assert "already has a lead campaign" in again.text
    bad = panel.post(
        "/leads/campaigns",
        data={"csrf_token": csrf, "campaign_id": "bad id/x", "name": "", "offer_timeout_s": "1"},
    )
    assert bad.status_code == 422
    assert "Campaign id:" in bad.text
    assert "Name:" in bad.text
    assert "Offer timeout (s):" in bad.text
    no_csrf = panel.post("/leads/campaigns", data={"campaign_id": "fresh-one", "name": "X"})
    assert no_csrf.status_code == 403
    assert conn.execute(
        "SELECT count(*) FROM lead_campaigns WHERE tenant_id = %s", (tenant.tenant_id,)
    ).fetchone() == (1,)

    edited = panel.post(
        f"/leads/campaigns/{campaign_id}",
        data={
            "csrf_token": csrf,
            "name": "Car insurance SG",
            "dedupe_hours": "48",
            "offer_timeout_s": "60",
            "routing": "round_robin",
        },
        follow_redirects=False,
    )
    assert edited.status_code == 303
    assert conn.execute(
        "SELECT name, routing FROM lead_campaigns WHERE campaign_id = %s", (campaign_id,)
    ).fetchone() == ("Car insurance SG", "round_robin")
    assert len(audit(conn, tenant.tenant_id, "lead_campaign.update")) == 1
    rejected = panel.post(
        f"/leads/campaigns/{campaign_id}",
        data={"csrf_token": csrf, "name": "Y", "dedupe_hours": "-1"},
    )
    assert rejected.status_code == 422
    assert "Dedupe window (hours):" in rejected.text
    assert conn.execute(
        "SELECT name FROM lead_campaigns WHERE campaign_id = %s", (campaign_id,)
    ).fetchone() == ("Car insurance SG",)


def test_subscribe_pause_and_remove_agents(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant, other = tenant_factory(fleets=1, tablets=1), tenant_factory(fleets=1, tablets=0)
    first, second = agent(conn, tenant, "Ann Agent"), agent(conn, tenant, "Bob Agent")
    foreign = agent(conn, other, "Their Agent")
    owner_id = conn.execute(
        "SELECT user_id FROM users WHERE email = %s", (tenant.owner,)
    ).fetchone()
    assert owner_id is not None
    campaign = make_campaign(conn, tenant.tenant_id)
    csrf = sign_in(panel, tenant.admin)
    url = f"/leads/campaigns/{campaign}/agents"

    def change(user_id: object, action: str) -> int:
        return panel.post(
            url,
            data={"csrf_token": csrf, "user_id": str(user_id), "action": action},
            follow_redirects=False,
        ).status_code

    assert change(first, "add") == 303
    assert change(second, "add") == 303
    assert change(first, "pause") == 303
    rows = conn.execute(
        "SELECT user_id, position, active FROM campaign_agents"
        " WHERE campaign_id = %s ORDER BY position",
        (campaign,),
    ).fetchall()
    assert rows == [(first, 0, False), (second, 1, True)]
    page = panel.get(f"/leads/campaigns/{campaign}").text
    assert "Ann Agent" in page
    assert "paused" in page
    assert "Their Agent" not in page
    for user_id in (foreign, owner_id[0], 99_999_999, "1" * 30):
        assert change(user_id, "add") == 422
    assert change(second, "fly") == 422
    assert change(first, "remove") == 303
    assert change(first, "remove") == 422  # not subscribed any more
    assert conn.execute(
        "SELECT user_id FROM campaign_agents WHERE campaign_id = %s", (campaign,)
    ).fetchall() == [(second,)]
    actions = [
        a
        for (a,) in conn.execute(
            "SELECT action FROM audit_log WHERE tenant_id = %s"
            " AND action LIKE 'lead_campaign.agent%%'"
            " ORDER BY audit_id",
            (tenant.tenant_id,),
        ).fetchall()
    ]
    assert actions == [
        "lead_campaign.agent_add",
        "lead_campaign.agent_add",
        "lead_campaign.agent_pause",
        "lead_campaign.agent_remove",
    ]


def test_qr_codes_create_list_revoke_and_pictures(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant, other = tenant_factory(fleets=2, tablets=1), tenant_factory(fleets=1, tablets=1)
    campaign = make_campaign(conn, tenant.tenant_id)
    csrf = sign_in(panel, tenant.admin)
    tablet = tenant.tablets[tenant.fleets[1]][0]
    url = f"/leads/campaigns/{campaign}/qr"
    created = panel.post(
        url,
        data={
            "csrf_token": csrf,
            "tablet_id": tablet,
            "fleet_id": "",
            "car_id": "",
            "max_leads": "25",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    [(code, fleet_id, tablet_id, cap)] = conn.execute(
        "SELECT code, fleet_id, tablet_id, max_leads FROM qr_codes WHERE campaign_id = %s",
        (campaign,),
    ).fetchall()
    assert (fleet_id, tablet_id, cap) == (tenant.fleets[1], tablet, 25)
    assert isinstance(code, str)
    assert re.fullmatch(r"[23456789abcdefghjkmnpqrstuvwxyz]{10}", code)
    [(actor, target, details)] = audit(conn, tenant.tenant_id, "lead_qr.create")
    assert (actor, target, details["tablet_id"]) == (tenant.admin, f"lead_qr:{code}", tablet)

    for bad in (
        {"tablet_id": other.all_tablets[0]},
        {"fleet_id": other.fleets[0]},
        {"tablet_id": tablet, "fleet_id": tenant.fleets[0]},
        {"max_leads": "0"},
        {"car_id": "no-such-car"},
    ):
        response = panel.post(url, data={"csrf_token": csrf, **bad})
        assert response.status_code == 422, bad
        assert "Where it is shown" in response.text or "Cap (new leads)" in response.text
    assert conn.execute(
        "SELECT count(*) FROM qr_codes WHERE campaign_id = %s", (campaign,)
    ).fetchone() == (1,)

    # A lead through the public form shows in the code's count.
    token = form_token(panel, code)
    assert (
        panel.post(
            f"/l/{code}", data={"token": token, "name": "P", "phone": "91234567", "consent": "yes"}
        ).status_code
        == 200
    )
    page = panel.get(f"/leads/campaigns/{campaign}").text
    row = re.search(rf'<tr id="qr-{code}">(.*?)</tr>', page, re.S)
    assert row
    assert "<td>1</td>" in row.group(1)
    assert "<td>25</td>" in row.group(1)

    png = panel.get(f"/leads/qr/{code}.png")
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    form_url = f"http://testserver/l/{code}"
    assert png.content == picture(form_url, "png")
    svg = panel.get(f"/leads/qr/{code}.svg")
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in svg.text
    assert re.search(r'<path[^>]* d="M', svg.text)
    assert form_url in svg.text  # the title names the URL it encodes
    assert svg.content == picture(form_url, "svg")
    # The matrix segno draws is the one of the form's URL, not of anything else.
    assert (
        segno.make_qr(form_url, error="m").matrix
        != segno.make_qr(f"http://testserver/l/{code}x", error="m").matrix
    )

    revoked = panel.post(
        f"/leads/qr/{code}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert panel.get(f"/l/{code}").status_code == 404
    assert panel.post(f"/leads/qr/{code}/revoke", data={"csrf_token": csrf}).status_code == 404
    assert len(audit(conn, tenant.tenant_id, "lead_qr.revoke")) == 1
    assert "revoked" in panel.get(f"/leads/campaigns/{campaign}").text


def test_lead_list_filters_pages_and_detail(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    campaign, other = make_campaign(conn, tenant.tenant_id), make_campaign(conn, tenant.tenant_id)
    code, other_code = (
        make_code(conn, tenant.tenant_id, campaign),
        make_code(conn, tenant.tenant_id, other),
    )
    ids = [make_lead(conn, tenant.tenant_id, campaign, code, f"+659{n:07}") for n in range(55)]
    conn.execute(
        "UPDATE leads SET submitted_at = now() - make_interval(secs => %s) WHERE lead_id = %s",
        (1000, ids[0]),
    )  # the oldest
    odd = make_lead(conn, tenant.tenant_id, other, other_code, "+6581112222")
    conn.execute(
        "UPDATE leads SET status = 'duplicate', duplicate_of = %s WHERE lead_id = %s", (ids[1], odd)
    )
    sign_in(panel, tenant.admin)

    first = panel.get("/leads").text
    assert first.count('<a href="/leads/') >= 50
    assert "Older" in first
    second = panel.get("/leads", params={"page": 2}).text
    assert ids[0] in second
    assert "Newer" in second
    assert "Older" not in second
    by_status = panel.get("/leads", params={"status": "duplicate"}).text
    assert odd in by_status
    assert ids[2] not in by_status
    by_campaign = panel.get("/leads", params={"campaign": other}).text
    assert "+6581112222" in by_campaign
    assert "+659" not in by_campaign
    assert panel.get("/leads", params={"status": "nonsense"}).status_code == 200

    detail = panel.get(f"/leads/{odd}")
    assert detail.status_code == 200
    assert "+6581112222" in detail.text
    assert ids[1] in detail.text
    assert panel.get(f"/leads/{uuid.uuid4()}").status_code == 404
    assert panel.get("/leads/not-a-uuid").status_code == 404


def test_fleet_owners_see_no_leads(panel: TestClient, tenant_factory: TenantFactory) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    sign_in(panel, tenant.owner)
    for path in ("/leads", "/leads/campaigns"):
        assert panel.get(path).status_code == 403
    assert '<a href="/leads">' not in panel.get("/").text
    assert panel.get("/api/v1/leads", headers=api_token(panel, tenant.owner)).status_code == 403


def test_another_tenants_campaign_code_and_lead_are_404(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    mine, theirs = tenant_factory(fleets=1, tablets=1), tenant_factory(fleets=1, tablets=1)
    campaign = make_campaign(conn, theirs.tenant_id)
    code = make_code(conn, theirs.tenant_id, campaign)
    lead_id = make_lead(conn, theirs.tenant_id, campaign, code)
    csrf = sign_in(panel, mine.admin)
    for path in (
        f"/leads/campaigns/{campaign}",
        f"/leads/qr/{code}.png",
        f"/leads/qr/{code}.svg",
        f"/leads/{lead_id}",
    ):
        assert panel.get(path).status_code == 404, path
    for path in (
        f"/leads/campaigns/{campaign}",
        f"/leads/campaigns/{campaign}/qr",
        f"/leads/campaigns/{campaign}/agents",
        f"/leads/qr/{code}/revoke",
    ):
        assert (
            panel.post(
                path, data={"csrf_token": csrf, "name": "x", "action": "add", "user_id": "1"}
            ).status_code
            == 404
        ), path
    assert "Their passenger" not in panel.get("/leads").text
    headers = api_token(panel, mine.admin)
    assert panel.get(f"/api/v1/leads/{lead_id}", headers=headers).status_code == 404
    assert (
        panel.post("/api/v1/leads/qr", headers=headers, json={"campaign_id": campaign}).status_code
        == 404
    )
    assert panel.get("/api/v1/leads", headers=headers).json()["leads"] == []
    assert conn.execute(
        "SELECT revoked_at IS NULL, count(*) OVER () FROM qr_codes WHERE campaign_id = %s",
        (campaign,),
    ).fetchone() == (True, 1)
    assert audit(conn, mine.tenant_id, "lead_qr.create") == []


def test_json_api_campaigns_codes_and_leads(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    headers = api_token(panel, tenant.admin)
    campaign_id = f"api-{uuid.uuid4().hex[:6]}"
    created = panel.post(
        "/api/v1/leads/campaigns",
        headers=headers,
        json={"campaign_id": campaign_id, "name": "Loans"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["campaign_id"] == campaign_id
    assert created.json()["offer_timeout_s"] == 120
    assert (
        panel.post(
            "/api/v1/leads/campaigns",
            headers=headers,
            json={"campaign_id": campaign_id, "name": "Again"},
        ).status_code
        == 409
    )
    assert [
        c["campaign_id"] for c in panel.get("/api/v1/leads/campaigns", headers=headers).json()
    ] == [campaign_id]

    qr = panel.post(
        "/api/v1/leads/qr",
        headers=headers,
        json={"campaign_id": campaign_id, "tablet_id": tenant.all_tablets[0], "max_leads": 3},
    )
    assert qr.status_code == 201, qr.text
    body = qr.json()
    assert body["url"] == f"http://testserver/l/{body['code']}"
    assert body["png"].endswith(f"/leads/qr/{body['code']}.png")
    assert body["fleet_id"] == tenant.fleets[0]
    assert (
        panel.post(
            "/api/v1/leads/qr",
            headers=headers,
            json={"campaign_id": campaign_id, "tablet_id": "nope"},
        ).status_code
        == 422
    )
    assert len(audit(conn, tenant.tenant_id, "lead_qr.create")) == 1

    token = form_token(panel, body["code"])
    assert (
        panel.post(
            f"/l/{body['code']}",
            data={"token": token, "name": "Lee", "phone": "8123 4567", "consent": "yes"},
        ).status_code
        == 200
    )
    listed = panel.get("/api/v1/leads", headers=headers, params={"campaign": campaign_id}).json()
    [lead] = listed["leads"]
    assert (lead["phone"], lead["status"], listed["has_more"]) == ("+6581234567", "new", False)
    one = panel.get(f"/api/v1/leads/{lead['lead_id']}", headers=headers).json()
    assert [e["event"] for e in one["events"]] == ["submitted"]
    assert (
        panel.get("/api/v1/leads", headers=headers, params={"status": "bogus"}).status_code == 422
    )
