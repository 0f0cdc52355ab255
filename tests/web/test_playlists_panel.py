"""The admins' playlist library: create, edit, assign, revoke, against the real store."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from contract.manifest import items_id, normalise
from contract.payloads import PlaylistItem
from tests.web.conftest import Conn, Tenant, TenantFactory, api_token, sign_in

FIELDS = ("ad_id", "campaign_id", "url", "sha256", "duration_ms")


def item(n: int, tag: str = "", duration_ms: int = 15_000) -> dict[str, Any]:
    return {
        "ad_id": f"ad-{tag}{n}",
        "campaign_id": f"camp-{tag}",
        "url": f"https://cdn.example/{tag}/{n}.mp4",
        "sha256": hashlib.sha256(f"{tag}{n}".encode()).hexdigest(),
        "duration_ms": duration_ms,
    }


def form(csrf: str, name: str, items: list[dict[str, Any]], **extra: str) -> dict[str, Any]:
    """The create/edit form as a browser posts it: one list per column."""
    columns = {f: [str(i[f]) for i in items] + [""] for f in FIELDS}  # plus one blank row
    return {"csrf_token": csrf, "name": name, **columns, **extra}


def expected_id(items: list[dict[str, Any]]) -> str:
    return items_id(normalise([PlaylistItem.model_validate(i) for i in items]))


def create(panel: TestClient, csrf: str, name: str, items: list[dict[str, Any]]) -> str:
    response = panel.post("/playlists", data=form(csrf, name, items), follow_redirects=False)
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/playlists/([^?]+)\?done=(created|exists)", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


def count(conn: Conn, sql: str, *params: object) -> int:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(str(row[0]))


def audit_rows(conn: Conn, tenant_id: str, action: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT tenant_id, actor, target, details FROM audit_log"
        " WHERE tenant_id = %s AND action = %s ORDER BY audit_id",
        (tenant_id, action),
    ).fetchall()


def library_count(conn: Conn, tenant_id: str) -> int:
    return count(conn, "SELECT count(*) FROM tenant_playlists WHERE tenant_id = %s", tenant_id)


def assignment_count(conn: Conn, tenant_id: str) -> int:
    return count(conn, "SELECT count(*) FROM playlist_assignments WHERE tenant_id = %s", tenant_id)


@pytest.fixture
def listener(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A connection listening on the hub's playlist channel."""
    with psycopg.connect(database_url, autocommit=True) as listening:
        listening.execute("LISTEN fleethub_playlists")
        yield listening


def notified(listening: psycopg.Connection[tuple[object, ...]]) -> set[str]:
    """Payloads already delivered (NOTIFY arrives at commit, before the response)."""
    return {n.payload for n in listening.notifies(timeout=2.0)}


def test_admin_creates_a_content_addressed_playlist(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant, other = tenant_factory(), tenant_factory()
    csrf = sign_in(panel, tenant.admin)
    assert "Create playlist" in panel.get("/playlists/new").text
    items = [item(0, "a"), item(1, "a", 30_000)]
    playlist_id = create(panel, csrf, "Morning loop", items)
    assert playlist_id == expected_id(items)
    stored = conn.execute(
        "SELECT position, ad_id, url, duration_ms FROM playlist_items WHERE playlist_id = %s"
        " ORDER BY position",
        (playlist_id,),
    ).fetchall()
    assert stored == [(0, "ad-a0", items[0]["url"], 15_000), (1, "ad-a1", items[1]["url"], 30_000)]
    assert conn.execute(
        "SELECT name FROM tenant_playlists WHERE tenant_id = %s", (tenant.tenant_id,)
    ).fetchall() == [("Morning loop",)]
    created = audit_rows(conn, tenant.tenant_id, "playlist.create")
    assert [(r[1], r[2]) for r in created] == [(tenant.admin, f"playlist:{playlist_id}")]
    page = panel.get(f"/playlists/{playlist_id}?done=created")
    assert page.status_code == 200
    assert "Playlist created." in page.text
    assert "ad-a1" in page.text
    listing = panel.get("/playlists").text
    assert "Morning loop" in listing
    assert "0:45" in listing  # total duration

    # The same items again: the same playlist, nothing new.
    again = panel.post("/playlists", data=form(csrf, "Copy", items), follow_redirects=False)
    assert again.headers["location"] == f"/playlists/{playlist_id}?done=exists"
    assert library_count(conn, tenant.tenant_id) == 1
    assert len(audit_rows(conn, tenant.tenant_id, "playlist.create")) == 1

    # Another tenant with the same items gets the same id for its own playlist (own rows).
    panel.cookies.clear()
    other_csrf = sign_in(panel, other.admin)
    assert create(panel, other_csrf, "Their loop", items) == playlist_id
    owners = conn.execute(
        "SELECT tenant_id FROM playlists WHERE playlist_id = %s ORDER BY 1", (playlist_id,)
    ).fetchall()
    assert owners == sorted([(tenant.tenant_id,), (other.tenant_id,)])
    assert count(
        conn, "SELECT count(*) FROM playlist_items WHERE playlist_id = %s", playlist_id
    ) == 2 * len(items)
    names = conn.execute(
        "SELECT tenant_id, name FROM tenant_playlists WHERE playlist_id = %s ORDER BY name",
        (playlist_id,),
    ).fetchall()
    assert names == [(tenant.tenant_id, "Morning loop"), (other.tenant_id, "Their loop")]
    assert "Their loop" in panel.get(f"/playlists/{playlist_id}").text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"url": "ftp://cdn.example/x.mp4"}, "Row 2: URL: must start with http:// or https://"),
        ({"sha256": "abc"}, "Row 2: SHA-256: must be 64 hex characters"),
        ({"duration_ms": 0}, "Row 2: duration: a whole number of milliseconds"),
        ({"duration_ms": 3_600_001}, "Row 2: duration: a whole number of milliseconds"),
        ({"duration_ms": "15s"}, "Row 2: duration: a whole number of milliseconds"),
        ({"ad_id": ""}, "Row 2: ad id: required"),
    ],
)
def test_invalid_items_are_reported_per_row_and_nothing_is_stored(
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    change: dict[str, Any],
    message: str,
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    csrf = sign_in(panel, tenant.admin)
    items = [item(0, "ok"), {**item(1, "bad"), **change}]
    response = panel.post("/playlists", data=form(csrf, "Broken", items))
    assert response.status_code == 422
    assert message in response.text
    assert "Nothing was saved" in response.text
    assert 'value="Broken"' in response.text  # the form is filled in again
    assert library_count(conn, tenant.tenant_id) == 0
    assert audit_rows(conn, tenant.tenant_id, "playlist.create") == []


def test_a_playlist_needs_a_name_and_items(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    csrf = sign_in(panel, tenant.admin)
    no_name = panel.post("/playlists", data=form(csrf, "  ", [item(0, "n")]))
    assert no_name.status_code == 422
    assert "Give the playlist a name." in no_name.text
    empty = panel.post("/playlists", data=form(csrf, "Empty", []))
    assert empty.status_code == 422
    assert "Add at least one item." in empty.text
    forged = panel.post("/playlists", data=form("forged", "Loop", [item(0, "n")]))
    assert forged.status_code == 403
    assert library_count(conn, tenant.tenant_id) == 0


def test_an_oversized_form_is_refused_with_413_and_nothing_stored(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    csrf = sign_in(panel, tenant.admin)
    limit = 256 * 1024  # Settings().max_upload_bytes
    items = [{**item(n, "big"), "url": "https://cdn.example/" + "x" * 2000} for n in range(140)]
    data = form(csrf, "Huge", items)
    response = panel.post("/playlists", data=data)
    assert response.status_code == 413
    assert "256 KiB limit" in response.json()["detail"]
    # Without a Content-Length (chunked), the parsed form's size is checked.
    body = "&".join(
        f"{k}={v}" for k, vs in data.items() for v in (vs if isinstance(vs, list) else [vs])
    ).encode()
    assert len(body) > limit

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    chunked = panel.post(
        "/playlists",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert chunked.status_code == 413
    assert library_count(conn, tenant.tenant_id) == 0
    # Just under the limit is fine.
    assert create(panel, csrf, "Fine", items[:100])


def test_assign_and_revoke(
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    listener: psycopg.Connection[tuple[object, ...]],
) -> None:
    tenant = tenant_factory()
    csrf = sign_in(panel, tenant.admin)
    playlist_id = create(panel, csrf, "Evening", [item(0, "ev")])
    fleet = tenant.fleets[1]
    start = (datetime.now(UTC) + timedelta(hours=1)).replace(second=0, microsecond=0)
    end = start + timedelta(days=2)
    response = panel.post(
        f"/playlists/{playlist_id}/assign",
        data={
            "csrf_token": csrf,
            "target_kind": "fleet",
            "target_id": fleet,
            "priority": "normal",
            "valid_from": start.strftime("%Y-%m-%dT%H:%M"),
            "valid_until": end.strftime("%Y-%m-%dT%H:%M"),
            "reason": "evening slot",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/playlists/{playlist_id}?done=assigned"
    rows = conn.execute(
        "SELECT assignment_id, tenant_id, playlist_id, target_kind, target_id, priority,"
        " valid_from, valid_until, reason, created_by, revoked_at FROM playlist_assignments"
        " WHERE tenant_id = %s",
        (tenant.tenant_id,),
    ).fetchall()
    assert len(rows) == 1
    assignment_id, *rest = rows[0]
    assert rest == [
        tenant.tenant_id,
        playlist_id,
        "fleet",
        fleet,
        "normal",
        start,
        end,
        "evening slot",
        tenant.admin,
        None,
    ]
    assert str(assignment_id) in notified(listener)
    assigned = audit_rows(conn, tenant.tenant_id, "playlist.assign")
    assert len(assigned) == 1
    assert assigned[0][2] == f"fleet:{fleet}"
    assert assigned[0][3]["assignment_id"] == assignment_id
    listing = panel.get("/playlists").text
    assert f"fleet:{fleet}" in listing
    assert "evening slot" in listing
    assert f"/playlists/assignments/{assignment_id}/revoke" in listing

    # Emergency to all tablets, open-ended from now.
    everyone = panel.post(
        f"/playlists/{playlist_id}/assign",
        data={
            "csrf_token": csrf,
            "target_kind": "all",
            "target_id": "ignored",
            "priority": "emergency",
        },
        follow_redirects=False,
    )
    assert everyone.status_code == 303
    assert conn.execute(
        "SELECT target_id, priority, valid_until FROM playlist_assignments WHERE tenant_id = %s"
        " AND target_kind = 'all'",
        (tenant.tenant_id,),
    ).fetchall() == [(None, "emergency", None)]

    revoked = panel.post(
        f"/playlists/assignments/{assignment_id}/revoke",
        data={"csrf_token": csrf, "back": f"/playlists/{playlist_id}"},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    assert revoked.headers["location"] == f"/playlists/{playlist_id}?done=revoked"
    assert (
        count(
            conn,
            "SELECT count(*) FROM playlist_assignments WHERE assignment_id = %s"
            " AND revoked_at IS NOT NULL",
            assignment_id,
        )
        == 1
    )
    assert str(assignment_id) in notified(listener)
    revokes = audit_rows(conn, tenant.tenant_id, "playlist.revoke")
    assert [(r[2], r[3]["assignment_id"]) for r in revokes] == [(f"fleet:{fleet}", assignment_id)]
    assert f"assignment-{assignment_id}" not in panel.get("/playlists").text
    again = panel.post(
        f"/playlists/assignments/{assignment_id}/revoke",
        data={"csrf_token": csrf, "back": "https://evil.example/"},
    )
    assert again.status_code == 404


def test_car_and_tablet_targets(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    csrf = sign_in(panel, tenant.admin)
    playlist_id = create(panel, csrf, "Targets", [item(0, "tg")])
    tablet = tenant.all_tablets[0]
    car = f"{tenant.fleets[0]}-car0"
    for kind, ident in (("car", car), ("tablet", tablet)):
        response = panel.post(
            f"/playlists/{playlist_id}/assign",
            data={"csrf_token": csrf, "target_kind": kind, "target_id": ident},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
    targets = conn.execute(
        "SELECT target_kind, target_id FROM playlist_assignments WHERE tenant_id = %s"
        " ORDER BY assignment_id",
        (tenant.tenant_id,),
    ).fetchall()
    assert targets == [("car", car), ("tablet", tablet)]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"target_kind": "fleet", "target_id": "OTHER-FLEET"}, "No such target in your tenant"),
        ({"target_kind": "tablet", "target_id": "OTHER-TABLET"}, "No such target in your tenant"),
        ({"target_kind": "car", "target_id": "no-such-car"}, "No such target in your tenant"),
        ({"target_kind": "fleet", "target_id": ""}, "Give the fleet id to assign to."),
        ({"target_kind": "galaxy", "target_id": "x"}, "Choose a target"),
        ({"target_kind": "all", "priority": "urgent"}, "The priority is normal or emergency."),
        (
            {
                "target_kind": "all",
                "valid_from": "2030-01-02T10:00",
                "valid_until": "2030-01-02T09:00",
            },
            "Valid until must be after valid from.",
        ),
        ({"target_kind": "all", "valid_until": "2001-01-01T00:00"}, "Valid until is already past."),
        ({"target_kind": "all", "valid_from": "tomorrow"}, "Valid from is not a date and time"),
    ],
)
def test_bad_assignments_are_explained_and_nothing_is_stored(
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    fields: dict[str, str],
    message: str,
) -> None:
    tenant, other = tenant_factory(fleets=1, tablets=1), tenant_factory(fleets=1, tablets=1)
    replacements = {"OTHER-FLEET": other.fleets[0], "OTHER-TABLET": other.all_tablets[0]}
    fields = {k: replacements.get(v, v) for k, v in fields.items()}
    csrf = sign_in(panel, tenant.admin)
    playlist_id = create(panel, csrf, "Careful", [item(0, uuid.uuid4().hex[:6])])
    response = panel.post(f"/playlists/{playlist_id}/assign", data={"csrf_token": csrf, **fields})
    assert response.status_code == 422
    assert "Nothing was assigned" in response.text
    assert message in response.text
    assert assignment_count(conn, tenant.tenant_id) == 0
    assert audit_rows(conn, tenant.tenant_id, "playlist.assign") == []


def _assign(panel: TestClient, csrf: str, playlist_id: str, fleet: str, **extra: str) -> int:
    response = panel.post(
        f"/playlists/{playlist_id}/assign",
        data={"csrf_token": csrf, "target_kind": "fleet", "target_id": fleet, **extra},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return int(re.findall(r"assignment-(\d+)", panel.get(f"/playlists/{playlist_id}").text)[-1])


def test_rename_keeps_the_playlist(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    csrf = sign_in(panel, tenant.admin)
    items = [item(0, "rn"), item(1, "rn")]
    playlist_id = create(panel, csrf, "Old name", items)
    response = panel.post(
        f"/playlists/{playlist_id}", data=form(csrf, "New name", items), follow_redirects=False
    )
    assert response.headers["location"] == f"/playlists/{playlist_id}?done=renamed"
    assert conn.execute(
        "SELECT playlist_id, name FROM tenant_playlists WHERE tenant_id = %s", (tenant.tenant_id,)
    ).fetchall() == [(playlist_id, "New name")]
    renames = audit_rows(conn, tenant.tenant_id, "playlist.rename")
    assert [r[3] for r in renames] == [{"from": "Old name", "to": "New name"}]
    bad = panel.post(
        f"/playlists/{playlist_id}", data=form(csrf, "Newer", [{**item(0, "rn"), "sha256": "zz"}])
    )
    assert bad.status_code == 422
    assert "Row 1: SHA-256" in bad.text
    assert conn.execute(
        "SELECT name FROM tenant_playlists WHERE tenant_id = %s", (tenant.tenant_id,)
    ).fetchall() == [("New name",)]


def test_edit_with_replace_moves_the_assignments(
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    listener: psycopg.Connection[tuple[object, ...]],
) -> None:
    tenant = tenant_factory()
    csrf = sign_in(panel, tenant.admin)
    items = [item(0, "ed")]
    old_id = create(panel, csrf, "Loop v1", items)
    until = (datetime.now(UTC) + timedelta(days=3)).replace(second=0, microsecond=0)
    first = _assign(
        panel,
        csrf,
        old_id,
        tenant.fleets[0],
        priority="emergency",
        reason="r1",
        valid_until=until.strftime("%Y-%m-%dT%H:%M"),
    )
    second = _assign(panel, csrf, old_id, tenant.fleets[1])
    notified(listener)
    page = panel.get(f"/playlists/{old_id}").text
    assert "Replace this playlist in its 2 active assignment(s)" in page

    # Without "replace": a new playlist, the assignments stay on the old one.
    v2 = [*items, item(1, "ed")]
    kept = panel.post(
        f"/playlists/{old_id}", data=form(csrf, "Loop v2", v2), follow_redirects=False
    )
    v2_id = expected_id(v2)
    assert kept.headers["location"] == f"/playlists/{v2_id}?done=saved"
    assert (
        count(
            conn,
            "SELECT count(*) FROM playlist_assignments WHERE tenant_id = %s"
            " AND playlist_id = %s AND revoked_at IS NULL",
            tenant.tenant_id,
            old_id,
        )
        == 2
    )
    assert library_count(conn, tenant.tenant_id) == 2

    v3 = [item(2, "ed")]
    moved = panel.post(
        f"/playlists/{old_id}",
        data=form(csrf, "Loop v3", v3, replace="yes"),
        follow_redirects=False,
    )
    v3_id = expected_id(v3)
    assert moved.headers["location"] == f"/playlists/{v3_id}?done=replaced"
    rows = conn.execute(
        "SELECT assignment_id, playlist_id, target_id, priority, valid_from, valid_until, reason,"
        " revoked_at IS NOT NULL FROM playlist_assignments WHERE tenant_id = %s"
        " ORDER BY assignment_id",
        (tenant.tenant_id,),
    ).fetchall()
    assert [r[0] for r in rows[:2]] == [first, second]
    old_rows, new_rows = rows[:2], rows[2:]
    assert all(r[7] for r in old_rows)
    assert [r[1] for r in new_rows] == [v3_id, v3_id]
    assert [r[2:7] for r in new_rows] == [r[2:7] for r in old_rows]  # same targets and windows
    assert not any(r[7] for r in new_rows)
    assert {str(r[0]) for r in rows} <= notified(listener)
    replaced = audit_rows(conn, tenant.tenant_id, "playlist.replace")
    assert len(replaced) == 1
    assert replaced[0][3] == {
        "new_playlist_id": v3_id,
        "assignments": [
            {"revoked": first, "created": new_rows[0][0]},
            {"revoked": second, "created": new_rows[1][0]},
        ],
    }
    assert [
        r[3]["new_playlist_id"] for r in audit_rows(conn, tenant.tenant_id, "playlist.edit")
    ] == [v2_id, v3_id]
    assert "Loop v3" in panel.get(f"/playlists/{v3_id}").text


def _playlist_of(panel: TestClient, tenant: Tenant, conn: Conn) -> tuple[str, int]:
    """A playlist of ``tenant`` assigned to its first fleet: (playlist id, assignment id)."""
    csrf = sign_in(panel, tenant.admin)
    playlist_id = create(panel, csrf, "Private", [item(0, uuid.uuid4().hex[:6])])
    assignment_id = _assign(panel, csrf, playlist_id, tenant.fleets[0])
    panel.cookies.clear()
    return playlist_id, assignment_id


def test_another_tenants_playlists_are_404_everywhere(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    owner_tenant, intruder = tenant_factory(), tenant_factory()
    playlist_id, assignment_id = _playlist_of(panel, owner_tenant, conn)
    csrf = sign_in(panel, intruder.admin)
    assert panel.get(f"/playlists/{playlist_id}").status_code == 404
    edit = panel.post(f"/playlists/{playlist_id}", data=form(csrf, "Mine", [item(0, "x")]))
    assert edit.status_code == 404
    assign = panel.post(
        f"/playlists/{playlist_id}/assign",
        data={"csrf_token": csrf, "target_kind": "fleet", "target_id": intruder.fleets[0]},
    )
    assert assign.status_code == 404
    revoke = panel.post(f"/playlists/assignments/{assignment_id}/revoke", data={"csrf_token": csrf})
    assert revoke.status_code == 404
    assert panel.get("/playlists/pl-doesnotexist").status_code == 404
    listing = panel.get("/playlists").text
    assert playlist_id not in listing
    headers = api_token(panel, intruder.admin)
    assert panel.get(f"/api/v1/playlists/{playlist_id}", headers=headers).status_code == 404
    assert panel.get("/api/v1/playlists", headers=headers).json() == []
    # Nothing changed for the owner, nothing was written for the intruder.
    assert (
        count(
            conn,
            "SELECT count(*) FROM playlist_assignments WHERE assignment_id = %s"
            " AND revoked_at IS NULL",
            assignment_id,
        )
        == 1
    )
    assert assignment_count(conn, intruder.tenant_id) == 0
    assert library_count(conn, intruder.tenant_id) == 0


def test_fleet_owners_are_refused(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory()
    playlist_id, assignment_id = _playlist_of(panel, tenant, conn)
    csrf = sign_in(panel, tenant.owner)
    for path in ("/playlists", "/playlists/new", f"/playlists/{playlist_id}"):
        assert panel.get(path).status_code == 403, path
    posts = {
        "/playlists": form(csrf, "Owner's", [item(0, "own")]),
        f"/playlists/{playlist_id}": form(csrf, "Owner's", [item(0, "own")]),
        f"/playlists/{playlist_id}/assign": {"csrf_token": csrf, "target_kind": "all"},
        f"/playlists/assignments/{assignment_id}/revoke": {"csrf_token": csrf},
    }
    for path, data in posts.items():
        assert panel.post(path, data=data).status_code == 403, path
    headers = api_token(panel, tenant.owner)
    assert panel.get("/api/v1/playlists", headers=headers).status_code == 403
    assert panel.get(f"/api/v1/playlists/{playlist_id}", headers=headers).status_code == 403
    assert library_count(conn, tenant.tenant_id) == 1
    assert assignment_count(conn, tenant.tenant_id) == 1


def test_the_api_serves_the_library(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory()
    playlist_id, assignment_id = _playlist_of(panel, tenant, conn)
    headers = api_token(panel, tenant.admin)
    listed = panel.get("/api/v1/playlists", headers=headers).json()
    assert [(p["playlist_id"], p["name"], p["items"], p["assigned"]) for p in listed] == [
        (playlist_id, "Private", 1, [f"fleet:{tenant.fleets[0]}"])
    ]
    one = panel.get(f"/api/v1/playlists/{playlist_id}", headers=headers).json()
    assert one["playlist"]["duration_ms"] == 15_000
    assert [i["position"] for i in one["items"]] == [0]
    assert [a["assignment_id"] for a in one["assignments"]] == [assignment_id]
    schema = panel.get("/openapi.json").json()["paths"]
    assert "/api/v1/playlists/{playlist_id}" in schema
    assert "/playlists" not in schema


# --- dayparts ---------------------------------------------------------------------------


def test_a_dayparted_assignment_is_stored_audited_and_shown_in_fleet_local_time(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    csrf = sign_in(panel, tenant.admin)
    playlist_id = create(panel, csrf, "Mornings", [item(0, "mo")])
    response = panel.post(
        f"/playlists/{playlist_id}/assign",
        data={
            "csrf_token": csrf,
            "target_kind": "fleet",
            "target_id": tenant.fleets[0],
            "days": ["1", "2", "3", "4", "5"],
            "daypart_start": "06:00",
            "daypart_end": "10:00",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    rows = conn.execute(
        "SELECT daypart_days, daypart_start, daypart_end FROM playlist_assignments"
        " WHERE tenant_id = %s",
        (tenant.tenant_id,),
    ).fetchall()
    assert rows == [([1, 2, 3, 4, 5], time(6), time(10))]
    audit = audit_rows(conn, tenant.tenant_id, "playlist.assign")
    assert audit[0][3]["daypart"] == {
        "days": [1, 2, 3, 4, 5],
        "start": "06:00",
        "end": "10:00",
        "label": "Mon–Fri 06:00–10:00",
    }
    for page in (panel.get("/playlists").text, panel.get(f"/playlists/{playlist_id}").text):
        assert "Mon–Fri 06:00–10:00 (fleet local time)" in page

    # Overnight, every day: no day ticked.
    night = panel.post(
        f"/playlists/{playlist_id}/assign",
        data={
            "csrf_token": csrf,
            "target_kind": "all",
            "daypart_start": "22:00",
            "daypart_end": "02:00",
        },
        follow_redirects=False,
    )
    assert night.status_code == 303, night.text
    assert "every day 22:00–02:00 (overnight) (fleet local time)" in panel.get("/playlists").text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"daypart_start": "06:00", "daypart_end": "06:00"}, "The end time equals the start time"),
        ({"daypart_start": "06:00"}, "Give an end time too"),
        ({"daypart_end": "10:00"}, "Give a start time too"),
        ({"daypart_start": "6 am", "daypart_end": "10:00"}, "is not a time of day"),
        ({"days": ["8"]}, "Days are ISO weekdays"),
        ({"priority": "emergency", "days": ["6"]}, "An emergency assignment cannot have days"),
        (
            {"priority": "emergency", "daypart_start": "06:00", "daypart_end": "10:00"},
            "An emergency assignment cannot have days",
        ),
    ],
)
def test_bad_dayparts_are_explained_and_nothing_is_stored(
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    fields: dict[str, Any],
    message: str,
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    csrf = sign_in(panel, tenant.admin)
    playlist_id = create(panel, csrf, "Daypart", [item(0, uuid.uuid4().hex[:6])])
    response = panel.post(
        f"/playlists/{playlist_id}/assign",
        data={"csrf_token": csrf, "target_kind": "fleet", "target_id": tenant.fleets[0], **fields},
    )
    assert response.status_code == 422
    assert "Nothing was assigned" in response.text
    assert message in response.text
    assert assignment_count(conn, tenant.tenant_id) == 0
    assert audit_rows(conn, tenant.tenant_id, "playlist.assign") == []
    # The form comes back as typed (ticked days included).
    for day in fields.get("days", []):
        assert f'name="days" value="{day}" checked' in response.text or day == "8"


def test_replace_keeps_the_dayparts(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    csrf = sign_in(panel, tenant.admin)
    old_id = create(panel, csrf, "Evening v1", [item(0, "ev1")])
    _assign(
        panel, csrf, old_id, tenant.fleets[0], days="5", daypart_start="22:00", daypart_end="02:00"
    )
    response = panel.post(
        f"/playlists/{old_id}",
        data=form(csrf, "Evening v2", [item(0, "ev2")], replace="yes"),
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    rows = conn.execute(
        "SELECT playlist_id, daypart_days, daypart_start, daypart_end FROM playlist_assignments"
        " WHERE tenant_id = %s AND revoked_at IS NULL",
        (tenant.tenant_id,),
    ).fetchall()
    assert rows == [(expected_id([item(0, "ev2")]), [5], time(22), time(2))]


def test_the_api_takes_and_returns_dayparts(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant, other = tenant_factory(fleets=1, tablets=1), tenant_factory(fleets=1, tablets=1)
    csrf = sign_in(panel, tenant.admin)
    playlist_id = create(panel, csrf, "Api", [item(0, "api")])
    headers = api_token(panel, tenant.admin)
    url = f"/api/v1/playlists/{playlist_id}/assignments"
    body = {
        "target": f"fleet:{tenant.fleets[0]}",
        "daypart_days": [6, 7],
        "daypart_start": "09:30",
        "daypart_end": "12:00",
        "reason": "weekend brunch",
    }
    created = panel.post(url, headers=headers, json=body)
    assert created.status_code == 201, created.text
    out = created.json()
    assert (out["daypart_days"], out["daypart_start"], out["daypart_end"]) == (
        [6, 7],
        "09:30:00",
        "12:00:00",
    )
    listed = panel.get(f"/api/v1/playlists/{playlist_id}", headers=headers).json()
    assert [a["assignment_id"] for a in listed["assignments"]] == [out["assignment_id"]]
    assert listed["assignments"][0]["daypart_days"] == [6, 7]
    audit = audit_rows(conn, tenant.tenant_id, "playlist.assign")
    assert audit[0][3]["daypart"]["label"] == "Sat, Sun 09:30–12:00"

    bad = [
        ({**body, "daypart_end": "09:30"}, "equals the start time"),
        ({**body, "daypart_end": None}, "Give both a start and an end time"),
        ({**body, "daypart_days": []}, ""),
        ({**body, "daypart_days": [0]}, ""),
        ({**body, "priority": "emergency"}, "emergency assignment cannot have"),
        ({**body, "target": "galaxy:1"}, "invalid target"),
    ]
    for wrong, message in bad:
        response = panel.post(url, headers=headers, json=wrong)
        assert response.status_code == 422, (wrong, response.text)
        assert message in response.text
    mine = panel.post(url, headers=headers, json={**body, "target": f"fleet:{other.fleets[0]}"})
    assert mine.status_code == 404
    assert assignment_count(conn, tenant.tenant_id) == 1
    # Another tenant's admin: their playlist id is not in our library (404 before the body).
    theirs = panel.post(url, headers=api_token(panel, other.admin), json=body)
    assert theirs.status_code == 404
    assert panel.post(url, headers=api_token(panel, tenant.owner), json=body).status_code == 403
