"""The CLI contract: names, flags, output and clear errors, against the real store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from cli.main import app
from config.errors import HubError

Conn = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("FLEETHUB_DATABASE_URL", database_url)
    monkeypatch.setenv("FLEETHUB_MQTT_URL", "mqtt://hub:secret@127.0.0.1:1")
    monkeypatch.setenv("FLEETHUB_VAR_DIR", str(tmp_path))
    return CliRunner()


def items_file(tmp_path: Path, n: int = 2) -> Path:
    path = tmp_path / "items.json"
    path.write_text(
        json.dumps(
            [
                {
                    "ad_id": f"ad-{i}",
                    "campaign_id": "c",
                    "url": f"https://cdn.example/{i}.mp4",
                    "sha256": f"{i:x}" * 64,
                    "duration_ms": 10000,
                }
                for i in range(n)
            ]
        )
    )
    return path


def test_migrate_twice_is_safe(cli: CliRunner) -> None:
    first = cli.invoke(app, ["migrate"])
    assert first.exit_code == 0, first.output
    second = cli.invoke(app, ["migrate"])
    assert second.exit_code == 0
    assert "up to date" in second.output


def test_fleet_tablet_push_status(cli: CliRunner, tmp_path: Path, conn: Conn) -> None:
    ok = cli.invoke(
        app,
        [
            "fleet",
            "add",
            "cli-fleet",
            "--timezone",
            "Asia/Singapore",
            "--alert-after",
            "2m",
            "--hours",
            "mon-fri 07:00-22:00,sat 09:00-18:00",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert conn.execute(
        "SELECT timezone, alert_after_s, operating_hours FROM fleets WHERE fleet_id = 'cli-fleet'"
    ).fetchone() == ("Asia/Singapore", 120, "mon-fri 07:00-22:00,sat 09:00-18:00")
    for n in (1, 2):
        res = cli.invoke(
            app,
            [
                "tablet",
                "add",
                f"cli-t{n}",
                "--fleet",
                "cli-fleet",
                "--car",
                f"cli-car{n}",
                "--heartbeat-interval",
                "30s",
            ],
        )
        assert res.exit_code == 0, res.output
    assert conn.execute(
        "SELECT offline_after_s FROM tablets WHERE tablet_id = 'cli-t1'"
    ).fetchone() == (90,)

    push = cli.invoke(
        app, ["playlist", "push", "--to", "fleet:cli-fleet", "--items", str(items_file(tmp_path))]
    )
    assert push.exit_code == 0, push.output
    etag = push.output.split("etag ")[1].split()[0]
    assert "targeted 2 tablet(s)" in push.output
    again = cli.invoke(
        app, ["playlist", "push", "--to", "fleet:cli-fleet", "--items", str(items_file(tmp_path))]
    )
    assert f"etag {etag}" in again.output
    car = cli.invoke(
        app,
        [
            "playlist",
            "push",
            "--to",
            "car:cli-car1",
            "--items",
            str(items_file(tmp_path)),
            "--emergency",
            "--expires",
            "10m",
            "--reason",
            "storm",
        ],
    )
    assert "targeted 1 tablet(s)" in car.output

    status = cli.invoke(app, ["status", "--fleet", "cli-fleet", "--json"])
    assert status.exit_code == 0, status.output
    rows = json.loads(status.output)
    assert [r["tablet_id"] for r in rows] == ["cli-t1", "cli-t2"]
    assert set(rows[0]) == {
        "tablet_id",
        "fleet_id",
        "state",
        "last_heartbeat_at",
        "desired_etag",
        "applied_etag",
        "open_incident",
    }
    assert rows[0]["state"] == "unknown"
    table = cli.invoke(app, ["status", "--fleet", "cli-fleet"])
    assert "cli-t2" in table.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fleet", "add", "Bad Fleet"], "invalid fleet id"),
        (["fleet", "add", "f-ok", "--alert-after", "5 minutes"], "invalid duration"),
        (["fleet", "add", "f-ok", "--timezone", "Mars/Olympus"], "unknown time zone"),
        (["fleet", "add", "f-ok", "--hours", "someday 7-9"], "invalid hours rule"),
        (["tablet", "add", "t-x", "--fleet", "no-such-fleet"], "unknown fleet"),
        (["playlist", "push", "--to", "planet:x", "--items", "x.json"], "invalid target"),
        (["playlist", "push", "--to", "fleet:nope", "--items", "/nonexistent.json"], "cannot read"),
    ],
)
def test_bad_input_is_a_clear_error_and_changes_nothing(
    cli: CliRunner, conn: Conn, args: list[str], message: str
) -> None:
    before = conn.execute(
        "SELECT (SELECT count(*) FROM fleets), (SELECT count(*) FROM tablets),"
        " (SELECT count(*) FROM playlist_assignments)"
    ).fetchone()
    result = cli.invoke(app, args)
    assert result.exit_code != 0
    assert message in str(result.exception) + result.output
    after = conn.execute(
        "SELECT (SELECT count(*) FROM fleets), (SELECT count(*) FROM tablets),"
        " (SELECT count(*) FROM playlist_assignments)"
    ).fetchone()
    assert before == after


def test_bad_items_file_is_rejected(cli: CliRunner, tmp_path: Path, conn: Conn) -> None:
    cli.invoke(app, ["fleet", "add", "items-fleet"])
    cli.invoke(app, ["tablet", "add", "items-t", "--fleet", "items-fleet"])
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            [
                {
                    "ad_id": "a",
                    "campaign_id": "c",
                    "url": "ftp://x",
                    "sha256": "zz",
                    "duration_ms": -1,
                }
            ]
        )
    )
    result = cli.invoke(app, ["playlist", "push", "--to", "fleet:items-fleet", "--items", str(bad)])
    assert result.exit_code != 0
    assert "url" in str(result.exception)
    assert conn.execute(
        "SELECT count(*) FROM playlist_assignments WHERE target_id = 'items-fleet'"
    ).fetchone() == (0,)


def test_tenant_fleet_and_users(cli: CliRunner, conn: Conn) -> None:
    from store.users import verify_password

    assert cli.invoke(app, ["tenant", "add", "cli-tenant", "--name", "CLI Co"]).exit_code == 0
    assert (
        cli.invoke(app, ["fleet", "add", "cli-tenant-fleet", "--tenant", "cli-tenant"]).exit_code
        == 0
    )
    made = cli.invoke(
        app,
        [
            "user",
            "add",
            "Owner@CLI.example",
            "--tenant",
            "cli-tenant",
            "--role",
            "fleet_owner",
            "--fleet",
            "cli-tenant-fleet",
            "--password",
            "long enough",
        ],
    )
    assert made.exit_code == 0, made.output
    row = conn.execute(
        "SELECT u.tenant_id, u.role, u.password_hash, array_agg(f.fleet_id) FROM users u"
        " JOIN user_fleets f USING (user_id) WHERE u.email = 'owner@cli.example'"
        " GROUP BY u.user_id"
    ).fetchone()
    assert row is not None
    assert row[:2] == ("cli-tenant", "fleet_owner")
    assert row[3] == ["cli-tenant-fleet"]
    assert verify_password(row[2], "long enough")
    assert not verify_password(row[2], "wrong one")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "boss"], "invalid role"),
        (["--password", "short"], "at least 8"),
        (["--fleet", "no-such-fleet"], "has no fleet no-such-fleet"),
    ],
)
def test_bad_user_input_is_a_clear_error_and_changes_nothing(
    cli: CliRunner, conn: Conn, args: list[str], message: str
) -> None:
    cli.invoke(app, ["tenant", "add", "cli-bad"])
    base = {"--role": "admin", "--password": "long enough"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = ["user", "add", "bad@cli.example", "--tenant", "cli-bad"]
    for flag, value in base.items():
        argv += [flag, value]
    result = cli.invoke(app, argv)  # main() turns a HubError into exit code 2 and its message
    assert isinstance(result.exception, HubError)
    assert message in str(result.exception)
    assert conn.execute("SELECT 1 FROM users WHERE email = 'bad@cli.example'").fetchone() is None


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("password123", "This is a very common password"),
        ("qwertyuiop", "This is a top-100 common password"),
        ("Passw0rd!", "similar to a commonly used password"),
        ("cli-pw-user@example.com", "too easy to guess"),  # the user's own e-mail
        ("short", "at least 8 characters"),
    ],
)
def test_user_add_refuses_a_common_password(
    cli: CliRunner, conn: Conn, password: str, message: str
) -> None:
    """Any password used to be taken if it had 8 characters; a common one is refused now, with
    zxcvbn's reason and advice, and no user is made."""
    assert cli.invoke(app, ["tenant", "add", "cli-pw"]).exit_code == 0
    email = "cli-pw-user@example.com"
    conn.execute("DELETE FROM users WHERE email = %s", (email,))
    args = ["user", "add", email, "--tenant", "cli-pw", "--role", "admin", "--password", password]
    result = cli.invoke(app, args)
    assert result.exit_code != 0
    text = str(result.exception) + result.output
    assert message in " ".join(text.split()), text
    assert "the password is refused" in text or "at least" in text
    found = conn.execute("SELECT count(*) FROM users WHERE email = %s", (email,))
    assert found.fetchone() == (0,)
    ok = cli.invoke(app, [*args[:-1], "correct horse battery"])
    assert ok.exit_code == 0, ok.output
