"""App rollouts in the panel (admins): started with their checks (audited, first wave queued),
one at a time per fleet, followed by wave, halted, resumed and cancelled; fleet owners 403."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.web.conftest import Conn, TenantFactory, sign_in
from tests.web.manage_helpers import post_form

SHA = "cd" * 32


def form(fleet_id: str, **over: str) -> dict[str, str]:
    return {
        "fleet": fleet_id,
        "app_version": "3.2.0",
        "package_url": "https://apps.example/fleethub-3.2.0.apk",
        "sha256": SHA,
        "waves": "25, 100",
        "soak": "10m",
        "crash_excess": "5",
        "offline_excess": "10",
        **over,
    }


def test_an_admin_starts_follows_halts_resumes_and_cancels_a_rollout(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=4)
    fleet = tenant.fleets[0]
    csrf = sign_in(panel, tenant.admin)
    for bad, message in (
        ({"waves": "50, 10"}, "Waves: rising percentages"),
        ({"waves": "10, 50"}, "the last one is 100"),
        ({"sha256": "xyz"}, "SHA-256"),
        ({"package_url": "ftp://x"}, "Package URL"),
        ({"soak": "10s"}, "Soak: at least a minute"),
        ({"crash_excess": "120"}, "Crash loops"),
        ({"fleet": "no-such-fleet"}, "no fleet"),
    ):
        refused = post_form(panel, "/rollouts", csrf, form(fleet, **bad))
        assert refused.status_code == 422, bad
        assert message in refused.text, bad
    assert conn.execute(
        "SELECT count(*) FROM rollouts WHERE fleet_id = %s", (fleet,)
    ).fetchone() == (0,)

    started = post_form(panel, "/rollouts", csrf, form(fleet))
    assert started.status_code == 303
    page_url = started.headers["location"]
    rollout = int(page_url.rsplit("/", 1)[1])
    targets = conn.execute(
        "SELECT c.name, c.args->>'version', ct.state FROM rollout_tablets rt"
        " JOIN commands c USING (command_id)"
        " JOIN command_targets ct ON ct.command_id = rt.command_id AND ct.tablet_id = rt.tablet_id"
        " WHERE rt.rollout_id = %s",
        (rollout,),
    ).fetchall()
    assert targets == [("update_app", "3.2.0", "queued")]  # 25 % of 4 tablets
    audit = conn.execute(
        "SELECT details->>'first_wave_tablets' FROM audit_log WHERE action = 'rollout.create'"
        " AND target = %s",
        (f"rollout:{rollout}",),
    ).fetchall()
    assert audit == [("1",)]
    again = post_form(panel, "/rollouts", csrf, form(fleet, app_version="3.2.1"))
    assert "a rollout is running or halted there" in again.text

    page = panel.get(page_url)
    assert page.status_code == 200
    assert 'id="wave-1" class="current"' in page.text
    progress = panel.get(f"{page_url}/progress").text
    assert 'data-state="running"' in progress
    assert f"rollout-{rollout}" in panel.get("/rollouts").text

    assert post_form(panel, f"{page_url}/resume", csrf).status_code == 409  # it runs
    assert post_form(panel, f"{page_url}/halt", csrf).status_code == 303
    assert f"halted by {tenant.admin}" in panel.get(page_url).text
    assert post_form(panel, f"{page_url}/resume", csrf).status_code == 303
    assert post_form(panel, f"{page_url}/cancel", csrf).status_code == 303
    assert post_form(panel, f"{page_url}/halt", csrf).status_code == 409
    assert post_form(panel, "/rollouts/999999/halt", csrf).status_code == 404
    actions = conn.execute(
        "SELECT action FROM audit_log WHERE target = %s ORDER BY audit_id", (f"rollout:{rollout}",)
    ).fetchall()
    assert [a[0] for a in actions] == [
        "rollout.create",
        "rollout.halt",
        "rollout.resume",
        "rollout.cancel",
    ]
    # Cancelled: the fleet may get a new rollout.
    assert post_form(panel, "/rollouts", csrf, form(fleet, app_version="3.2.1")).status_code == 303

    owner_csrf = sign_in(panel, tenant.owner)
    assert panel.get("/rollouts").status_code == 403
    assert post_form(panel, "/rollouts", owner_csrf, form(fleet)).status_code == 403
    assert post_form(panel, f"{page_url}/halt", owner_csrf).status_code == 403
