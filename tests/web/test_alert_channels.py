"""Alert subscriptions in the panel: added with their filters (audited), validated, listed
with the delivery log, removed; a fleet owner names only their fleets and sees only their own."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.web.conftest import Conn, TenantFactory, sign_in
from tests.web.manage_helpers import post_form


def subscriptions(conn: Conn, email: str) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT s.channel, s.target, s.fleets, s.kinds, s.quiet_from::text, s.quiet_until::text,"
        " s.timezone, s.digest_s, s.secret IS NOT NULL FROM alert_subscriptions s"
        " JOIN users u USING (user_id) WHERE u.email = %s ORDER BY s.subscription_id",
        (email,),
    ).fetchall()


def test_an_owner_subscribes_by_email_and_webhook_and_removes_one(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=2)
    csrf = sign_in(panel, tenant.owner)
    page = panel.get("/alerts/channels")
    assert page.status_code == 200
    assert f'value="{tenant.owner}"' in page.text  # the form starts with their own address
    mine = tenant.fleets[0]
    done = post_form(
        panel,
        "/alerts/channels",
        csrf,
        {
            "channel": "email",
            "target": tenant.owner,
            "fleets": [mine],
            "kinds": ["low_storage", "offline"],
            "quiet_from": "22:00",
            "quiet_until": "07:00",
            "timezone": "Asia/Singapore",
            "digest": "5m",
        },
    )
    assert done.status_code == 303
    hook = post_form(
        panel, "/alerts/channels", csrf, {"channel": "webhook", "target": "https://ops.example/h"}
    )
    assert hook.status_code == 303
    assert subscriptions(conn, tenant.owner) == [
        (
            "email",
            tenant.owner,
            [mine],
            ["low_storage", "offline"],
            "22:00:00",
            "07:00:00",
            "Asia/Singapore",
            300,
            False,
        ),
        ("webhook", "https://ops.example/h", [], [], None, None, "UTC", 0, True),
    ]
    listed = panel.get("/alerts/channels")
    assert "whsec_" in listed.text  # the signing secret, for the receiver
    assert "22:00–07:00 Asia/Singapore" in listed.text
    sub_id = conn.execute(
        "SELECT subscription_id FROM alert_subscriptions s JOIN users u USING (user_id)"
        " WHERE u.email = %s AND channel = 'webhook'",
        (tenant.owner,),
    ).fetchone()
    assert sub_id is not None
    gone = post_form(panel, f"/alerts/channels/{sub_id[0]}/remove", csrf)
    assert gone.status_code == 303
    assert [r[0] for r in subscriptions(conn, tenant.owner)] == ["email"]
    audit = conn.execute(
        "SELECT action FROM audit_log WHERE actor = %s AND action LIKE 'alerts.%%'"
        " ORDER BY audit_id",
        (tenant.owner,),
    ).fetchall()
    assert audit == [("alerts.subscribe",), ("alerts.subscribe",), ("alerts.unsubscribe",)]


def test_bad_subscriptions_are_refused(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant, other = tenant_factory(fleets=2), tenant_factory(fleets=1)
    csrf = sign_in(panel, tenant.owner)
    cases: list[tuple[dict[str, str | list[str]], str]] = [
        ({"channel": "email", "target": "not-an-address"}, "an e-mail address"),
        ({"channel": "webhook", "target": "ftp://x"}, "http:// or https://"),
        ({"channel": "telegram", "target": "hello world"}, "chat id"),
        ({"channel": "email", "target": "a@b.co", "quiet_from": "22:00"}, "both times"),
        ({"channel": "email", "target": "a@b.co", "kinds": ["sunburn"]}, "only the kinds"),
        ({"channel": "email", "target": "a@b.co", "fleets": [tenant.fleets[1]]}, "not one of"),
        ({"channel": "email", "target": "a@b.co", "fleets": [other.fleets[0]]}, "not one of"),
        ({"channel": "pigeon", "target": "a@b.co"}, "Channel"),
    ]
    for form, said in cases:
        answer = post_form(panel, "/alerts/channels", csrf, form)
        assert answer.status_code == 422, form
        assert said in answer.text
    assert subscriptions(conn, tenant.owner) == []


def test_one_cannot_remove_anothers_subscription(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1)
    csrf = sign_in(panel, tenant.admin)
    post_form(panel, "/alerts/channels", csrf, {"channel": "telegram", "target": "-100200"})
    row = conn.execute(
        "SELECT subscription_id FROM alert_subscriptions s JOIN users u USING (user_id)"
        " WHERE u.email = %s",
        (tenant.admin,),
    ).fetchone()
    assert row is not None
    owner_csrf = sign_in(panel, tenant.owner)
    answer = post_form(panel, f"/alerts/channels/{row[0]}/remove", owner_csrf)
    assert answer.status_code == 404
    assert len(subscriptions(conn, tenant.admin)) == 1
