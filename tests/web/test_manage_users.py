"""Users in the panel: invite with a one-time set-password link, role and fleets, deactivate,
reactivate, reset; admins only, their tenant only."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.web.conftest import PASSWORD, Conn, TenantFactory, post_login, sibling, sign_in
from tests.web.manage_helpers import post_form

NEW_PASSWORD = "plum tractor silence 42"


def shown_link(html: str) -> str | None:
    found = re.search(r'<p class="secret" id="secret">https?://[^/]+(/password/[^<]+)</p>', html)
    return found.group(1) if found else None


def user_id(conn: Conn, email: str) -> int:
    row = conn.execute("SELECT user_id FROM users WHERE email = %s", (email,)).fetchone()
    assert row is not None
    return int(str(row[0]))


def set_password(client: TestClient, link: str, password: str, again: str | None = None) -> int:
    response = client.post(
        link, data={"password": password, "again": again or password}, follow_redirects=False
    )
    return response.status_code


def test_an_invited_user_sets_a_password_once_and_signs_in(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=2)
    csrf = sign_in(panel, tenant.admin)
    email = f"new-{tenant.tenant_id}@example.com"
    # The form as it comes, with an e-mail: a fleet owner of no fleet yet.
    invited = post_form(
        panel, "/manage/users", csrf, {"email": email, "name": "", "role": "fleet_owner"}
    )
    assert invited.status_code == 303, invited.text
    page = panel.get(invited.headers["location"])
    link = shown_link(page.text)
    assert link is not None
    assert shown_link(panel.get(invited.headers["location"]).text) is None  # shown once
    assert "invited" in page.text
    newcomer = sibling(panel, ("203.0.113.7", 50001))
    assert post_login(newcomer, email, "").status_code != 303
    form = newcomer.get(link)
    assert form.status_code == 200
    assert email in form.text
    assert form.headers["referrer-policy"] == "no-referrer"
    assert set_password(newcomer, link, "password") == 422  # too easy
    assert set_password(newcomer, link, NEW_PASSWORD, "something else") == 422
    assert set_password(newcomer, link, NEW_PASSWORD) == 303
    assert newcomer.get(link).status_code == 404  # used
    assert set_password(newcomer, link, "another fine password 9") == 404
    assert post_login(newcomer, email, NEW_PASSWORD).status_code == 303
    actions = [
        r[0]
        for r in conn.execute(
            "SELECT action FROM audit_log WHERE tenant_id = %s AND target = %s ORDER BY audit_id",
            (tenant.tenant_id, f"user:{email}"),
        ).fetchall()
    ]
    assert actions == ["user.invite", "user.password_set"]


def test_roles_and_fleets_are_changed_and_checked(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=2)
    csrf = sign_in(panel, tenant.admin)
    owner = user_id(conn, tenant.owner)
    saved = post_form(
        panel,
        f"/manage/users/{owner}",
        csrf,
        {"name": "Owner of both", "role": "fleet_owner", "fleet": tenant.fleets},
    )
    assert saved.status_code == 303
    fleets = conn.execute(
        "SELECT array_agg(fleet_id ORDER BY fleet_id) FROM user_fleets WHERE user_id = %s",
        (owner,),
    ).fetchone()
    assert fleets == (sorted(tenant.fleets),)
    bad = post_form(
        panel, f"/manage/users/{owner}", csrf, {"name": "x", "role": "king", "fleet": []}
    )
    assert bad.status_code == 422
    assert "invalid role" in bad.text
    me = user_id(conn, tenant.admin)
    demoted = post_form(panel, f"/manage/users/{me}", csrf, {"name": "Me", "role": "agent"})
    assert demoted.status_code == 422
    assert "cannot take the admin role from yourself" in demoted.text
    myself = post_form(panel, f"/manage/users/{me}/active", csrf, {"active": "no"})
    assert myself.status_code == 422
    row = conn.execute("SELECT role, disabled_at FROM users WHERE user_id = %s", (me,)).fetchone()
    assert row == ("admin", None)


def test_deactivating_ends_sessions_and_reactivating_restores_sign_in(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1)
    owner_client = sibling(panel, ("203.0.113.8", 50002))
    sign_in(owner_client, tenant.owner)
    assert owner_client.get("/manage/fleets").status_code == 200
    csrf = sign_in(panel, tenant.admin)
    owner = user_id(conn, tenant.owner)
    off = post_form(panel, f"/manage/users/{owner}/active", csrf, {"active": "no"})
    assert off.status_code == 303
    assert owner_client.get("/manage/fleets", follow_redirects=False).status_code == 303
    assert post_login(owner_client, tenant.owner).status_code != 303
    on = post_form(panel, f"/manage/users/{owner}/active", csrf, {"active": "yes"})
    assert on.status_code == 303
    assert post_login(owner_client, tenant.owner).status_code == 303


def test_a_reset_ends_the_old_password_and_gives_a_new_link(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1)
    csrf = sign_in(panel, tenant.admin)
    owner = user_id(conn, tenant.owner)
    done = post_form(panel, f"/manage/users/{owner}/reset", csrf)
    assert done.status_code == 303
    link = shown_link(panel.get(done.headers["location"]).text)
    assert link is not None
    other = sibling(panel, ("203.0.113.9", 50003))
    assert post_login(other, tenant.owner, PASSWORD).status_code != 303
    assert set_password(other, link, NEW_PASSWORD) == 303
    assert post_login(other, tenant.owner, NEW_PASSWORD).status_code == 303


def test_only_admins_manage_users_and_only_their_tenants(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    mine, theirs = tenant_factory(fleets=1), tenant_factory(fleets=1)
    their_owner = user_id(conn, theirs.owner)
    before = conn.execute(
        "SELECT name, role, disabled_at, password_hash FROM users WHERE user_id = %s",
        (their_owner,),
    ).fetchone()
    csrf = sign_in(panel, mine.owner)
    assert panel.get("/manage/users").status_code == 403
    assert (
        post_form(
            panel, "/manage/users", csrf, {"email": "x@example.com", "role": "admin"}
        ).status_code
        == 403
    )
    csrf = sign_in(panel, mine.admin)
    assert theirs.owner not in panel.get("/manage/users").text
    for url, fields in (
        (f"/manage/users/{their_owner}", {"name": "Mine", "role": "admin"}),
        (f"/manage/users/{their_owner}/active", {"active": "no"}),
        (f"/manage/users/{their_owner}/reset", {}),
    ):
        assert post_form(panel, url, csrf, fields).status_code == 404, url
    assert panel.get(f"/manage/users/{their_owner}").status_code == 404
    assert panel.get("/manage/users/not-a-number").status_code == 404
    taken = post_form(panel, "/manage/users", csrf, {"email": theirs.owner, "role": "agent"})
    assert taken.status_code == 422
    assert "already has an account" in taken.text
    assert (
        conn.execute(
            "SELECT name, role, disabled_at, password_hash FROM users WHERE user_id = %s",
            (their_owner,),
        ).fetchone()
        == before
    )
