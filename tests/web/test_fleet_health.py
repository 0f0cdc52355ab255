"""A fleet's health thresholds in the panel: defaults shown, overrides saved (only what
differs), validated, audited and NOTIFY-ed; owners only on their own fleets."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.web.conftest import Conn, TenantFactory, sign_in
from tests.web.manage_helpers import hub_ears, post_form


def stored(conn: Conn, fleet_id: str) -> object:
    row = conn.execute("SELECT health_policy FROM fleets WHERE fleet_id = %s", (fleet_id,))
    found = row.fetchone()
    return None if found is None else found[0]


def test_an_owner_overrides_thresholds_of_their_fleet(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, database_url: str
) -> None:
    tenant = tenant_factory(fleets=2)
    csrf = sign_in(panel, tenant.owner)
    mine = tenant.fleets[0]
    page = panel.get(f"/manage/fleets/{mine}/health")
    assert page.status_code == 200
    assert "default: 500" in page.text  # low storage, from the settings
    with hub_ears(database_url) as heard:
        done = post_form(
            panel,
            f"/manage/fleets/{mine}/health",
            csrf,
            {"low_storage_mb": "800", "crash_loop_boots": "3", "min_app_version": "2.1"},
        )
    assert done.status_code == 303
    # 3 boots is the default: only what differs is stored, so a changed default reaches it.
    assert stored(conn, mine) == {"low_storage_mb": 800, "min_app_version": "2.1"}
    assert f"fleethub_tablets fleet:{mine}" in heard
    audit = conn.execute(
        "SELECT actor, details FROM audit_log WHERE action = 'fleet.health_policy' AND target = %s",
        (f"fleet:{mine}",),
    ).fetchall()
    assert audit == [(tenant.owner, {"low_storage_mb": 800, "min_app_version": "2.1"})]
    shown = panel.get(done.headers["location"])
    assert 'value="800"' in shown.text
    assert "Thresholds saved" in shown.text


def test_bad_values_are_refused_and_change_nothing(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1)
    csrf = sign_in(panel, tenant.admin)
    fleet_id = tenant.fleets[0]
    for form, said in (
        ({"low_storage_mb": "-5"}, "low_storage_mb"),
        ({"clear_s": "soon"}, "Resolve after clear for: a number"),
        ({"min_app_version": "1.0 beta"}, "min_app_version"),
    ):
        answer = post_form(panel, f"/manage/fleets/{fleet_id}/health", csrf, form)
        assert answer.status_code == 422
        assert said in answer.text
    assert stored(conn, fleet_id) == {}


def test_another_fleet_or_tenant_is_not_found(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant, other = tenant_factory(fleets=2), tenant_factory(fleets=1)
    csrf = sign_in(panel, tenant.owner)
    for fleet_id in (tenant.fleets[1], other.fleets[0]):
        assert panel.get(f"/manage/fleets/{fleet_id}/health").status_code == 404
        answer = post_form(
            panel, f"/manage/fleets/{fleet_id}/health", csrf, {"low_storage_mb": "1"}
        )
        assert answer.status_code == 404
        assert stored(conn, fleet_id) == {}
