"""Every CLI command that names tablets, fleets or playlists works for every tenant
(issue 17, defect 7); ``--tenant`` is explicit where ids can clash (``--to all``)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.hub.test_cli import items_file

Conn = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("FLEETHUB_DATABASE_URL", database_url)
    monkeypatch.setenv("FLEETHUB_MQTT_URL", "mqtt://hub:secret@127.0.0.1:1")
    monkeypatch.setenv("FLEETHUB_VAR_DIR", str(tmp_path))
    return CliRunner()


def run(cli: CliRunner, *args: str) -> Any:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def tenant_with_tablet(cli: CliRunner) -> tuple[str, str, str, str]:
    tag = uuid.uuid4().hex[:8]
    tenant, fleet, tablet, car = f"tn-{tag}", f"fl-{tag}", f"tb-{tag}", f"car-{tag}"
    run(cli, "tenant", "add", tenant)
    run(cli, "fleet", "add", fleet, "--tenant", tenant)
    run(cli, "tablet", "add", tablet, "--fleet", fleet, "--car", car)
    return tenant, fleet, tablet, car


def assignment_tenants(conn: Conn, target: str) -> list[str]:
    kind, _, ident = target.partition(":")
    sql = (
        "SELECT tenant_id FROM playlist_assignments WHERE target_kind = %s"
        " AND target_id IS NOT DISTINCT FROM %s ORDER BY assignment_id"
    )
    return [r[0] for r in conn.execute(sql, (kind, ident or None)).fetchall()]


def test_playlist_push_reaches_a_tablet_car_or_fleet_of_any_tenant(
    cli: CliRunner, tmp_path: Path, conn: Conn
) -> None:
    tenant, fleet, tablet, car = tenant_with_tablet(cli)
    items = str(items_file(tmp_path))
    for target in (f"tablet:{tablet}", f"car:{car}", f"fleet:{fleet}"):
        pushed = run(cli, "playlist", "push", "--to", target, "--items", items)
        assert "targeted 1 tablet(s)" in pushed.output
        assert assignment_tenants(conn, target) == [tenant]
    named = run(
        cli, "playlist", "push", "--to", f"fleet:{fleet}", "--tenant", tenant, "--items", items
    )
    assert "targeted 1 tablet(s)" in named.output
    # The playlist is the tenant's own (its library), not the default tenant's.
    sql = "SELECT tenant_id FROM tenant_playlists WHERE tenant_id = %s"
    assert conn.execute(sql, (tenant,)).fetchone() == (tenant,)


def test_a_tenant_that_does_not_own_the_target_is_refused(cli: CliRunner, tmp_path: Path) -> None:
    _, fleet, _, _ = tenant_with_tablet(cli)
    other, _, _, _ = tenant_with_tablet(cli)
    result = cli.invoke(
        app,
        [
            "playlist",
            "push",
            "--to",
            f"fleet:{fleet}",
            "--tenant",
            other,
            "--items",
            str(items_file(tmp_path)),
        ],
    )
    assert result.exit_code != 0
    assert f"fleet:{fleet} belongs to another tenant than {other}" in str(result.exception)


def test_push_to_all_names_its_tenant(cli: CliRunner, tmp_path: Path, conn: Conn) -> None:
    tenant, _, _, _ = tenant_with_tablet(cli)
    tenant_with_tablet(cli)  # a second tenant: "all" alone is ambiguous
    items = str(items_file(tmp_path))
    ambiguous = cli.invoke(app, ["playlist", "push", "--to", "all", "--items", items])
    assert ambiguous.exit_code != 0
    assert "--to all needs --tenant" in str(ambiguous.exception)
    pushed = run(cli, "playlist", "push", "--to", "all", "--tenant", tenant, "--items", items)
    assert "targeted 1 tablet(s)" in pushed.output
    unknown = cli.invoke(
        app, ["playlist", "push", "--to", "all", "--tenant", "no-such-tenant", "--items", items]
    )
    assert unknown.exit_code != 0
    assert "no tenant 'no-such-tenant'" in str(unknown.exception)


def test_claim_token_and_status_work_for_any_tenant(cli: CliRunner, conn: Conn) -> None:
    tenant, fleet, tablet, _ = tenant_with_tablet(cli)
    code = run(cli, "claim", "create", "--fleet", fleet)
    assert code.stdout.strip()
    sql = "SELECT tenant_id FROM claim_codes WHERE fleet_id = %s"
    assert conn.execute(sql, (fleet,)).fetchone() == (tenant,)
    token = run(cli, "tablet", "token", tablet)
    assert token.stdout.strip().startswith("fht_")
    rows = json.loads(run(cli, "status", "--tenant", tenant, "--json").stdout)
    assert [r["tablet_id"] for r in rows] == [tablet]
    assert (
        json.loads(run(cli, "status", "--fleet", fleet, "--json").stdout)[0]["tablet_id"] == tablet
    )
