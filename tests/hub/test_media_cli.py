"""`fleethub media add` and advertisers' campaigns from the command line, on the real store."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from cli.main import app
from devtools import media_samples

Conn = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("FLEETHUB_DATABASE_URL", database_url)
    monkeypatch.setenv("FLEETHUB_MQTT_URL", "mqtt://hub:secret@127.0.0.1:1")
    monkeypatch.setenv("FLEETHUB_VAR_DIR", str(tmp_path / "var"))
    return CliRunner()


def test_media_add_uploads_each_file_once(cli: CliRunner, conn: Conn, tmp_path: Path) -> None:
    tenant = f"tn-{uuid.uuid4().hex[:8]}"
    assert cli.invoke(app, ["tenant", "add", tenant]).exit_code == 0
    video = media_samples.video(tmp_path / "spot.mp4", seconds=2)
    poster = tmp_path / "poster.webp"
    poster.write_bytes(media_samples.image(fmt="WEBP"))
    args = ["media", "add", str(video), str(poster), "--tenant", tenant, "--tags", "a, b"]
    result = cli.invoke(app, [*args, "--campaign", "c-1"])
    assert result.exit_code == 0, result.output
    assert "added m-" in result.output
    assert "video video/mp4 320×180 2.0 s v1" in result.output
    assert "image image/webp 640×360 10.0 s v1" in result.output
    rows = conn.execute(
        "SELECT name, kind, tags, campaign_id FROM media WHERE tenant_id = %s ORDER BY name",
        (tenant,),
    ).fetchall()
    assert rows == [
        ("poster.webp", "image", ["a", "b"], "c-1"),
        ("spot.mp4", "video", ["a", "b"], "c-1"),
    ]
    assert (tmp_path / "var" / "media" / "sha256").is_dir()

    again = cli.invoke(app, ["media", "add", str(video), "--tenant", tenant, "--name", "Spot"])
    assert again.exit_code == 0, again.output
    assert "already in the library as m-" in again.output


def test_a_refused_file_fails_the_command_and_stores_nothing(
    cli: CliRunner, conn: Conn, tmp_path: Path
) -> None:
    tenant = f"tn-{uuid.uuid4().hex[:8]}"
    assert cli.invoke(app, ["tenant", "add", tenant]).exit_code == 0
    junk = tmp_path / "clip.mp4"
    junk.write_bytes(b"not a video" * 100)
    result = cli.invoke(app, ["media", "add", str(junk), "--tenant", tenant])
    assert result.exit_code == 1
    assert "not a readable video or image" in result.output
    count = conn.execute("SELECT count(*) FROM media WHERE tenant_id = %s", (tenant,)).fetchone()
    assert count == (0,)
    stored = [p for p in (tmp_path / "var" / "media").rglob("*") if p.is_file()]
    assert stored == []


def test_user_add_grants_an_advertiser_campaigns(cli: CliRunner, conn: Conn) -> None:
    tenant = f"tn-{uuid.uuid4().hex[:8]}"
    email = f"ads-{uuid.uuid4().hex[:8]}@example.com"
    assert cli.invoke(app, ["tenant", "add", tenant]).exit_code == 0
    result = cli.invoke(
        app,
        [
            *("user", "add", email, "--tenant", tenant, "--role", "advertiser"),
            *("--campaign", "c-1", "--campaign", "c-2", "--password", "correct horse battery"),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = conn.execute(
        "SELECT c.campaign_id FROM user_campaigns c JOIN users u USING (user_id)"
        " WHERE u.email = %s ORDER BY 1",
        (email,),
    ).fetchall()
    assert rows == [("c-1",), ("c-2",)]
