"""`fleethub advertiser` and `fleethub zone` on the real store: accounts, their users, zones
from GeoJSON files (refused files say why and store nothing)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.hub.campaign_helpers import CBD_RING

Conn = psycopg.Connection[tuple[Any, ...]]
EXAMPLES = Path(__file__).resolve().parents[2] / "devtools" / "example_zones"


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("FLEETHUB_DATABASE_URL", database_url)
    monkeypatch.setenv("FLEETHUB_MQTT_URL", "mqtt://hub:secret@127.0.0.1:1")
    monkeypatch.setenv("FLEETHUB_VAR_DIR", str(tmp_path / "var"))
    return CliRunner()


def _tenant(cli: CliRunner) -> str:
    tenant = f"tn-{uuid.uuid4().hex[:8]}"
    assert cli.invoke(app, ["tenant", "add", tenant]).exit_code == 0
    return tenant


def test_an_advertiser_account_and_its_user(cli: CliRunner, conn: Conn) -> None:
    tenant = _tenant(cli)
    email = f"ads-{uuid.uuid4().hex[:8]}@example.com"
    added = cli.invoke(app, ["advertiser", "add", "acme", "--name", "Acme", "--tenant", tenant])
    assert added.exit_code == 0, added.output
    assert "advertiser acme added" in added.output
    renamed = cli.invoke(
        app, ["advertiser", "add", "acme", "--name", "Acme Travel", "--tenant", tenant]
    )
    assert "advertiser acme renamed" in renamed.output
    user = ["user", "add", email, "--tenant", tenant, "--role", "advertiser"]
    made = cli.invoke(app, [*user, "--password", "correct horse battery"])
    assert made.exit_code == 0, made.output
    linked = cli.invoke(app, ["advertiser", "link", "acme", email, "--tenant", tenant])
    assert linked.exit_code == 0, linked.output
    row = conn.execute(
        "SELECT a.name, ua.advertiser_id FROM advertisers a"
        " JOIN user_advertisers ua USING (advertiser_id) JOIN users u USING (user_id)"
        " WHERE a.tenant_id = %s AND u.email = %s",
        (tenant, email),
    ).fetchone()
    assert row == ("Acme Travel", "acme")


def test_linking_a_user_of_another_tenant_is_refused(cli: CliRunner, conn: Conn) -> None:
    tenant, other = _tenant(cli), _tenant(cli)
    email = f"ads-{uuid.uuid4().hex[:8]}@example.com"
    user = ["user", "add", email, "--tenant", other, "--role", "advertiser"]
    assert cli.invoke(app, [*user, "--password", "correct horse battery"]).exit_code == 0
    assert cli.invoke(app, ["advertiser", "add", "acme", "--name", "A", "--tenant", tenant])
    refused = cli.invoke(app, ["advertiser", "link", "acme", email, "--tenant", tenant])
    assert refused.exit_code != 0
    assert "no user with that e-mail in this tenant" in str(refused.exception)
    count = conn.execute(
        "SELECT count(*) FROM user_advertisers ua JOIN users u USING (user_id) WHERE u.email = %s",
        (email,),
    ).fetchone()
    assert count == (0,)


def test_zone_add_from_a_file(cli: CliRunner, conn: Conn) -> None:
    tenant = _tenant(cli)
    path = EXAMPLES / "sg-cbd.geojson"
    added = cli.invoke(app, ["zone", "add", str(path), "--name", "CBD", "--tenant", tenant])
    assert added.exit_code == 0, added.output
    assert "(CBD): 10 positions" in added.output
    row = conn.execute("SELECT name, source FROM zones WHERE tenant_id = %s", (tenant,)).fetchone()
    assert row == ("CBD", "upload")
    again = cli.invoke(app, ["zone", "add", str(path), "--name", "CBD", "--tenant", tenant])
    assert again.exit_code != 0
    assert "a zone named 'CBD' exists already" in str(again.exception)


def test_an_invalid_zone_file_is_refused_with_the_reason(
    cli: CliRunner, conn: Conn, tmp_path: Path
) -> None:
    tenant = _tenant(cli)
    open_ring = {"type": "Polygon", "coordinates": [CBD_RING[:-1]]}
    path = tmp_path / "open.geojson"
    path.write_text(json.dumps(open_ring))
    refused = cli.invoke(app, ["zone", "add", str(path), "--name", "Open", "--tenant", tenant])
    assert refused.exit_code != 0
    assert "closed" in str(refused.exception)
    missing = cli.invoke(
        app, ["zone", "add", str(tmp_path / "none.geojson"), "--name", "X", "--tenant", tenant]
    )
    assert missing.exit_code == 2
    count = conn.execute("SELECT count(*) FROM zones WHERE tenant_id = %s", (tenant,)).fetchone()
    assert count == (0,)
