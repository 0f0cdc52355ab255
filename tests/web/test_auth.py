"""Signing in and out, sessions, CSRF, API tokens and roles, against the real store."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.web.conftest import PASSWORD, Conn, TenantFactory, api_token, sign_in


def test_pages_redirect_to_login_and_back(panel: TestClient, tenant_factory: TenantFactory) -> None:
    tenant = tenant_factory()
    response = panel.get("/?state=online", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/%3Fstate%3Donline"
    signed = panel.post(
        "/login",
        data={"email": tenant.admin, "password": PASSWORD, "next": "/?state=online"},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/?state=online"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie


def test_wrong_password_is_a_clear_error_and_no_session(
    panel: TestClient, tenant_factory: TenantFactory
) -> None:
    tenant = tenant_factory()
    response = panel.post("/login", data={"email": tenant.admin, "password": "nope-nope"})
    assert response.status_code == 401
    assert "Wrong e-mail or password" in response.text
    assert panel.get("/", follow_redirects=False).status_code == 303


def test_login_never_redirects_off_site(panel: TestClient, tenant_factory: TenantFactory) -> None:
    tenant = tenant_factory()
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        response = panel.post(
            "/login",
            data={"email": tenant.admin, "password": PASSWORD, "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/"


def test_repeated_failures_are_throttled(panel: TestClient, tenant_factory: TenantFactory) -> None:
    tenant = tenant_factory()
    codes = [panel.post("/login", data={"email": tenant.owner, "password": "wrong-wrong"}
                        ).status_code for _ in range(6)]  # fmt: skip
    assert codes == [401] * 5 + [429]
    blocked = panel.post("/login", data={"email": tenant.owner, "password": PASSWORD})
    assert blocked.status_code == 429
    assert "Too many failed sign-ins" in blocked.text


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
        (tenant.admin,)).fetchone()  # fmt: skip
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
    from hub.users import add_user

    tenant = tenant_factory()
    email = f"agent-{tenant.tenant_id}@example.com"
    add_user(conn, tenant_id=tenant.tenant_id, email=email, name="Agent", role="agent",
             password=PASSWORD, fleets=[], actor="test")  # fmt: skip
    panel.post("/login", data={"email": email, "password": PASSWORD})
    assert panel.get("/", follow_redirects=False).status_code == 403
    headers = api_token(panel, email)
    assert panel.get("/api/v1/tablets", headers=headers).status_code == 403


def test_openapi_documents_the_api(panel: TestClient) -> None:
    schema = panel.get("/openapi.json").json()
    assert "/api/v1/tablets" in schema["paths"]
    assert "/api/v1/auth/token" in schema["paths"]
    assert panel.get("/docs").status_code == 200


def test_errors_are_pages_for_browsers_and_json_for_the_api(
    panel: TestClient, tenant_factory: TenantFactory
) -> None:
    tenant = tenant_factory()
    sign_in(panel, tenant.owner)
    page = panel.get("/tablets/no-such-tablet", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert "Not found" in page.text
    assert "Sign out" not in page.text  # the error page shows no session controls
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
