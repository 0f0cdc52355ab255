"""Drivers: the register and its assignments, a one-time sign-in link, and a driver who sees
their own earnings and their car's tablet issues, and nothing of anyone else."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient

from tests.web.billing_helpers import add_card, add_driver, assign, record_plays
from tests.web.conftest import Conn, TenantFactory, sibling, sign_in


def link_of(page: str) -> str:
    match = re.search(r'id="secret">[^<]*(/signin/[A-Za-z0-9_-]+)<', page)
    assert match, page[:2000]
    return match.group(1)


def driver_sign_in(client: TestClient, link: str) -> TestClient:
    """Open the link and press 'Sign in', as the driver's phone would."""
    confirm = client.get(link)
    assert confirm.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', confirm.text)
    assert token
    done = client.post(link, data={"csrf_token": token.group(1)}, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/driver"
    return client


def test_a_driver_signs_in_with_a_link_and_sees_only_their_own(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=2, tablets=1)
    fleet, other_fleet = tenant.fleets
    car = f"{fleet}-car0"
    conn.execute("UPDATE fleets SET timezone = 'UTC' WHERE tenant_id = %s", (tenant.tenant_id,))
    add_card(conn, tenant.tenant_id, date(2026, 1, 1))
    ann = add_driver(conn, tenant.tenant_id, fleet, "Ann")
    bo = add_driver(conn, tenant.tenant_id, fleet, "Bo")
    today = datetime.now(UTC).date()
    month_start = datetime.combine(today.replace(day=1), datetime.min.time(), UTC)
    assign(conn, tenant.tenant_id, ann, car, today.replace(day=1), None)
    tablet = tenant.tablets[fleet][0]
    record_plays(
        conn,
        [
            (
                tablet,
                fleet,
                "c-a",
                max(datetime.now(UTC) - timedelta(minutes=1), month_start),
                60_000,
                "completed",
            )
        ],
    )
    conn.execute(
        "INSERT INTO incidents (incident_id, tablet_id, fleet_id, kind, opened_at, offline_since)"
        " VALUES (%s, %s, %s, 'offline', now(), now() - interval '10 minutes')",
        (uuid.uuid4(), tablet, fleet),
    )
    csrf = sign_in(panel, tenant.owner)  # the fleet owner sends the link
    made = panel.post(f"/drivers/{ann}/link", data={"csrf_token": csrf}, follow_redirects=True)
    link = link_of(made.text)
    assert "Sign-in link (shown once)" in made.text
    assert "/signin/" not in panel.get(f"/drivers/{ann}").text  # shown once

    phone = driver_sign_in(sibling(panel, ("testclient", 50001)), link)
    home = phone.get("/driver")
    assert home.status_code == 200
    assert "Ann" in home.text
    assert "SGD 0.02" in home.text  # 60 s × 0.002 = 0.12 gross; the driver's 15 % = 0.018
    assert "Offline" in home.text
    assert tablet in home.text
    month = f"{today:%Y-%m}"
    assert phone.get(f"/earnings/{month}/drivers/{ann}").status_code == 200
    assert phone.get(f"/earnings/{month}/drivers/{ann}.pdf").status_code == 200
    # Nobody else's statement, no fleet view, no other role's pages.
    assert phone.get(f"/earnings/{month}/drivers/{bo}").status_code == 404
    assert phone.get(f"/earnings/{month}/fleets/{fleet}").status_code == 404
    assert phone.get(f"/earnings/{month}/fleets/{other_fleet}.csv").status_code == 404
    for path in (
        "/earnings",
        "/drivers",
        f"/drivers/{ann}",
        "/agent/invoices",
        "/lead-billing",
    ):
        assert phone.get(path).status_code == 403, path
    # "/" (the live grid) leads a driver to their own start page, as it does every role
    # without the grid (web/http/menu.py).
    start = phone.get("/", follow_redirects=False)
    assert (start.status_code, start.headers["location"]) == (303, "/driver")
    # The link worked once.
    again = sibling(panel, ("testclient", 50002)).get(link)
    assert again.status_code == 404
    assert "expired or was already used" in again.text
    # The owner ends the access: the driver's session ends.
    panel.post(f"/drivers/{ann}/revoke", data={"csrf_token": csrf})
    assert phone.get("/driver", follow_redirects=False).status_code == 303


def test_a_sign_in_link_sets_no_password_and_needs_this_browsers_form(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    ann = add_driver(conn, tenant.tenant_id, tenant.fleets[0], "Ann")
    csrf = sign_in(panel, tenant.admin)
    link = link_of(
        panel.post(f"/drivers/{ann}/link", data={"csrf_token": csrf}, follow_redirects=True).text
    )
    token = link.rsplit("/", 1)[1]
    assert panel.get(f"/password/{token}").status_code == 404
    stranger = sibling(panel, ("testclient", 50003))
    forged = stranger.post(link, data={"csrf_token": "x" * 64}, follow_redirects=False)
    assert forged.status_code == 403
    assert "did not come from this panel" in forged.text
    driver_sign_in(sibling(panel, ("testclient", 50004)), link)  # still unused: works
    audit = conn.execute(
        "SELECT action FROM audit_log WHERE tenant_id = %s AND action LIKE 'driver.%%'"
        " ORDER BY audit_id",
        (tenant.tenant_id,),
    ).fetchall()
    assert [a for (a,) in audit] == ["driver.add", "driver.link", "driver.signin"]


def test_assignments_never_overlap_and_tablets_reports_are_matched(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=2, tablets=1)
    fleet = tenant.fleets[0]
    car = f"{fleet}-car0"
    ann = add_driver(conn, tenant.tenant_id, fleet, "Ann")
    bo = add_driver(conn, tenant.tenant_id, fleet, "Bo")
    csrf = sign_in(panel, tenant.owner)
    first = panel.post(
        f"/drivers/{ann}/assignments",
        data={"csrf_token": csrf, "car_id": car, "valid_from": "2026-06-01"},
    )
    assert first.status_code == 200
    assert "Assignment added" in first.text
    clash = panel.post(
        f"/drivers/{bo}/assignments",
        data={"csrf_token": csrf, "car_id": car, "valid_from": "2026-06-10"},
    )
    assert clash.status_code == 422
    assert "is driven by Ann" in clash.text
    foreign = panel.post(
        f"/drivers/{bo}/assignments",
        data={"csrf_token": csrf, "car_id": f"{tenant.fleets[1]}-car0", "valid_from": "2026-06-10"},
    )
    assert foreign.status_code == 422
    assert "has no car" in foreign.text
    code = conn.execute("SELECT code FROM drivers WHERE driver_id = %s", (bo,)).fetchone()
    assert code is not None
    conn.execute(
        "INSERT INTO heartbeats (time, tablet_id, seq, boot_id, extra) VALUES"
        " (now(), %s, 1, 'b', jsonb_build_object('driver_id', %s::text))",
        (tenant.tablets[fleet][0], code[0]),
    )
    page = panel.get("/drivers").text
    assert "does not match the register" in page
    assert f'href="/drivers/{bo}">Bo' in page
