"""Issue 11, defect 11: QR codes (and pairing steps) that point at 127.0.0.1 say so.

With ``FLEETHUB_PUBLIC_BASE_URL`` unset the panel prints the address a request came to; a
phone cannot open a loopback one, so the campaign page warns and names the setting.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from config.settings import Settings
from tests.web.conftest import Conn, TenantFactory, sign_in
from tests.web.lead_helpers import make_campaign, make_code
from web.app import create_app
from web.http.public import PublicAddress


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8000", True),
        ("http://127.8.9.10", True),
        ("http://localhost:8000", True),
        ("http://[::1]:8000", True),
        ("http://192.168.1.20:8000", False),
        ("https://panel.example.com", False),
    ],
)
def test_which_addresses_only_this_machine_can_open(url: str, loopback: bool) -> None:
    assert PublicAddress(url, configured=False).loopback is loopback
    assert PublicAddress(url, configured=True).loopback is False  # the operator said so


def test_the_campaign_page_warns_when_its_qr_codes_point_at_loopback(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    campaign = make_campaign(conn, tenant.tenant_id)
    make_code(conn, tenant.tenant_id, campaign)
    sign_in(panel, tenant.admin)
    page = panel.get(f"/leads/campaigns/{campaign}", headers={"host": "127.0.0.1:8000"})
    assert page.status_code == 200
    assert 'class="warning"' in page.text
    assert "FLEETHUB_PUBLIC_BASE_URL" in page.text
    assert "http://127.0.0.1:8000/l/" in page.text
    public = panel.get(f"/leads/campaigns/{campaign}", headers={"host": "panel.example.com"})
    assert 'class="warning"' not in public.text


def test_no_warning_once_the_public_address_is_set(
    panel_settings: Settings, database_url: str, tenant_factory: TenantFactory, conn: Conn
) -> None:
    settings = panel_settings.model_copy(update={"public_base_url": "https://ads.example.com"})
    tenant = tenant_factory(fleets=1, tablets=1)
    campaign = make_campaign(conn, tenant.tenant_id)
    make_code(conn, tenant.tenant_id, campaign)
    with TestClient(create_app(settings, database_url)) as client:
        sign_in(client, tenant.admin)
        page = client.get(f"/leads/campaigns/{campaign}", headers={"host": "127.0.0.1:8000"})
    assert 'class="warning"' not in page.text
    assert "https://ads.example.com/l/" in page.text
