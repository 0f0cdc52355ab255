"""The admin's emergency push: form, confirm, send, progress, revert, API — on the real store."""

from __future__ import annotations

import asyncio
import html
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from store.playlists import resolve
from store.users import add_user
from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import Conn as AsyncConn
from tests.helpers import eventually, state_of
from tests.web.conftest import PASSWORD, Conn, Tenant, TenantFactory, api_token, sign_in

ITEM = {
    "ad_id": "ad-sos",
    "campaign_id": "c-sos",
    "url": "https://cdn.example/sos.mp4",
    "sha256": "c" * 64,
    "duration_ms": 20000,
}


def fields(**overrides: Any) -> dict[str, Any]:
    """A valid form: an inline item, the tenant's first fleet left to the caller, 1 h, a reason."""
    base: dict[str, Any] = {
        "source": "inline",
        "items": json.dumps(ITEM),
        "scope": "all",
        "expires": "60",
        "reason": "road closed",
    }
    base.update(overrides)
    return base


def stored(conn: Conn, tenant_id: str) -> tuple[int, int, int]:
    """(pushes, assignments, push audit rows) of a tenant."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM pushes WHERE tenant_id = %(t)s),"
        " (SELECT count(*) FROM playlist_assignments WHERE tenant_id = %(t)s),"
        " (SELECT count(*) FROM audit_log WHERE tenant_id = %(t)s"
        "   AND action IN ('playlist.push', 'playlist.revert'))",
        {"t": tenant_id},
    ).fetchone()
    assert row is not None
    return int(str(row[0])), int(str(row[1])), int(str(row[2]))


def send(client: TestClient, csrf: str, **overrides: Any) -> str:
    response = client.post(
        "/push/send", data={"csrf_token": csrf, **fields(**overrides)}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/push/([0-9a-f-]{36})", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


def set_state(conn: Conn, tablet_id: str, state: str, applied: str | None = None) -> None:
    conn.execute(
        "UPDATE tablet_state SET state = %s, applied_etag = %s, updated_at = now()"
        " WHERE tablet_id = %s",
        (state, applied, tablet_id),
    )


def deliver(conn: Conn, tablet_id: str, etag: str, status: str, detail: str | None = None) -> None:
    conn.execute(
        "INSERT INTO deliveries (tablet_id, etag, status, published_at, acked_at, detail)"
        " VALUES (%s, %s, %s, now(), CASE WHEN %s = 'published' THEN NULL ELSE now() END, %s)"
        " ON CONFLICT (tablet_id, etag) DO UPDATE SET status = excluded.status,"
        " acked_at = excluded.acked_at, detail = excluded.detail",
        (tablet_id, etag, status, status, detail),
    )


def etag_of(conn: Conn, push_id: str) -> str:
    row = conn.execute("SELECT etag FROM pushes WHERE push_id = %s", (push_id,)).fetchone()
    assert row is not None
    return str(row[0])


def test_fleet_owner_is_refused(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory()
    csrf = sign_in(panel, tenant.owner)
    assert panel.get("/push").status_code == 403
    sent = panel.post("/push/send", data={"csrf_token": csrf, **fields()})
    assert sent.status_code == 403
    headers = api_token(panel, tenant.owner)
    body = {"items": [ITEM], "targets": ["all"], "expires_minutes": 15, "reason": "x"}
    assert panel.post("/api/v1/pushes", json=body, headers=headers).status_code == 403
    assert panel.get("/api/v1/pushes", headers=headers).status_code == 403
    assert stored(conn, tenant.tenant_id) == (0, 0, 0)


def test_form_offers_only_the_tenants_playlists_and_fleets(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    mine, other = tenant_factory(), tenant_factory()
    for tenant, name in ((mine, "Mine library"), (other, "Other library")):
        playlist_id = f"pl-{uuid.uuid4().hex[:12]}"
        conn.execute(
            "INSERT INTO playlists (tenant_id, playlist_id, name) VALUES (%s, %s, %s)",
            (tenant.tenant_id, playlist_id, name),
        )
        conn.execute(
            "INSERT INTO tenant_playlists (tenant_id, playlist_id, name) VALUES (%s, %s, %s)",
            (tenant.tenant_id, playlist_id, name),
        )
    sign_in(panel, mine.admin)
    page = panel.get("/push")
    assert page.status_code == 200
    assert "Mine library" in page.text
    assert "Other library" not in page.text
    for fleet_id in mine.fleets:
        assert f'value="{fleet_id}"' in page.text
    for fleet_id in other.fleets:
        assert fleet_id not in page.text
    assert "No push yet." in page.text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"reason": ""}, "Give a reason"),
        ({"items": json.dumps({**ITEM, "sha256": "xyz"})}, "Item 1: sha256"),
        ({"items": json.dumps({**ITEM, "duration_ms": 0})}, "Item 1: duration_ms"),
        ({"items": json.dumps(ITEM) + "\n{not json"}, "Item 2: not a JSON object"),
        ({"items": ""}, "Compose at least one item"),
        ({"source": "library", "playlist_id": ""}, "Pick a playlist"),
        ({"source": "library", "playlist_id": "pl-nowhere"}, "No playlist &#39;pl-nowhere&#39;"),
        ({"scope": "selected"}, "Choose at least one fleet, car or tablet"),
        ({"scope": "selected", "tablets": "no-such-tablet"}, "No tablet no-such-tablet in your"),
        ({"scope": "selected", "cars": "no-such-car"}, "No car no-such-car in your tenant"),
        ({"scope": "selected", "fleet": "bad id!"}, "Not a valid fleet id"),
        ({"expires": "custom", "expires_custom": "0"}, "between 1 and 10080 minutes"),
        ({"expires": "custom", "expires_custom": "soon"}, "whole minutes"),
        ({"expires": "7"}, "Choose when the push expires"),
    ],
)
def test_invalid_input_is_explained_and_stores_nothing(
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    overrides: dict[str, Any],
    message: str,
) -> None:
    tenant = tenant_factory()
    csrf = sign_in(panel, tenant.admin)
    for url in ("/push/preview", "/push/send"):
        response = panel.post(url, data={"csrf_token": csrf, **fields(**overrides)})
        assert response.status_code == 422, (url, response.text[:300])
        assert message in response.text, (url, response.text)
        assert "The push was not sent" in response.text
        # The typed values come back so the admin can fix them.
        if overrides.get("reason"):
            assert overrides["reason"] in response.text
    assert stored(conn, tenant.tenant_id) == (0, 0, 0)


def test_missing_csrf_is_refused(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory()
    sign_in(panel, tenant.admin)
    response = panel.post("/push/send", data={"csrf_token": "forged", **fields()})
    assert response.status_code == 403
    assert stored(conn, tenant.tenant_id) == (0, 0, 0)


def test_other_tenants_targets_are_unknown_without_leaking(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    mine, other = tenant_factory(), tenant_factory()
    csrf = sign_in(panel, mine.admin)
    theirs = {
        "fleet": other.fleets[0],
        "tablets": other.all_tablets[0],
        "cars": f"{other.fleets[0]}-car0",
    }
    made_up = {"fleet": "fl-nowhere", "tablets": "tb-nowhere", "cars": "car-nowhere"}
    for key in ("fleet", "tablets", "cars"):
        answers = []
        for ident in (theirs[key], made_up[key]):
            response = panel.post(
                "/push/send", data={"csrf_token": csrf, **fields(scope="selected", **{key: ident})}
            )
            assert response.status_code == 422
            errors = re.findall(r'class="error field-error"[^>]*>([^<]*)<', response.text)
            answers.append([e.replace(ident, "ID") for e in errors])
        assert answers[0] == answers[1], answers
        assert "in your tenant" in answers[0][0]
    headers = api_token(panel, mine.admin)
    body = {
        "items": [ITEM],
        "targets": [f"fleet:{other.fleets[0]}"],
        "expires_minutes": 15,
        "reason": "probe",
    }
    response = panel.post("/api/v1/pushes", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"] == {"fleets": f"No fleet {other.fleets[0]} in your tenant."}
    assert stored(conn, mine.tenant_id) == (0, 0, 0)
    assert stored(conn, other.tenant_id) == (0, 0, 0)


def test_confirm_shows_the_reach_and_carries_the_values(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=2, tablets=2)
    first, second = tenant.fleets
    set_state(conn, tenant.tablets[first][0], "online")
    set_state(conn, tenant.tablets[second][1], "online")  # online but not targeted
    csrf = sign_in(panel, tenant.admin)
    response = panel.post(
        "/push/preview",
        data={
            "csrf_token": csrf,
            **fields(
                scope="selected",
                fleet=first,
                tablets=tenant.tablets[second][0],
                expires="custom",
                expires_custom="90",
                reason="flood <warning>",
            ),
        },
    )
    assert response.status_code == 200, response.text
    text = response.text
    assert re.search(
        r'This will reach <b id="reach-tablets">3</b> tablets \(<b id="reach-online">'
        r"1</b> online now\)",
        text,
    ), text
    assert f'name="fleet" value="{first}"' in text
    assert f'name="tablets" value="{tenant.tablets[second][0]}"' in text
    assert 'name="expires_custom" value="90"' in text
    assert "flood &lt;warning&gt;" in text
    assert "90 minutes after sending" in text
    assert stored(conn, tenant.tenant_id) == (0, 0, 0)
    # "Change it" gives the form back with the values.
    back = panel.post(
        "/push/edit",
        data={"csrf_token": csrf, **fields(scope="selected", fleet=first, reason="flood warning")},
    )
    assert back.status_code == 200
    assert f'value="{first}" checked' in back.text
    assert 'value="flood warning"' in back.text


async def _resolved_etags(database_url: str, tablet_ids: list[str]) -> dict[str, str]:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as aconn:
        manifests = await resolve(aconn, 300, tablet_ids)
    return {tablet_id: m.etag for tablet_id, m in manifests.items()}


def test_send_stores_one_assignment_per_target_with_the_hubs_etag(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, database_url: str
) -> None:
    tenant = tenant_factory(fleets=2, tablets=2)
    first, second = tenant.fleets
    csrf = sign_in(panel, tenant.admin)
    conn.execute("LISTEN fleethub_playlists")
    before = datetime.now(UTC)
    push_id = send(
        panel,
        csrf,
        scope="selected",
        fleet=first,
        cars=f"{second}-car1",
        expires="15",
        reason="storm",
    )
    notes = [n.payload for n in conn.notifies(timeout=5, stop_after=1)]
    assert notes == [f"push:{push_id}"]
    rows = conn.execute(
        "SELECT target_kind, target_id, priority, tenant_id, reason, created_by, valid_until"
        " FROM playlist_assignments WHERE tenant_id = %s ORDER BY target_kind",
        (tenant.tenant_id,),
    ).fetchall()
    assert [r[:6] for r in rows] == [
        ("car", f"{second}-car1", "emergency", tenant.tenant_id, "storm", tenant.admin),
        ("fleet", first, "emergency", tenant.tenant_id, "storm", tenant.admin),
    ]
    expires = rows[0][6]
    assert isinstance(expires, datetime)
    assert before + timedelta(minutes=15) <= expires <= datetime.now(UTC) + timedelta(minutes=15)
    push = conn.execute(
        "SELECT tenant_id, targeted, targets, reason FROM pushes WHERE push_id = %s", (push_id,)
    ).fetchone()
    assert push == (tenant.tenant_id, 3, [f"fleet:{first}", f"car:{second}-car1"], "storm")
    audit = conn.execute(
        "SELECT actor, target, details->>'etag', details->'targeted' FROM audit_log"
        " WHERE tenant_id = %s AND action = 'playlist.push'",
        (tenant.tenant_id,),
    ).fetchall()
    assert audit == [(tenant.admin, f"push:{push_id}", etag_of(conn, push_id), 3)]
    # The hub resolves the targeted tablets to exactly the manifest the push measures.
    targeted = [*tenant.tablets[first], tenant.tablets[second][1]]
    etags = asyncio.run(_resolved_etags(database_url, tenant.all_tablets))
    assert etags == dict.fromkeys(targeted, etag_of(conn, push_id))
    page = panel.get(f"/push/{push_id}")
    assert page.status_code == 200
    assert '<b data-push="targeted">3</b>' in page.text
    assert "storm" in panel.get("/push").text


def test_send_from_the_library_uses_that_playlists_version(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, database_url: str
) -> None:
    tenant = tenant_factory(fleets=1, tablets=2)
    playlist_id = f"pl-lib-{uuid.uuid4().hex[:8]}"
    conn.execute(
        "INSERT INTO playlists (tenant_id, playlist_id, name, version)"
        " VALUES (%s, %s, 'Alerts', 3)",
        (tenant.tenant_id, playlist_id),
    )
    conn.execute(
        "INSERT INTO playlist_items (tenant_id, playlist_id, position, ad_id,"
        " campaign_id, url, sha256, duration_ms) VALUES (%s, %s, 0, 'a', 'c',"
        " 'https://x.example/a.mp4', %s, 5000)",
        (tenant.tenant_id, playlist_id, "d" * 64),
    )
    conn.execute(
        "INSERT INTO tenant_playlists (tenant_id, playlist_id, name) VALUES (%s, %s, 'Alerts')",
        (tenant.tenant_id, playlist_id),
    )
    csrf = sign_in(panel, tenant.admin)
    preview = panel.post(
        "/push/preview",
        data={"csrf_token": csrf, **fields(source="library", playlist_id=playlist_id)},
    )
    assert preview.status_code == 200
    assert "Alerts · 1 item" in preview.text
    push_id = send(panel, csrf, source="library", playlist_id=playlist_id)
    etags = asyncio.run(_resolved_etags(database_url, tenant.all_tablets))
    assert etags == dict.fromkeys(tenant.all_tablets, etag_of(conn, push_id))
    target = conn.execute(
        "SELECT target_kind, target_id, playlist_id FROM playlist_assignments WHERE tenant_id = %s",
        (tenant.tenant_id,),
    ).fetchall()
    assert target == [("all", None, playlist_id)]


def test_progress_counts_each_tablet_once(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=6)
    t = tenant.all_tablets
    csrf = sign_in(panel, tenant.admin)
    # Two targets covering the same tablets: each tablet still counts once.
    push_id = send(panel, csrf, scope="selected", fleet=tenant.fleets[0], tablets=t[0])
    etag = etag_of(conn, push_id)
    set_state(conn, t[0], "online")
    deliver(conn, t[0], etag, "applied")  # acknowledged
    set_state(conn, t[1], "offline", applied=etag)  # applied, then went offline: acknowledged
    set_state(conn, t[2], "online")
    deliver(conn, t[2], etag, "published")  # awaiting ack
    set_state(conn, t[3], "offline")
    deliver(conn, t[3], etag, "published")  # gets it on reconnect
    set_state(conn, t[4], "online")  # not published yet
    set_state(conn, t[5], "online")
    deliver(conn, t[5], etag, "failed", "download failed")
    deliver(conn, t[4], "some-other-etag", "applied")  # another manifest: not this push's
    headers = api_token(panel, tenant.admin)
    body = panel.get(f"/api/v1/pushes/{push_id}", headers=headers).json()
    assert body["counts"] == {
        "targeted": 6,
        "acknowledged": 2,
        "published": 1,
        "offline": 1,
        "pending": 1,
        "failed": 1,
    }
    assert body["push"]["status"] == "active"
    statuses = {row["tablet_id"]: row["status"] for row in body["tablets"]}
    assert statuses == {
        t[0]: "acknowledged",
        t[1]: "acknowledged",
        t[2]: "published",
        t[3]: "offline",
        t[4]: "pending",
        t[5]: "failed",
    }
    assert body["tablets"][0]["tablet_id"] == t[5]  # problems first
    page = panel.get(f"/push/{push_id}").text
    assert f'id="pt-{t[5]}" data-status="failed"' in page
    assert "download failed" in page
    assert '<b data-push="acknowledged">2</b>' in page
    # A revoked tablet is no longer targeted.
    conn.execute("UPDATE tablets SET revoked_at = now() WHERE tablet_id = %s", (t[4],))
    body = panel.get(f"/api/v1/pushes/{push_id}", headers=headers).json()
    assert (body["counts"]["targeted"], body["counts"]["pending"]) == (5, 0)


def test_stream_sends_progress_when_it_changes(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=2)
    csrf = sign_in(panel, tenant.admin)
    push_id = send(panel, csrf)
    etag = etag_of(conn, push_id)
    tablet = tenant.all_tablets[0]
    set_state(conn, tenant.all_tablets[1], "online")
    with panel.stream("GET", f"/push/{push_id}/stream") as response:
        assert response.status_code == 200
        events = sse_events(response.iter_lines())
        assert next(events)[0] == "hello"
        name, first = next(events)
        assert name == "progress"
        assert first["counts"]["acknowledged"] == 0
        assert first["status"] == "active"
        set_state(conn, tablet, "online")
        deliver(conn, tablet, etag, "applied")
        name, second = next(events)
        assert name == "progress"
        assert second["counts"]["acknowledged"] == 1
        assert f'id="pt-{tablet}" data-status="acknowledged"' in second["html"]


def sse_events(lines: Any) -> Any:
    """(event, data) pairs of a server-sent event stream."""
    name, data = None, None
    for line in lines:
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data = json.loads(line.split(":", 1)[1])
        elif not line and name is not None:
            yield name, data
            name, data = None, None


def test_revert_revokes_notifies_and_audits(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory()
    csrf = sign_in(panel, tenant.admin)
    push_id = send(panel, csrf, scope="selected", fleet=tenant.fleets)
    forged = panel.post(f"/push/{push_id}/revert", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    conn.execute("LISTEN fleethub_playlists")
    done = panel.post(f"/push/{push_id}/revert", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == f"/push/{push_id}"
    assert [n.payload for n in conn.notifies(timeout=5, stop_after=1)] == [f"push:{push_id}"]
    revoked = conn.execute(
        "SELECT count(*), count(revoked_at) FROM playlist_assignments WHERE tenant_id = %s",
        (tenant.tenant_id,),
    ).fetchone()
    assert revoked == (2, 2)
    audit = conn.execute(
        "SELECT actor, target FROM audit_log WHERE tenant_id = %s AND action = 'playlist.revert'",
        (tenant.tenant_id,),
    ).fetchall()
    assert audit == [(tenant.admin, f"push:{push_id}")]
    page = panel.get(f"/push/{push_id}").text
    assert 'id="push-status">reverted<' in page
    assert "Revert now" not in page
    again = panel.post(f"/push/{push_id}/revert", data={"csrf_token": csrf})
    assert again.status_code == 409
    assert "already reverted" in again.text
    assert stored(conn, tenant.tenant_id) == (1, 2, 2)


def test_recent_pushes_show_their_status(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory()
    csrf = sign_in(panel, tenant.admin)
    active = send(panel, csrf, reason="still on")
    reverted = send(panel, csrf, reason="taken back")
    expired = send(panel, csrf, reason="long gone")
    panel.post(f"/push/{reverted}/revert", data={"csrf_token": csrf})
    conn.execute(
        "UPDATE pushes SET expires_at = now() - interval '1 minute' WHERE push_id = %s", (expired,)
    )
    page = panel.get("/push").text
    for push_id, status in ((active, "active"), (reverted, "reverted"), (expired, "expired")):
        row = re.search(rf'<tr class="push-{status}">\s*<td[^>]*><a href="/push/{push_id}"', page)
        assert row, (status, page)
    headers = api_token(panel, tenant.admin)
    listed = {
        p["push_id"]: p["status"] for p in panel.get("/api/v1/pushes", headers=headers).json()
    }
    assert listed == {active: "active", reverted: "reverted", expired: "expired"}
    late = panel.post(f"/push/{expired}/revert", data={"csrf_token": csrf})
    assert late.status_code == 409
    assert "already expired" in late.text


def test_other_tenants_push_is_not_found(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    owner_tenant, other = tenant_factory(), tenant_factory()
    csrf = sign_in(panel, owner_tenant.admin)
    push_id = send(panel, csrf, reason="secret reason")
    panel.cookies.clear()
    csrf = sign_in(panel, other.admin)
    for path in (
        f"/push/{push_id}",
        f"/push/{push_id}/stream",
        "/push/not-a-uuid",
        f"/push/{uuid.uuid4()}",
    ):
        assert panel.get(path).status_code == 404, path
    assert panel.post(f"/push/{push_id}/revert", data={"csrf_token": csrf}).status_code == 404
    assert "secret reason" not in panel.get("/push").text
    headers = api_token(panel, other.admin)
    assert panel.get(f"/api/v1/pushes/{push_id}", headers=headers).status_code == 404
    assert panel.post(f"/api/v1/pushes/{push_id}/revert", headers=headers).status_code == 404
    assert panel.get("/api/v1/pushes", headers=headers).json() == []
    still = conn.execute("SELECT reverted_at FROM pushes WHERE push_id = %s", (push_id,))
    assert still.fetchone() == (None,)


def test_api_sends_reads_and_reverts(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant: Tenant = tenant_factory(fleets=2, tablets=1)
    headers = api_token(panel, tenant.admin)
    bad = panel.post(
        "/api/v1/pushes",
        headers=headers,
        json={
            "items": [{**ITEM, "sha256": "nope"}],
            "targets": ["all"],
            "expires_minutes": 5,
            "reason": "x",
        },
    )
    assert bad.status_code == 422
    both = panel.post(
        "/api/v1/pushes",
        headers=headers,
        json={
            "playlist_id": "pl-x",
            "items": [ITEM],
            "targets": ["all"],
            "expires_minutes": 5,
            "reason": "x",
        },
    )
    assert both.status_code == 422
    assert stored(conn, tenant.tenant_id) == (0, 0, 0)
    created = panel.post(
        "/api/v1/pushes",
        headers=headers,
        json={
            "items": [ITEM],
            "expires_minutes": 30,
            "targets": [f"fleet:{tenant.fleets[1]}", f"tablet:{tenant.all_tablets[0]}"],
            "reason": "api push",
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["counts"]["targeted"] == 2
    assert body["push"]["targets"] == [
        f"fleet:{tenant.fleets[1]}",
        f"tablet:{tenant.all_tablets[0]}",
    ]
    push_id = body["push_id"]
    assert (body["status"], body["push"]["push_id"]) == ("active", push_id)
    assert panel.get(f"/api/v1/pushes/{push_id}", headers=headers).json() == body
    reverted = panel.post(f"/api/v1/pushes/{push_id}/revert", headers=headers)
    assert reverted.status_code == 200
    assert reverted.json()["push"]["status"] == "reverted"
    assert panel.post(f"/api/v1/pushes/{push_id}/revert", headers=headers).status_code == 409
    assert stored(conn, tenant.tenant_id) == (1, 2, 2)
    schema = panel.get("/openapi.json").json()["paths"]
    assert "/api/v1/pushes" in schema
    assert "/push" not in schema


async def test_push_reaches_real_tablets_and_the_page_sees_every_ack(
    running_hub: RunningHub,
    fleet_factory: TestFleetFactory,
    panel: TestClient,
    conn: Conn,
    aconn: AsyncConn,
) -> None:
    """End to end: panel → store → hub → MQTT → tablets ack → progress shows them."""
    fleet = await fleet_factory(tablets=2, heartbeat_s=30, offline_after_s=90)
    admin = f"admin-{uuid.uuid4().hex[:8]}@example.com"  # fleet_factory's fleets are 'default's
    await add_user(
        aconn,
        tenant_id="default",
        email=admin,
        name="Default admin",
        role="admin",
        password=PASSWORD,
        fleets=[],
        actor="test",
    )
    tablets = [fleet.tablet(n).connect() for n in range(2)]
    try:
        await eventually(lambda: all(state_of(conn, t) == "online" for t in fleet.tablet_ids))
        csrf = await asyncio.to_thread(sign_in, panel, admin)
        form = {
            "csrf_token": csrf,
            **fields(scope="selected", fleet=fleet.fleet_id, reason="e2e emergency"),
        }
        preview = await asyncio.to_thread(panel.post, "/push/preview", data=form)
        assert re.search(
            r'reach-tablets">2</b> tablets \(<b id="reach-online">2</b>', preview.text
        ), preview.text
        sent = await asyncio.to_thread(panel.post, "/push/send", data=form, follow_redirects=False)
        assert sent.status_code == 303, sent.text
        path = sent.headers["location"]
        etag = etag_of(conn, path.rsplit("/", 1)[1])

        def live_until_all_acked() -> dict[str, int]:
            with panel.stream("GET", f"{path}/stream") as response:
                for name, data in sse_events(response.iter_lines()):
                    if name == "progress" and data["counts"]["acknowledged"] == 2:
                        return dict(data["counts"])
            raise AssertionError("the stream ended")

        counts = await asyncio.wait_for(asyncio.to_thread(live_until_all_acked), 30)
        assert counts == {
            "targeted": 2,
            "acknowledged": 2,
            "published": 0,
            "offline": 0,
            "pending": 0,
            "failed": 0,
        }
        assert [t.applied_etag for t in tablets] == [etag, etag]
        page = await asyncio.to_thread(panel.get, path)
        assert '<b data-push="acknowledged">2</b>' in page.text

        # Revert: the hub republishes the tablets' scheduled (here: empty) playlist.
        reverted = await asyncio.to_thread(panel.post, f"{path}/revert", data={"csrf_token": csrf})
        assert reverted.status_code == 200  # after the redirect
        assert 'id="push-status">reverted<' in reverted.text
        await eventually(lambda: all(t.applied_etag not in (None, etag) for t in tablets))
        # The page follows the way back: both tablets acknowledged their schedule.
        back = await asyncio.wait_for(asyncio.to_thread(live_until_all_acked), 30)
        assert (back["acknowledged"], back["targeted"]) == (2, 2)
        page = await asyncio.to_thread(panel.get, path)
        assert "every tablet is back" in page.text
    finally:
        for t in tablets:
            t.close()


def test_sending_the_same_confirmation_twice_sends_once(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant, other = tenant_factory(), tenant_factory()
    csrf = sign_in(panel, tenant.admin)
    confirm = panel.post("/push/preview", data={"csrf_token": csrf, **fields()})
    hidden = {
        k: html.unescape(v)
        for k, v in re.findall(
            r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', confirm.text
        )
    }
    assert re.fullmatch(r"[0-9a-f-]{36}", hidden["push_id"])
    first = panel.post("/push/send", data=hidden, follow_redirects=False)
    again = panel.post("/push/send", data=hidden, follow_redirects=False)
    assert first.headers["location"] == again.headers["location"] == f"/push/{hidden['push_id']}"
    assert stored(conn, tenant.tenant_id) == (1, 1, 1)
    # Another tenant's confirmation id gives a new push there, and says nothing of this one.
    panel.cookies.clear()
    other_csrf = sign_in(panel, other.admin)
    taken = panel.post(
        "/push/send", data={**hidden, "csrf_token": other_csrf}, follow_redirects=False
    )
    assert taken.status_code == 303
    assert taken.headers["location"] != first.headers["location"]
    assert stored(conn, other.tenant_id) == (1, 1, 1)
    assert stored(conn, tenant.tenant_id) == (1, 1, 1)


def test_revert_shows_its_own_live_progress(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    """Issue 11, defect 9: after "Revert now" the page follows the way back (each tablet's
    next playlist acknowledged) live, instead of saying the tablets are back at once."""
    tenant = tenant_factory(fleets=1, tablets=3)
    a, b, c = tenant.all_tablets
    csrf = sign_in(panel, tenant.admin)
    push_id = send(panel, csrf)
    etag = etag_of(conn, push_id)
    for tablet in (a, b):  # both got the push and play it
        conn.execute(
            "UPDATE tablet_state SET state = 'online', desired_etag = %s, applied_etag = %s,"
            " updated_at = now() WHERE tablet_id = %s",
            (etag, etag, tablet),
        )
    conn.execute(  # c is offline and never got it
        "UPDATE tablet_state SET state = 'offline', desired_etag = %s, applied_etag = 'sched',"
        " updated_at = now() WHERE tablet_id = %s",
        (etag, c),
    )
    assert panel.post(f"/push/{push_id}/revert", data={"csrf_token": csrf}).status_code == 200
    headers = api_token(panel, tenant.admin)
    body = panel.get(f"/api/v1/pushes/{push_id}", headers=headers).json()
    assert body["phase"] == "return"
    # Nothing moved yet: no tablet is said to be back.
    assert body["counts"]["acknowledged"] == 0
    assert (body["counts"]["pending"], body["counts"]["offline"]) == (2, 1)
    page = panel.get(f"/push/{push_id}").text
    assert "0 of 3 so far" in page
    assert "every tablet is back" not in page
    with panel.stream("GET", f"/push/{push_id}/stream") as response:
        events = sse_events(response.iter_lines())
        assert next(events)[0] == "hello"
        assert next(events)[1]["counts"]["acknowledged"] == 0
        # The hub moves a to its schedule and publishes it; a acknowledges; b is sent it.
        conn.execute(
            "UPDATE tablet_state SET desired_etag = 'sched', applied_etag = 'sched',"
            " updated_at = now() WHERE tablet_id = %s",
            (a,),
        )
        deliver(conn, a, "sched", "applied")
        conn.execute(
            "UPDATE tablet_state SET desired_etag = 'sched', updated_at = now()"
            " WHERE tablet_id = %s",
            (b,),
        )
        deliver(conn, b, "sched", "published")
        name, data = next(events)
        while data["counts"]["published"] == 0:  # the two rows may come as two changes
            name, data = next(events)
        assert name == "progress"
        assert data["counts"]["acknowledged"] == 1
        assert data["counts"]["published"] == 1
        assert f'id="pt-{a}" data-status="acknowledged"' in data["html"]
        assert "back on their schedule" in data["html"]
        # c comes back with its schedule already applied (its desired moves on reconnect).
        conn.execute(
            "UPDATE tablet_state SET state = 'online', desired_etag = 'sched', updated_at = now()"
            " WHERE tablet_id = %s",
            (c,),
        )
        deliver(conn, b, "sched", "applied")
        conn.execute(
            "UPDATE tablet_state SET applied_etag = 'sched', updated_at = now()"
            " WHERE tablet_id = %s",
            (b,),
        )
        while data["counts"]["acknowledged"] < 3:
            name, data = next(events)
        assert "every tablet is back" in data["html"]
