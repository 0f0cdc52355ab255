"""Tablets in the panel: register (with broker credentials shown once), move, re-time,
device tokens, revoke, and the bulk actions; scoped, validated, audited, NOTIFY-ed."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient

from broker.runner import EmbeddedBroker
from tests.helpers import PahoTablet
from tests.web.conftest import Conn, TenantFactory, sign_in
from tests.web.manage_helpers import hub_ears, post_form


def registration(conn: Conn, tablet_id: str) -> tuple[object, ...] | None:
    return conn.execute(
        "SELECT fleet_id, car_id, heartbeat_interval_s, offline_after_s, revoked_at IS NOT NULL"
        " FROM tablets WHERE tablet_id = %s",
        (tablet_id,),
    ).fetchone()


def shown_secret(html: str) -> str | None:
    found = re.search(r'<p class="secret" id="secret">([^<]+)</p>', html)
    return found.group(1) if found else None


def test_a_registered_tablet_connects_with_the_password_shown_once(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, broker: EmbeddedBroker
) -> None:
    tenant = tenant_factory(fleets=1, tablets=0)
    csrf = sign_in(panel, tenant.admin)
    tablet_id = f"reg-{uuid.uuid4().hex[:8]}"
    form = panel.get(f"/manage/tablets/new?fleet={tenant.fleets[0]}")
    assert form.status_code == 200
    # The form's defaults: 60 s heartbeats, offline after 3 of them.
    done = post_form(
        panel,
        "/manage/tablets",
        csrf,
        {
            "tablet_id": tablet_id,
            "fleet_id": tenant.fleets[0],
            "car_id": "",
            "interval": "60s",
            "offline_after": "",
        },
    )
    assert done.status_code == 303, done.text
    assert "secret" not in done.headers["location"]
    assert registration(conn, tablet_id) == (tenant.fleets[0], None, 60, 180, False)
    page = panel.get(done.headers["location"])
    password = shown_secret(page.text)
    assert password is not None
    assert "Tablet registered." in page.text
    assert shown_secret(panel.get(done.headers["location"]).text) is None  # once
    tablet = PahoTablet(tablet_id, password, broker.host, broker.port).connect()
    tablet.close()
    again = post_form(
        panel, "/manage/tablets", csrf, {"tablet_id": tablet_id, "fleet_id": tenant.fleets[0]}
    )
    assert again.status_code == 422
    assert "already registered" in again.text


def test_bad_registrations_and_edits_change_nothing(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    tablet = tenant.all_tablets[0]
    csrf = sign_in(panel, tenant.admin)
    before = registration(conn, tablet)
    for fields, message in (
        ({"interval": "often"}, "Heartbeat every: invalid duration"),
        ({"interval": "60s", "offline_after": "30s"}, "must be longer than"),
        ({"car_id": "a car with spaces"}, "invalid car id"),
        ({"fleet_id": ""}, "Fleet: required"),
    ):
        response = post_form(
            panel, f"/manage/tablets/{tablet}", csrf, {"fleet_id": tenant.fleets[0], **fields}
        )
        assert response.status_code == 422, fields
        assert message in response.text, fields
        assert response.headers["content-type"].startswith("text/html")
    assert registration(conn, tablet) == before
    bad = post_form(
        panel,
        "/manage/tablets",
        csrf,
        {"tablet_id": "no spaces please", "fleet_id": tenant.fleets[0]},
    )
    assert bad.status_code == 422
    assert "invalid tablet id" in bad.text


def test_a_tablet_moves_and_is_retimed_and_the_hub_hears_it(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, database_url: str
) -> None:
    tenant = tenant_factory(fleets=2, tablets=1)
    tablet = tenant.tablets[tenant.fleets[0]][0]
    csrf = sign_in(panel, tenant.admin)
    page = panel.get(f"/manage/tablets/{tablet}")
    assert 'value="1s"' in page.text  # the fixture's 1 s heartbeat, as the form shows it
    unchanged = post_form(
        panel,
        f"/manage/tablets/{tablet}",
        csrf,
        {
            "fleet_id": tenant.fleets[0],
            "car_id": f"{tenant.fleets[0]}-car0",
            "interval": "1s",
            "offline_after": "3s",
        },
    )
    assert unchanged.status_code == 303  # the form as it came: saved as it was
    with hub_ears(database_url) as heard:
        moved = post_form(
            panel,
            f"/manage/tablets/{tablet}",
            csrf,
            {
                "fleet_id": tenant.fleets[1],
                "car_id": "new-car-9",
                "interval": "30s",
                "offline_after": "2m",
            },
        )
    assert moved.status_code == 303
    assert registration(conn, tablet) == (tenant.fleets[1], "new-car-9", 30, 120, False)
    assert f"fleethub_tablets tablet:{tablet}" in heard
    row = conn.execute(
        "SELECT actor, details FROM audit_log WHERE tenant_id = %s AND action = 'tablet.update'"
        " ORDER BY audit_id DESC LIMIT 1",
        (tenant.tenant_id,),
    ).fetchone()
    assert row == (tenant.admin, {"fleet_id": tenant.fleets[1], "car_id": "new-car-9"})


def test_device_tokens_are_shown_once_and_work(
    panel: TestClient, tenant_factory: TenantFactory
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    tablet = tenant.all_tablets[0]
    csrf = sign_in(panel, tenant.admin)
    made = post_form(panel, f"/manage/tablets/{tablet}/token", csrf)
    assert made.status_code == 303
    token = shown_secret(panel.get(made.headers["location"]).text)
    assert token is not None
    assert token.startswith("fht_")
    plan = panel.get("/v1/device/plan", headers={"Authorization": f"Bearer {token}"})
    assert plan.status_code == 200, plan.text
    ended = post_form(panel, f"/manage/tablets/{tablet}/tokens/revoke", csrf)
    assert ended.status_code == 303
    plan = panel.get("/v1/device/plan", headers={"Authorization": f"Bearer {token}"})
    assert plan.status_code == 401


def test_bulk_move_push_and_revoke(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=2, tablets=2)
    first, second = tenant.fleets
    ticked = tenant.tablets[first]
    csrf = sign_in(panel, tenant.admin)
    listing = panel.get(f"/manage/tablets?fleet={first}")
    assert all(f'value="{t}"' in listing.text for t in ticked)
    nothing = post_form(panel, "/manage/tablets/bulk", csrf, {"action": "move", "fleet_id": second})
    assert nothing.status_code == 422
    assert "Tick at least one tablet" in nothing.text
    moved = post_form(
        panel,
        "/manage/tablets/bulk",
        csrf,
        {
            "action": "move",
            "fleet_id": second,
            "car_id": "",
            "tablet": ticked,
            "back": f"/manage/tablets?fleet={first}",
        },
    )
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/manage/tablets?fleet={first}&done=moved"
    assert [registration(conn, t) for t in ticked] == [(second, None, 1, 3, False)] * 2
    push = post_form(panel, "/manage/tablets/bulk", csrf, {"action": "push", "tablet": ticked})
    assert push.status_code == 303
    form = panel.get(push.headers["location"])
    assert form.status_code == 200
    assert " ".join(ticked) in form.text
    revoked = post_form(
        panel,
        "/manage/tablets/bulk",
        csrf,
        {"action": "revoke", "tablet": ticked},
    )
    assert revoked.status_code == 303
    assert [registration(conn, t) for t in ticked] == [(second, None, 1, 3, True)] * 2
    assert (
        len(
            conn.execute(
                "SELECT 1 FROM audit_log WHERE tenant_id = %s AND action = 'tablet.revoke'",
                (tenant.tenant_id,),
            ).fetchall()
        )
        == 2
    )


@pytest.mark.parametrize("action", ["move", "revoke", "push"])
def test_a_selection_with_a_tablet_not_in_scope_changes_nothing(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, action: str
) -> None:
    tenant, other = tenant_factory(fleets=2, tablets=1), tenant_factory(fleets=1, tablets=1)
    mine = tenant.tablets[tenant.fleets[0]][0]
    not_owned = tenant.tablets[tenant.fleets[1]][0]  # the owner's tenant, not their fleet
    theirs = other.all_tablets[0]
    csrf = sign_in(panel, tenant.owner)
    before = [registration(conn, t) for t in (mine, not_owned, theirs)]
    for outsider in (not_owned, theirs):
        response = post_form(
            panel,
            "/manage/tablets/bulk",
            csrf,
            {"action": action, "fleet_id": tenant.fleets[0], "tablet": [mine, outsider]},
        )
        assert response.status_code == 404, outsider
        assert outsider not in response.text
    assert [registration(conn, t) for t in (mine, not_owned, theirs)] == before
    if action == "push":  # their own tablets, but pushing is the admins'
        refused = post_form(panel, "/manage/tablets/bulk", csrf, {"action": action, "tablet": mine})
        assert refused.status_code == 403
    for url in (f"/manage/tablets/{not_owned}", f"/manage/tablets/{theirs}"):
        assert panel.get(url).status_code == 404
        assert post_form(panel, url, csrf, {"fleet_id": tenant.fleets[0]}).status_code == 404
        assert post_form(panel, f"{url}/token", csrf).status_code == 404
        assert post_form(panel, f"{url}/revoke", csrf).status_code == 404
    assert [registration(conn, t) for t in (mine, not_owned, theirs)] == before
