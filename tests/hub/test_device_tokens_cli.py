"""``fleethub tablet token``: a new device token printed once and stored hashed, ``--revoke``."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from cli.main import app
from config.errors import HubError
from store.fleets import FleetSpec, TabletSpec, add_fleet, add_tablet
from store.users import add_tenant
from tests.helpers import store

Conn = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("FLEETHUB_DATABASE_URL", database_url)
    monkeypatch.setenv("FLEETHUB_MQTT_URL", "mqtt://hub:secret@127.0.0.1:1")
    monkeypatch.setenv("FLEETHUB_VAR_DIR", str(tmp_path))
    return CliRunner()


@pytest.fixture
def tablet(conn: Conn) -> tuple[str, str]:
    """A tablet of its own tenant: (tenant_id, tablet_id)."""
    tag = uuid.uuid4().hex[:8]
    store(conn, lambda aconn: add_tenant(aconn, f"tok-{tag}", "Token tenant", "test"))
    store(
        conn,
        lambda aconn: add_fleet(aconn, FleetSpec(f"tok-{tag}", tenant_id=f"tok-{tag}"), "test"),
    )
    store(conn, lambda aconn: add_tablet(aconn, TabletSpec(f"tok-{tag}-t", f"tok-{tag}"), "test"))
    return f"tok-{tag}", f"tok-{tag}-t"


def test_token_is_printed_once_and_stored_hashed(
    cli: CliRunner, conn: Conn, tablet: tuple[str, str]
) -> None:
    tenant_id, tablet_id = tablet
    first = cli.invoke(app, ["tablet", "token", tablet_id])
    assert first.exit_code == 0, first.output
    token = first.stdout.strip().splitlines()[-1]
    assert token.startswith("fht_")
    assert len(token) > 40
    stored = conn.execute(
        "SELECT token_hash, revoked_at FROM device_tokens WHERE tablet_id = %s", (tablet_id,)
    ).fetchall()
    assert stored == [(hashlib.sha256(token.encode()).hexdigest(), None)]
    assert token not in str(
        conn.execute(
            "SELECT array_agg(details::text) FROM audit_log WHERE target = %s",
            (f"tablet:{tablet_id}",),
        ).fetchone()
    )
    audit = conn.execute(
        "SELECT tenant_id, actor FROM audit_log WHERE target = %s"
        " AND action = 'device_token.issue'",
        (f"tablet:{tablet_id}",),
    ).fetchall()
    assert audit == [(tenant_id, "cli")]

    second = cli.invoke(app, ["tablet", "token", tablet_id])
    assert second.stdout.strip().splitlines()[-1] != token

    revoked = cli.invoke(app, ["tablet", "token", tablet_id, "--revoke"])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked 2 device token(s)" in revoked.stdout
    assert conn.execute(
        "SELECT count(*) FROM device_tokens WHERE tablet_id = %s AND revoked_at IS NULL",
        (tablet_id,),
    ).fetchone() == (0,)
    assert conn.execute(
        "SELECT tenant_id FROM audit_log WHERE target = %s AND action = 'device_token.revoke'",
        (f"tablet:{tablet_id}",),
    ).fetchall() == [(tenant_id,)]


def test_unknown_or_revoked_tablet_is_a_clear_error(
    cli: CliRunner, conn: Conn, tablet: tuple[str, str]
) -> None:
    unknown = cli.invoke(app, ["tablet", "token", "no-such-tablet"])
    assert isinstance(unknown.exception, HubError)
    assert "unknown tablet" in str(unknown.exception)
    _, tablet_id = tablet
    conn.execute("UPDATE tablets SET revoked_at = now() WHERE tablet_id = %s", (tablet_id,))
    revoked = cli.invoke(app, ["tablet", "token", tablet_id])
    assert isinstance(revoked.exception, HubError)
    assert "is revoked" in str(revoked.exception)
    assert conn.execute(
        "SELECT count(*) FROM device_tokens WHERE tablet_id = ANY(%s)",
        (["no-such-tablet", tablet_id],),
    ).fetchone() == (0,)
