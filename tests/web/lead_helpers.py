"""Lead campaigns, QR codes and leads in the real store, and reading the public form's token."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from fastapi.testclient import TestClient

from tests.web.conftest import Conn, Tenant
from web.leads.codes import new_code


def make_campaign(
    conn: Conn, tenant_id: str, name: str = "Car insurance", dedupe: timedelta = timedelta(hours=24)
) -> str:
    campaign_id = f"camp-{uuid.uuid4().hex[:8]}"
    conn.execute(
        "INSERT INTO lead_campaigns (tenant_id, campaign_id, name, dedupe_window)"
        " VALUES (%s, %s, %s, %s)",
        (tenant_id, campaign_id, name, dedupe),
    )
    return campaign_id


def make_code(
    conn: Conn,
    tenant_id: str,
    campaign_id: str,
    *,
    tablet_id: str | None = None,
    fleet_id: str | None = None,
    max_leads: int | None = None,
) -> str:
    code = new_code()
    conn.execute(
        "INSERT INTO qr_codes (code, tenant_id, campaign_id, fleet_id, tablet_id,"
        " max_leads, created_by) VALUES (%s, %s, %s, %s, %s, %s, 'test')",
        (code, tenant_id, campaign_id, fleet_id, tablet_id, max_leads),
    )
    return code


def make_lead(
    conn: Conn, tenant_id: str, campaign_id: str, code: str, phone: str = "+6591234567"
) -> str:
    lead_id = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO leads (lead_id, tenant_id, campaign_id, code, name, phone, consent,"
        " submit_key) VALUES (%s, %s, %s, %s, 'Their passenger', %s, true, %s)",
        (lead_id, tenant_id, campaign_id, code, phone, uuid.uuid4().hex),
    )
    return lead_id


def their_lead_objects(conn: Conn, tenant: Tenant) -> dict[str, str]:
    """One lead campaign, QR code and lead of ``tenant``, keyed by the routes' parameter names."""
    campaign_id = make_campaign(conn, tenant.tenant_id, "Their campaign")
    code = make_code(conn, tenant.tenant_id, campaign_id, tablet_id=tenant.all_tablets[0])
    lead_id = make_lead(conn, tenant.tenant_id, campaign_id, code)
    return {"campaign_id": campaign_id, "code": code, "lead_id": lead_id}


def form_token(client: TestClient, code: str) -> str:
    page = client.get(f"/l/{code}")
    assert page.status_code == 200, page.text
    match = re.search(r'name="token" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)
