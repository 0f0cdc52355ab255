"""Remote commands in the panel and the API: sent to a tablet, a selection or a fleet within
the user's scope and role, followed by state; a tablet's screenshot uploaded once through its
signed link and shown on the tablet page."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from psycopg_pool import AsyncConnectionPool

from config.settings import Settings
from devtools import media_samples
from hub.media_retention import collect_screenshots
from media.screenshot_tokens import upload_url
from media.screenshots import screenshot_key
from tests.helpers import blocking
from tests.web.conftest import Conn, TenantFactory, api_token, sign_in
from tests.web.manage_helpers import post_form


def command_of(location: str) -> str:
    match = re.fullmatch(r"/commands/([0-9a-f-]{36})", location)
    assert match, location
    return match.group(1)


def expiry(conn: Conn, command_id: str) -> datetime:
    row = conn.execute("SELECT expires_at FROM commands WHERE command_id = %s", (command_id,))
    found = row.fetchone()
    assert found is not None
    at = found[0]
    assert isinstance(at, datetime)
    return at


def upload_path(panel: TestClient, command_id: str, tablet: str, expires_at: datetime) -> str:
    url = upload_url(panel.app.state.media_key, "http://x", command_id, tablet, expires_at)  # type: ignore[attr-defined]
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_a_screenshot_is_asked_from_the_tablet_page_uploaded_once_and_shown(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=2)
    tablet, other = tenant.all_tablets[:2]
    csrf = sign_in(panel, tenant.admin)
    assert 'id="tablet-command"' in panel.get(f"/tablets/{tablet}").text
    sent = post_form(panel, f"/tablets/{tablet}/commands", csrf, {"name": "screenshot"})
    assert sent.status_code == 303
    command = command_of(sent.headers["location"])
    page = panel.get(f"/commands/{command}")
    assert page.status_code == 200
    assert f'id="target-{tablet}"' in page.text
    assert "waiting for the tablet" in page.text
    assert "0 of 1 done" in page.text

    path = upload_path(panel, command, tablet, expiry(conn, command))
    png = media_samples.image(label="screen", fmt="PNG")
    assert panel.put(path.replace("sig=", "sig=0"), content=png).status_code == 403
    theirs = upload_path(panel, command, other, expiry(conn, command))  # not its command
    assert panel.put(theirs, content=png).status_code == 403
    assert panel.put(path, content=b"not a picture").status_code == 422
    assert panel.put(path, content=b"x" * (4 * 1024 * 1024 + 1)).status_code == 413
    stale = upload_path(panel, command, tablet, datetime.now(UTC) - timedelta(seconds=1))
    assert panel.put(stale, content=png).status_code == 403
    refused = conn.execute("SELECT count(*) FROM screenshots WHERE command_id = %s", (command,))
    assert refused.fetchone() == (0,)  # nothing kept of the refused uploads

    kept = panel.put(path, content=png)
    assert kept.status_code == 201, kept.text
    assert panel.put(path, content=png).status_code == 409  # single-use
    shown = panel.get(f"/tablets/{tablet}").text
    picture = f"/commands/{command}/screenshots/{tablet}"
    assert f'src="{picture}"' in shown
    image = panel.get(picture)
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content == png
    assert f'src="{picture}"' in panel.get(f"/commands/{command}/progress").text


def test_owners_send_what_the_admin_allows_to_their_fleets_only(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=2, tablets=1)
    mine, not_mine = tenant.fleets
    csrf = sign_in(panel, tenant.owner)
    page = panel.get("/commands")
    assert 'value="screenshot"' in page.text
    assert 'value="reboot"' not in page.text
    assert 'id="roles-form"' not in page.text  # the admin's
    refused = post_form(panel, "/commands", csrf, {"name": "reboot", "fleet": mine})
    assert refused.status_code == 422
    assert "you may not send reboot" in refused.text
    other = post_form(panel, "/commands", csrf, {"name": "screenshot", "fleet": not_mine})
    assert other.status_code == 422
    assert "no such tablets among yours" in other.text
    bad = post_form(panel, "/commands", csrf, {"name": "set_volume", "fleet": mine})
    assert bad.status_code == 422
    assert "Level" in bad.text
    assert post_form(panel, "/commands/roles", csrf, {"allowed": ["reboot"]}).status_code == 403

    admin_csrf = sign_in(panel, tenant.admin)
    saved = post_form(panel, "/commands/roles", admin_csrf, {"allowed": ["reboot", "screenshot"]})
    assert saved.status_code == 303
    audit = conn.execute(
        "SELECT details->'allowed' FROM audit_log WHERE action = 'command.roles'"
        " AND tenant_id = %s",
        (tenant.tenant_id,),
    ).fetchall()
    assert audit == [(["reboot", "screenshot"],)]

    csrf = sign_in(panel, tenant.owner)
    sent = post_form(panel, "/commands", csrf, {"name": "reboot", "fleet": mine, "expires": "10m"})
    assert sent.status_code == 303
    command = command_of(sent.headers["location"])
    targets = conn.execute(
        "SELECT tablet_id, state FROM command_targets WHERE command_id = %s", (command,)
    ).fetchall()
    assert targets == [(tenant.tablets[mine][0], "queued")]
    refused = post_form(
        panel, "/commands", csrf, {"name": "set_volume", "fleet": mine, "level": "5"}
    )
    assert "you may not send set_volume" in refused.text  # no longer allowed


def test_the_api_sends_to_a_fleet_and_a_selection_and_reads_progress(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=3)
    headers = api_token(panel, tenant.admin)
    fleet = tenant.fleets[0]
    whole = panel.post(
        "/api/v1/commands",
        headers=headers,
        json={"name": "set_brightness", "args": {"level": 70}, "fleet": fleet},
    )
    assert whole.status_code == 201, whole.text
    assert whole.json()["targets"] == 3
    some = panel.post(
        "/api/v1/commands",
        headers=headers,
        json={"name": "refresh_manifest", "tablets": tenant.all_tablets[:2], "expires_s": 60},
    )
    assert some.status_code == 201
    command = some.json()["command_id"]
    conn.execute(
        "UPDATE command_targets SET state = 'succeeded', done_at = now()"
        " WHERE command_id = %s AND tablet_id = %s",
        (command, tenant.all_tablets[0]),
    )
    got = panel.get(f"/api/v1/commands/{command}", headers=headers).json()
    assert (got["total"], got["succeeded"], got["queued"]) == (2, 1, 1)
    assert [t["tablet_id"] for t in got["targets"]] == sorted(tenant.all_tablets[:2])
    listed = panel.get("/api/v1/commands", headers=headers).json()
    assert [c["command_id"] for c in listed] == [command, whole.json()["command_id"]]
    assert listed[1]["args"] == {"level": 70}
    for body in (
        {"name": "reboot"},
        {"name": "reboot", "fleet": fleet, "tablets": tenant.all_tablets},
        {"name": "reboot", "tablets": ["nope"]},
        {"name": "reboot", "fleet": fleet, "args": {"level": 3}},
        {"name": "update_app", "fleet": fleet},
        {"name": "reboot", "fleet": fleet, "expires_s": 5},
    ):
        assert panel.post("/api/v1/commands", headers=headers, json=body).status_code == 422, body


async def _collect_screenshots(database_url: str, settings: Settings) -> int:
    async with AsyncConnectionPool(database_url, open=False) as pool:
        return await collect_screenshots(pool, settings)


def test_screenshots_past_retention_go_files_and_all_unless_a_kept_one_has_the_same_bytes(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, database_url: str
) -> None:
    tenant = tenant_factory(fleets=1, tablets=2)
    tablet, other = tenant.all_tablets[:2]
    csrf = sign_in(panel, tenant.admin)
    same = media_samples.image(label="same", fmt="PNG")
    own = media_samples.image(label="own", fmt="PNG")
    shots: dict[str, str] = {}
    for name, target, png in (("old", tablet, same), ("kept", other, same), ("own", tablet, own)):
        sent = post_form(panel, f"/tablets/{target}/commands", csrf, {"name": "screenshot"})
        command = shots[name] = command_of(sent.headers["location"])
        put = panel.put(upload_path(panel, command, target, expiry(conn, command)), content=png)
        assert put.status_code == 201, put.text
    conn.execute(
        "UPDATE screenshots SET taken_at = now() - interval '31 days' WHERE command_id = ANY(%s)",
        ([shots["old"], shots["own"]],),
    )
    settings: Settings = panel.app.state.settings  # type: ignore[attr-defined]
    root = settings.var_dir / "media"
    files = {name: root / screenshot_key(hashlib.sha256(png).hexdigest()) for name, png in
             (("same", same), ("own", own))}  # fmt: skip
    assert all(f.exists() for f in files.values())

    assert blocking(_collect_screenshots(database_url, settings)) == 1  # own's file
    left = conn.execute(
        "SELECT command_id::text FROM screenshots WHERE command_id = ANY(%s)",
        (list(shots.values()),),
    ).fetchall()
    assert left == [(shots["kept"],)]
    assert files["same"].exists()  # the kept screenshot has the same bytes
    assert not files["own"].exists()
    assert panel.get(f"/commands/{shots['old']}/screenshots/{tablet}").status_code == 404
    kept = panel.get(f"/commands/{shots['kept']}/screenshots/{other}")
    assert kept.status_code == 200
    assert kept.content == same
