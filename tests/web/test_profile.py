"""Issue 11, defects 4, 6 and 8: the profile page (time zone, personal API tokens), the
error pages' menu, the favicon, and API links that say how to use a token."""

from __future__ import annotations

import re
from functools import partial

from fastapi.testclient import TestClient

from store.users import add_user
from tests.helpers import store
from tests.web.conftest import PASSWORD, Conn, TenantFactory, post_login, sign_in

HTML = {"Accept": "text/html"}


def test_a_personal_token_is_shown_once_works_and_dies_when_revoked(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory()
    csrf = sign_in(panel, tenant.owner)
    made = panel.post(
        "/profile/tokens",
        data={"csrf_token": csrf, "name": "nightly export", "lifetime": "30d"},
        follow_redirects=False,
    )
    assert made.status_code == 303  # post/redirect/get: a reload never posts again
    page = panel.get(made.headers["location"])
    token = re.search(r'<code class="secret">(fhp_[^<]+)</code>', page.text)
    assert token, page.text[:2000]
    assert "nightly export" in page.text
    again = panel.get("/profile")
    assert token.group(1) not in again.text  # shown once
    assert f"…{token.group(1)[-4:]}" in again.text

    bearer = {"Authorization": f"Bearer {token.group(1)}"}
    tablets = panel.get("/api/v1/tablets", headers=bearer)
    assert tablets.status_code == 200
    assert {t["tablet_id"] for t in tablets.json()} == set(tenant.tablets[tenant.fleets[0]])
    row = conn.execute(
        "SELECT token_id, token_hash <> %s FROM api_tokens WHERE name = 'nightly export'"
        " AND user_id = (SELECT user_id FROM users WHERE email = %s)",
        (token.group(1), tenant.owner),
    ).fetchone()
    assert row is not None
    assert row[1] is True  # only its hash is stored

    revoked = panel.post(
        f"/profile/tokens/{row[0]}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert panel.get("/api/v1/tablets", headers=bearer).status_code == 401
    actions = [
        r[0]
        for r in conn.execute(
            "SELECT action FROM audit_log WHERE tenant_id = %s AND action LIKE 'api_token.%%'"
            " ORDER BY audit_id",
            (tenant.tenant_id,),
        ).fetchall()
    ]
    assert actions == ["api_token.create", "api_token.revoke"]


def test_a_token_needs_a_name_and_others_cannot_revoke_it(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory()
    csrf = sign_in(panel, tenant.owner)
    nameless = panel.post("/profile/tokens", data={"csrf_token": csrf, "name": "  "})
    assert nameless.status_code == 422
    assert "Give the token a name" in nameless.text
    panel.post("/profile/tokens", data={"csrf_token": csrf, "name": "mine"})
    token_id = conn.execute(
        "SELECT token_id FROM api_tokens t JOIN users u USING (user_id) WHERE u.email = %s",
        (tenant.owner,),
    ).fetchone()
    assert token_id is not None
    admin_csrf = sign_in(panel, tenant.admin)
    other = panel.post(f"/profile/tokens/{token_id[0]}/revoke", data={"csrf_token": admin_csrf})
    assert other.status_code == 404


def test_the_chosen_time_zone_is_where_times_are_shown(
    panel: TestClient, tenant_factory: TenantFactory
) -> None:
    tenant = tenant_factory()
    csrf = sign_in(panel, tenant.admin)
    assert "Times are in UTC" in panel.get("/alerts").text  # the test fleets' zone
    bad = panel.post("/profile/timezone", data={"csrf_token": csrf, "timezone": "Mars/Base"})
    assert bad.status_code == 422
    assert "is not a time zone" in bad.text
    saved = panel.post(
        "/profile/timezone",
        data={"csrf_token": csrf, "timezone": "Asia/Singapore"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    page = panel.get("/alerts")
    assert "Times are in Asia/Singapore" in page.text
    assert 'data-zone="Asia/Singapore"' in page.text  # the grid script's zone for tiles
    panel.post("/profile/timezone", data={"csrf_token": csrf, "timezone": ""})
    assert "Times are in UTC" in panel.get("/alerts").text


def test_every_role_starts_on_its_own_page_and_errors_keep_the_menu(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory()
    email = f"agent-{tenant.tenant_id}@example.com"
    store(
        conn,
        partial(
            add_user,
            tenant_id=tenant.tenant_id,
            email=email,
            name="Agent",
            role="agent",
            password=PASSWORD,
            fleets=[],
            actor="test",
        ),
    )
    signed = post_login(panel, email)
    assert signed.headers["location"] == "/agent/leads"
    home = panel.get("/", follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (303, "/agent/leads")
    refused = panel.get("/alerts", headers=HTML)
    assert refused.status_code == 403
    assert '<a class="brand" href="/agent/leads">' in refused.text
    assert '<a href="/agent/leads">Back to your leads</a>' in refused.text
    assert "Sign out" in refused.text
    assert '<a href="/agent/leads">My leads</a>' in refused.text


def test_the_favicon_and_the_api_help_for_browsers(
    panel: TestClient, tenant_factory: TenantFactory
) -> None:
    icon = panel.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    tenant = tenant_factory()
    sign_in(panel, tenant.admin)
    help_page = panel.get("/api/v1/reports/uptime", headers=HTML)
    assert help_page.status_code == 401
    assert "personal API token" in help_page.text
    assert 'href="/profile#tokens"' in help_page.text
    assert panel.get("/api/v1/reports/uptime").headers["content-type"] == "application/json"
