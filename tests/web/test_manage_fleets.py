"""Fleets and cars in the panel: created and changed through forms, validated, audited and
NOTIFY-ed to the hub; fleet owners change only their own fleets; another tenant's ids 404."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.web.conftest import Conn, TenantFactory, sign_in
from tests.web.manage_helpers import hub_ears, post_form


def fleet(conn: Conn, fleet_id: str) -> tuple[object, ...] | None:
    return conn.execute(
        "SELECT tenant_id, name, timezone, operating_hours, alert_after_s, flap_limit"
        " FROM fleets WHERE fleet_id = %s",
        (fleet_id,),
    ).fetchone()


def audit(conn: Conn, tenant_id: str, action: str) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT actor, target, details FROM audit_log WHERE tenant_id = %s AND action = %s",
        (tenant_id, action),
    ).fetchall()


def test_an_admin_creates_a_fleet_with_the_forms_defaults(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, database_url: str
) -> None:
    tenant = tenant_factory(fleets=1)
    csrf = sign_in(panel, tenant.admin)
    page = panel.get("/manage/fleets/new")
    assert page.status_code == 200
    assert 'value="UTC"' in page.text
    assert 'value="5m"' in page.text
    new_id = f"{tenant.fleets[0]}-new"
    with hub_ears(database_url) as heard:
        done = post_form(
            panel,
            "/manage/fleets",
            csrf,
            {
                "fleet_id": new_id,
                "name": "",
                "timezone": "UTC",
                "hours": "",
                "alert_after": "5m",
                "flap_limit": "6",
            },
        )
    assert done.status_code == 303
    assert done.headers["location"] == f"/manage/fleets/{new_id}?done=created"
    assert fleet(conn, new_id) == (tenant.tenant_id, new_id, "UTC", "", 300, 6)
    assert f"fleethub_tablets fleet:{new_id}" in heard
    assert sorted(str(a[1]) for a in audit(conn, tenant.tenant_id, "fleet.add")) == sorted(
        [*[f"fleet:{f}" for f in tenant.fleets], f"fleet:{new_id}"]
    )
    shown = panel.get(done.headers["location"])
    assert "Fleet created." in shown.text


def test_bad_settings_rerender_the_form_and_change_nothing(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1)
    fleet_id = tenant.fleets[0]
    csrf = sign_in(panel, tenant.admin)
    before = fleet(conn, fleet_id)
    for fields, message in (
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"hours": "someday 25:00-26:00"}, "invalid"),
        ({"alert_after": "soon"}, "Alert delay: invalid duration"),
        ({"flap_limit": "0"}, "Flap limit: a whole number from 1 to 1000"),
        ({"name": "x" * 121}, "Name: at most 120 characters"),
    ):
        response = post_form(panel, f"/manage/fleets/{fleet_id}", csrf, fields)
        assert response.status_code == 422, fields
        assert response.headers["content-type"].startswith("text/html")
        assert message in response.text, (fields, response.text[-2000:])
        assert 'role="alert"' in response.text
    assert fleet(conn, fleet_id) == before
    taken = post_form(panel, "/manage/fleets", csrf, {"fleet_id": fleet_id})
    assert taken.status_code == 422
    assert "is taken" in taken.text
    assert fleet(conn, fleet_id) == before


def test_an_owner_changes_their_fleet_but_not_another(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, database_url: str
) -> None:
    tenant = tenant_factory(fleets=2)
    mine, not_mine = tenant.fleets
    csrf = sign_in(panel, tenant.owner)
    listing = panel.get("/manage/fleets").text
    assert f"/manage/fleets/{mine}" in listing
    assert not_mine not in listing
    assert "New fleet" not in listing
    with hub_ears(database_url) as heard:
        saved = post_form(
            panel,
            f"/manage/fleets/{mine}",
            csrf,
            {
                "name": "Night fleet",
                "timezone": "Asia/Singapore",
                "hours": "mon-fri 07:00-22:00",
                "alert_after": "90s",
                "flap_limit": "4",
            },
        )
    assert saved.status_code == 303
    assert fleet(conn, mine) == (
        tenant.tenant_id,
        "Night fleet",
        "Asia/Singapore",
        "mon-fri 07:00-22:00",
        90,
        4,
    )
    assert f"fleethub_tablets fleet:{mine}" in heard
    before = fleet(conn, not_mine)
    assert panel.get(f"/manage/fleets/{not_mine}").status_code == 404
    assert post_form(panel, f"/manage/fleets/{not_mine}", csrf, {"name": "x"}).status_code == 404
    assert fleet(conn, not_mine) == before
    assert panel.get("/manage/fleets/new").status_code == 403
    assert post_form(panel, "/manage/fleets", csrf, {"fleet_id": "owner-made"}).status_code == 403
    assert fleet(conn, "owner-made") is None


def test_cars_are_added_moved_with_their_tablets_and_removed(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, database_url: str
) -> None:
    tenant = tenant_factory(fleets=2, tablets=1)
    first, second = tenant.fleets
    car = f"{first}-car0"  # the fixture's car of the first fleet's tablet
    tablet = tenant.tablets[first][0]
    csrf = sign_in(panel, tenant.admin)
    added = post_form(panel, f"/manage/fleets/{first}/cars", csrf, {"car_id": "SGX-1"})
    assert added.status_code == 303
    dup = post_form(panel, f"/manage/fleets/{second}/cars", csrf, {"car_id": "SGX-1"})
    assert dup.status_code == 422
    assert "is taken" in dup.text
    with hub_ears(database_url) as heard:
        moved = post_form(panel, f"/manage/cars/{car}/move", csrf, {"fleet_id": second})
    assert moved.status_code == 303
    assert conn.execute(
        "SELECT fleet_id, car_id FROM tablets WHERE tablet_id = %s", (tablet,)
    ).fetchone() == (second, car)
    assert f"fleethub_tablets tablet:{tablet}" in heard
    assert audit(conn, tenant.tenant_id, "car.move")[0][2] == {
        "from": first,
        "to": second,
        "tablets": [tablet],
    }
    removed = post_form(panel, f"/manage/cars/{car}/remove", csrf)
    assert removed.status_code == 303
    assert conn.execute("SELECT 1 FROM cars WHERE car_id = %s", (car,)).fetchone() is None
    assert conn.execute(
        "SELECT fleet_id, car_id FROM tablets WHERE tablet_id = %s", (tablet,)
    ).fetchone() == (second, None)


def test_another_tenants_fleets_and_cars_are_404_and_unchanged(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    mine, theirs = tenant_factory(fleets=1), tenant_factory(fleets=2, tablets=1)
    their_fleet, their_other = theirs.fleets
    their_car = f"{their_fleet}-car0"
    csrf = sign_in(panel, mine.admin)
    before = fleet(conn, their_fleet)
    cars_before = conn.execute("SELECT car_id, fleet_id FROM cars ORDER BY car_id").fetchall()
    assert panel.get(f"/manage/fleets/{their_fleet}").status_code == 404
    for url, fields in (
        (f"/manage/fleets/{their_fleet}", {"name": "mine now"}),
        (f"/manage/fleets/{their_fleet}/cars", {"car_id": "sneaky"}),
        (f"/manage/cars/{their_car}/move", {"fleet_id": mine.fleets[0]}),
        (f"/manage/cars/{their_car}/move", {"fleet_id": their_other}),
        (f"/manage/cars/{their_car}/remove", {}),
    ):
        assert post_form(panel, url, csrf, fields).status_code == 404, url
    moved_in = post_form(
        panel, f"/manage/fleets/{mine.fleets[0]}/cars", csrf, {"car_id": their_car}
    )
    assert moved_in.status_code == 422
    assert "is taken" in moved_in.text
    assert "belongs to fleet" not in moved_in.text
    taken = post_form(panel, "/manage/fleets", csrf, {"fleet_id": their_fleet})
    assert taken.status_code == 422
    assert "is taken" in taken.text
    assert fleet(conn, their_fleet) == before
    assert conn.execute("SELECT car_id, fleet_id FROM cars ORDER BY car_id").fetchall() == (
        cars_before
    )
