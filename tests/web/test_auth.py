"""Signing in and out, sessions, CSRF, API tokens and roles, against the real store."""

from __future__ import annotations

from functools import partial
from typing import Any

import jwt
from fastapi.testclient import TestClient
from pydantic import SecretStr

from config.settings import Settings
from store.users import add_user
from tests.helpers import store
from tests.web.conftest import (
    PASSWORD,
    Conn,
    TenantFactory,
    api_token,
    login_csrf,
    post_login,
    sign_in,
)
from web.app import create_app


def test_pages_redirect_to_login_and_back(panel: TestClient, tenant_factory: TenantFactory) -> None:
    tenant = tenant_factory()
    response = panel.get("/?state=online", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/%3Fstate%3Donline"
    signed = post_login(panel, tenant.admin, next="/?state=online")
    assert signed.status_code == 303
    assert signed.headers["location"] == "/?state=online"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie


def test_wrong_password_is_a_clear_error_and_no_session(
    panel: TestClient, tenant_factory: TenantFactory
) -> None:
    tenant = tenant_factory()
    response = post_login(panel, tenant.admin, "nope-nope")
    assert response.status_code == 401
    assert "Wrong e-mail or password" in response.text
    assert panel.get("/", follow_redirects=False).status_code == 303


def test_login_never_redirects_off_site(panel: TestClient, tenant_factory: TenantFactory) -> None:
    tenant = tenant_factory()
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        response = post_login(panel, tenant.admin, next=target)
        assert response.headers["location"] == "/"


def test_repeated_failures_make_that_account_and_address_wait(
    panel: TestClient, tenant_factory: TenantFactory
) -> None:
    """Three wrong passwords are free; the fourth makes the next try wait (429, Retry-After),
    the right password included, from this address (tests/faults/test_sign_in_abuse.py: the
    owner elsewhere still gets in, and the delays grow)."""
    tenant = tenant_factory()
    codes = [post_login(panel, tenant.owner, "wrong-wrong").status_code for _ in range(4)]
    assert codes == [401] * 4
    blocked = post_login(panel, tenant.owner)
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == "1"
    assert "Too many failed sign-ins" in blocked.text


def test_login_needs_the_forms_csrf_token(panel: TestClient, tenant_factory: TenantFactory) -> None:
    """Another site cannot sign a browser in (to the attacker's account): the form's token is
    derived from a cookie the panel set with the form, and neither alone will do."""
    tenant = tenant_factory()
    data = {"email": tenant.admin, "password": PASSWORD}
    bare = panel.post("/login", data=data, follow_redirects=False)
    assert bare.status_code == 403
    assert "did not come from this panel" in bare.text
    token = login_csrf(panel)
    forged = panel.post(
        "/login", data={**data, "csrf_token": token[:-2] + "00"}, follow_redirects=False
    )
    assert forged.status_code == 403
    panel.cookies.clear()  # the token without its cookie
    assert (
        panel.post("/login", data={**data, "csrf_token": token}, follow_redirects=False).status_code
        == 403
    )
    assert panel.get("/", follow_redirects=False).status_code == 303
    token = login_csrf(panel)
    assert (
        panel.post("/login", data={**data, "csrf_token": token}, follow_redirects=False).status_code
        == 303
    )


def test_logout_needs_csrf_and_ends_the_session(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory()
    csrf = sign_in(panel, tenant.admin)
    forged = panel.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403
    assert panel.get("/", follow_redirects=False).status_code == 200
    done = panel.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert panel.get("/", follow_redirects=False).status_code == 303
    rows = conn.execute(
        "SELECT count(*) FROM web_sessions s JOIN users u USING (user_id) WHERE u.email = %s",
        (tenant.admin,),
    ).fetchone()
    assert rows == (0,)


def test_session_store_holds_only_a_digest(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory()
    sign_in(panel, tenant.admin)
    token = panel.cookies.get("fleethub_session")
    assert token
    stored = [r[0] for r in conn.execute("SELECT token_hash FROM web_sessions").fetchall()]
    assert token not in stored
    hashes = conn.execute(
        "SELECT password_hash FROM users WHERE email = %s", (tenant.admin,)
    ).fetchone()
    assert hashes is not None
    assert str(hashes[0]).startswith("$argon2id$")


def test_api_needs_a_valid_bearer_token(panel: TestClient, tenant_factory: TenantFactory) -> None:
    tenant = tenant_factory()
    assert panel.get("/api/v1/tablets").status_code == 401
    bad = panel.get("/api/v1/tablets", headers={"Authorization": "Bearer not.a.jwt"})
    assert bad.status_code == 401
    assert (
        panel.post(
            "/api/v1/auth/token", data={"username": tenant.admin, "password": "nope-nope"}
        ).status_code
        == 401
    )
    headers = api_token(panel, tenant.admin)
    tablets = panel.get("/api/v1/tablets", headers=headers).json()
    assert sorted(t["tablet_id"] for t in tablets) == sorted(tenant.all_tablets)


def test_roles_without_fleet_access_are_refused(
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
    post_login(panel, email)
    home = panel.get("/", follow_redirects=False)  # the logo: their own start page
    assert (home.status_code, home.headers["location"]) == (303, "/agent/leads")
    assert panel.get("/alerts", follow_redirects=False).status_code == 403
    headers = api_token(panel, email)
    assert panel.get("/api/v1/tablets", headers=headers).status_code == 403


def test_openapi_documents_the_api(panel: TestClient) -> None:
    schema = panel.get("/openapi.json").json()
    assert "/api/v1/tablets" in schema["paths"]
    assert "/api/v1/auth/token" in schema["paths"]
    assert panel.get("/docs").status_code == 200


def test_a_bearer_token_dies_with_its_session(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    """Today's token lived its 60 minutes whatever happened; now it is bound to the session
    it was issued with: signed out, or the password reset, and it is refused at once."""
    tenant = tenant_factory()
    first, second = api_token(panel, tenant.admin), api_token(panel, tenant.admin)
    assert panel.get("/api/v1/tablets", headers=first).status_code == 200
    assert panel.post("/api/v1/auth/logout", headers=first).status_code == 204
    assert panel.get("/api/v1/tablets", headers=first).status_code == 401
    assert panel.get("/api/v1/tablets", headers=second).status_code == 200  # its own session
    store(
        conn,
        partial(
            add_user,
            tenant_id=tenant.tenant_id,
            email=tenant.admin,
            name="Admin",
            role="admin",
            password=PASSWORD + " renewed",
            fleets=[],
            actor="test",
        ),
    )
    assert panel.get("/api/v1/tablets", headers=second).status_code == 401
    api_session = panel.post(
        "/api/v1/auth/token", data={"username": tenant.admin, "password": PASSWORD + " renewed"}
    )
    assert api_session.status_code == 200
    # An API session is no browser session: its id does not work as a cookie.
    claims = jwt.decode(api_session.json()["access_token"], options={"verify_signature": False})
    panel.cookies.set("fleethub_session", claims["sid"])
    assert panel.get("/", follow_redirects=False).status_code == 303


def test_errors_are_pages_for_browsers_and_json_for_the_api(
    panel: TestClient, tenant_factory: TenantFactory
) -> None:
    tenant = tenant_factory()
    sign_in(panel, tenant.owner)
    page = panel.get("/tablets/no-such-tablet", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert "Not found" in page.text
    assert "Sign out" in page.text  # the menu and sign-out: no dead end
    assert '<a href="/alerts">Alerts</a>' in page.text
    api = panel.get("/api/v1/tablets/no-such-tablet", headers=api_token(panel, tenant.owner))
    assert api.status_code == 404
    assert api.json()["detail"].startswith("no tablet")


def test_every_form_refuses_an_oversized_body_and_changes_nothing(
    panel: TestClient, tenant_factory: TenantFactory, panel_settings: Any
) -> None:
    tenant = tenant_factory()
    csrf = sign_in(panel, tenant.admin)
    big = "x" * (panel_settings.max_upload_bytes + 1)
    for path in ("/logout", "/push/preview"):
        response = panel.post(
            path,
            data={"csrf_token": csrf, "reason": big},
            headers={"Accept": "text/html"},
            follow_redirects=False,
        )
        assert response.status_code == 413, path
        assert "KiB limit" in response.text
    assert panel.get("/", follow_redirects=False).status_code == 200  # still signed in


def test_production_keeps_the_docs_private_and_the_cookie_secure(
    panel_settings: Settings, database_url: str, tenant_factory: TenantFactory
) -> None:
    """Production used to publish /docs and /openapi.json and send the session cookie over
    plain HTTP unless FLEETHUB_COOKIE_SECURE was set."""
    settings = Settings(
        environment="production",
        secret_key=SecretStr("k" * 40),
        var_dir=panel_settings.var_dir,
        mqtt_url=panel_settings.mqtt_url,
    )
    tenant = tenant_factory()
    app = create_app(settings, database_url)
    with TestClient(app, base_url="https://testserver") as production:  # behind TLS
        for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
            assert production.get(path).status_code == 404, path
        login = production.get("/login")
        assert "secure" in login.headers["set-cookie"].lower()  # the login form's cookie too
        signed = post_login(production, tenant.admin)
        assert signed.status_code == 303
        cookie = next(
            c for c in signed.headers.get_list("set-cookie") if c.startswith("fleethub_session=")
        )
        assert "; secure" in cookie.lower()
