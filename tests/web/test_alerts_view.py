"""The alerts view and incidents API: listing, acknowledgement, notes, scope and CSRF."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.web.conftest import Conn, Tenant, TenantFactory, api_token, sign_in
from tests.web.test_tablet_detail import add_incident


def tablet_of(tenant: Tenant, fleet: int = 0, n: int = 0) -> tuple[str, str]:
    fleet_id = tenant.fleets[fleet]
    return tenant.tablets[fleet_id][n], fleet_id


def open_incident(
    conn: Conn, tenant: Tenant, fleet: int = 0, n: int = 0, hours_ago: float = 1
) -> uuid.UUID:
    tablet, fleet_id = tablet_of(tenant, fleet, n)
    return add_incident(conn, tablet, fleet_id, datetime.now(UTC) - timedelta(hours=hours_ago))


def section(page: str, marker: str) -> str:
    return page.split(marker, 1)[1].split("</table>", 1)[0] if marker in page else ""


def state_of(conn: Conn, incident: uuid.UUID) -> tuple[object, ...]:
    row = conn.execute(
        "SELECT acked_at, acked_by, (SELECT count(*) FROM incident_notes WHERE incident_id = %s)"
        " FROM incidents WHERE incident_id = %s",
        (incident, incident),
    ).fetchone()
    assert row is not None
    return row


def audit_rows(conn: Conn, incident: uuid.UUID) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT tenant_id, actor, action, details FROM audit_log WHERE target = %s ORDER BY at",
        (f"incident:{incident}",),
    ).fetchall()


def test_page_lists_open_and_recently_resolved_incidents(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory()
    now = datetime.now(UTC)
    older = open_incident(conn, tenant, 0, 0, hours_ago=5)
    newer = open_incident(conn, tenant, 1, 0, hours_ago=1)
    tablet, fleet_id = tablet_of(tenant, 0, 1)
    resolved = add_incident(
        conn, tablet, fleet_id, now - timedelta(days=2), resolved=now - timedelta(days=1)
    )
    stale = add_incident(
        conn, tablet, fleet_id, now - timedelta(days=9), resolved=now - timedelta(days=8)
    )
    conn.execute(
        "INSERT INTO incident_notes (incident_id, author, body) VALUES"
        " (%s, 'a@example.com', 'called the driver'), (%s, 'b@example.com', 'no answer')",
        (older, older),
    )
    sign_in(panel, tenant.admin)
    page = panel.get("/alerts").text
    opened = section(page, 'id="open-table"')
    assert opened.index(f"incident-{newer}") < opened.index(f"incident-{older}")
    assert f"incident-{resolved}" not in opened
    assert f"{tenant.fleets[0]}-car0" in opened
    assert "called the driver" in opened
    assert "no answer" in opened
    assert '<td class="notes-count" data-label="Notes">2</td>' in opened
    assert opened.count("Acknowledge</button>") == 2
    closed = section(page, 'id="resolved-table"')
    assert f"incident-{resolved}" in closed
    assert f"incident-{stale}" not in page

    by_fleet = panel.get("/alerts", params={"fleet": tenant.fleets[1]}).text
    assert f"incident-{newer}" in by_fleet
    assert f"incident-{older}" not in by_fleet
    assert f"incident-{resolved}" not in by_fleet
    only_resolved = panel.get("/alerts", params={"status": "resolved"}).text
    assert f"incident-{resolved}" in only_resolved
    assert f"incident-{newer}" not in only_resolved


def test_status_filter_separates_acknowledged_ones(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory()
    acked, waiting = open_incident(conn, tenant, 0, 0), open_incident(conn, tenant, 0, 1)
    csrf = sign_in(panel, tenant.admin)
    assert (
        panel.post(
            f"/alerts/{acked}/ack", data={"csrf_token": csrf}, follow_redirects=False
        ).status_code
        == 303
    )
    acked_page = panel.get("/alerts", params={"status": "acked"}).text
    assert f"incident-{acked}" in acked_page
    assert f"incident-{waiting}" not in acked_page
    assert tenant.admin in acked_page
    unacked_page = panel.get("/alerts", params={"status": "unacked"}).text
    assert f"incident-{waiting}" in unacked_page
    assert f"incident-{acked}" not in unacked_page
    api = api_token(panel, tenant.admin)
    listed = panel.get("/api/v1/incidents", params={"state": "acked"}, headers=api).json()
    assert [i["incident_id"] for i in listed] == [str(acked)]


def test_ack_sets_the_fields_once_and_audits_with_the_tenant(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory()
    incident = open_incident(conn, tenant)
    csrf = sign_in(panel, tenant.owner)
    done = panel.post(
        f"/alerts/{incident}/ack",
        data={"csrf_token": csrf, "status": "open"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/alerts?status=open#incident-{incident}"
    acked_at, acked_by, _ = state_of(conn, incident)
    assert acked_by == tenant.owner
    assert acked_at is not None
    tablet, fleet_id = tablet_of(tenant)
    assert audit_rows(conn, incident) == [
        (
            tenant.tenant_id,
            tenant.owner,
            "incident.ack",
            {"tablet_id": tablet, "fleet_id": fleet_id, "kind": "offline"},
        )
    ]

    csrf = sign_in(panel, tenant.admin)
    again = panel.post(f"/alerts/{incident}/ack", data={"csrf_token": csrf}, follow_redirects=False)
    assert again.status_code == 303
    headers = api_token(panel, tenant.admin)
    by_api = panel.post(f"/api/v1/incidents/{incident}/ack", headers=headers)
    assert by_api.status_code == 200
    assert by_api.json()["acked_by"] == tenant.owner
    assert state_of(conn, incident)[:2] == (acked_at, tenant.owner)
    assert len(audit_rows(conn, incident)) == 1


def test_api_ack_needs_no_csrf_and_is_audited(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory()
    incident = open_incident(conn, tenant)
    headers = api_token(panel, tenant.admin)
    listed = panel.get("/api/v1/incidents", headers=headers).json()
    assert [i["incident_id"] for i in listed] == [str(incident)]
    acked = panel.post(f"/api/v1/incidents/{incident}/ack", headers=headers)
    assert acked.status_code == 200
    assert acked.json()["acked_by"] == tenant.admin
    assert [r[:3] for r in audit_rows(conn, incident)] == [
        (tenant.tenant_id, tenant.admin, "incident.ack")
    ]
    paths = panel.get("/openapi.json").json()["paths"]
    assert "/api/v1/incidents/{incident_id}/ack" in paths
    assert not any(p.startswith("/alerts") for p in paths)


def test_notes_are_validated_and_shown_with_author(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory()
    incident = open_incident(conn, tenant)
    csrf = sign_in(panel, tenant.owner)
    url = f"/alerts/{incident}/notes"
    for body, message in (
        ("", "The note is empty"),
        ("   \n ", "The note is empty"),
        ("x" * 2001, "The note is too long: 2001 characters"),
    ):
        refused = panel.post(url, data={"csrf_token": csrf, "body": body})
        assert refused.status_code == 422
        assert message in refused.text
        assert f'id="incident-{incident}"' in refused.text
    assert state_of(conn, incident)[2] == 0
    assert audit_rows(conn, incident) == []

    added = panel.post(
        url,
        data={"csrf_token": csrf, "body": "  driver says the tablet fell  "},
        follow_redirects=False,
    )
    assert added.status_code == 303
    longest = panel.post(url, data={"csrf_token": csrf, "body": "y" * 2000}, follow_redirects=False)
    assert longest.status_code == 303
    notes = conn.execute(
        "SELECT author, body FROM incident_notes WHERE incident_id = %s ORDER BY note_id",
        (incident,),
    ).fetchall()
    assert notes == [(tenant.owner, "driver says the tablet fell"), (tenant.owner, "y" * 2000)]
    assert [r[2] for r in audit_rows(conn, incident)] == ["incident.note", "incident.note"]
    page = panel.get("/alerts").text
    shown = page.split(f'id="incident-{incident}"')[1].split("</tbody>")[0]
    assert "driver says the tablet fell" in shown
    assert tenant.owner in shown

    headers = api_token(panel, tenant.owner)
    empty = panel.post(f"/api/v1/incidents/{incident}/notes", json={"body": " "}, headers=headers)
    assert empty.status_code == 422
    assert "The note is empty" in empty.text
    assert panel.post(f"/api/v1/incidents/{incident}/notes", headers=headers).status_code == 422
    by_api = panel.post(
        f"/api/v1/incidents/{incident}/notes", json={"body": "from a script"}, headers=headers
    )
    assert by_api.status_code == 201
    detail = panel.get(f"/api/v1/incidents/{incident}", headers=headers).json()
    assert [n["body"] for n in detail["notes"]][-1] == "from a script"
    assert detail["incident"]["notes"] == 3


def test_forms_without_csrf_are_refused_and_change_nothing(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory()
    incident = open_incident(conn, tenant)
    sign_in(panel, tenant.admin)
    for data in ({}, {"csrf_token": "forged"}):
        assert panel.post(f"/alerts/{incident}/ack", data=data).status_code == 403
        note = panel.post(f"/alerts/{incident}/notes", data={**data, "body": "hello"})
        assert note.status_code == 403
    assert state_of(conn, incident) == (None, None, 0)
    assert audit_rows(conn, incident) == []


def test_incidents_outside_scope_are_missing_everywhere(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant, stranger = tenant_factory(), tenant_factory()
    mine = open_incident(conn, tenant, 0)
    not_owned = open_incident(conn, tenant, 1)
    foreign = open_incident(conn, stranger, 0)

    csrf = sign_in(panel, tenant.owner)
    page = panel.get("/alerts").text
    assert f"incident-{mine}" in page
    assert f"incident-{not_owned}" not in page
    assert f"incident-{foreign}" not in page
    fragment = panel.get("/alerts/open").text
    assert f"incident-{mine}" in fragment
    assert f"incident-{not_owned}" not in fragment
    # A fleet not theirs is no filter: the page says so and shows their own incidents only.
    other_fleet = panel.get("/alerts", params={"fleet": tenant.fleets[1]})
    assert other_fleet.status_code == 422
    assert "among yours" in other_fleet.text
    assert f"incident-{not_owned}" not in other_fleet.text
    headers = api_token(panel, tenant.owner)
    listed = panel.get("/api/v1/incidents", headers=headers).json()
    assert [i["incident_id"] for i in listed] == [str(mine)]
    for hidden in (not_owned, foreign, uuid.uuid4(), "not-a-uuid"):
        assert panel.post(f"/alerts/{hidden}/ack", data={"csrf_token": csrf}).status_code == 404
        note = panel.post(f"/alerts/{hidden}/notes", data={"csrf_token": csrf, "body": "hi"})
        assert note.status_code == 404
        empty = panel.post(f"/alerts/{hidden}/notes", data={"csrf_token": csrf, "body": ""})
        assert empty.status_code == 404
        api = f"/api/v1/incidents/{hidden}"
        assert panel.get(api, headers=headers).status_code == 404
        assert panel.post(f"{api}/ack", headers=headers).status_code == 404
        assert panel.post(f"{api}/notes", json={"body": "hi"}, headers=headers).status_code == 404
        assert panel.post(f"{api}/notes", headers=headers).status_code == 404
    for hidden in (not_owned, foreign):
        assert state_of(conn, hidden) == (None, None, 0)
        assert audit_rows(conn, hidden) == []

    csrf = sign_in(panel, tenant.admin)
    assert f"incident-{not_owned}" in panel.get("/alerts").text
    assert f"incident-{foreign}" not in panel.get("/alerts").text
    assert panel.post(f"/alerts/{foreign}/ack", data={"csrf_token": csrf}).status_code == 404
    headers = api_token(panel, tenant.admin)
    assert panel.post(f"/api/v1/incidents/{foreign}/ack", headers=headers).status_code == 404
    assert panel.get(f"/api/v1/incidents/{not_owned}", headers=headers).status_code == 200
    assert state_of(conn, foreign) == (None, None, 0)


def test_open_fragment_lists_open_ones_for_live_refresh(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory()
    now = datetime.now(UTC)
    live = open_incident(conn, tenant)
    tablet, fleet_id = tablet_of(tenant, 0, 1)
    gone = add_incident(conn, tablet, fleet_id, now - timedelta(hours=3), resolved=now)
    sign_in(panel, tenant.admin)
    page = panel.get("/alerts").text
    assert 'fetch("/alerts/open" + location.search' in page
    assert 'fleethub.stream("/grid/stream"' in page
    fragment = panel.get("/alerts/open")
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert f"incident-{live}" in fragment.text
    assert f"incident-{gone}" not in fragment.text
    later = open_incident(conn, tenant, 1)
    assert f"incident-{later}" in panel.get("/alerts/open").text
