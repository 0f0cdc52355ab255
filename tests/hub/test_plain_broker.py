"""A broker without Mosquitto's dynamic-security plugin (issue 17, defect 9): fleethub
routes tablets through it, but every credential command fails at once with a message
that says so, and changes nothing (docs/operations.md, "Brokers")."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from broker import dynsec
from cli.main import app
from config.errors import DynsecError
from config.settings import MqttTarget
from store.fleets import FleetSpec, TabletSpec, add_fleet, add_tablet
from tests.helpers import store

Conn = psycopg.Connection[tuple[Any, ...]]
NO_PLUGIN = "no dynamic-security plugin answers"


async def test_a_credential_command_fails_fast_and_says_why(plain_broker: MqttTarget) -> None:
    with pytest.raises(DynsecError, match=NO_PLUGIN) as raised:
        await dynsec.revoke_tablet(plain_broker, "t-1", timeout=60)
    assert "docs/operations.md" in str(raised.value)
    assert "None" not in str(raised.value)
    async with asyncio.timeout(30):  # not the command's 60 s: the probe gives up first
        with pytest.raises(DynsecError, match=NO_PLUGIN):
            await dynsec.check_plugin(plain_broker)


async def test_a_provisioning_target_without_a_user_is_named_as_such() -> None:
    with pytest.raises(DynsecError, match="has no user name"):
        await dynsec.revoke_tablet(MqttTarget(host="127.0.0.1", port=1), "t-1")


def test_tablet_revoke_on_such_a_broker_changes_nothing(
    plain_broker: MqttTarget,
    database_url: str,
    conn: Conn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tag = uuid.uuid4().hex[:8]
    fleet_id, tablet_id = f"fl-{tag}", f"tb-{tag}"

    async def register(aconn: Any) -> None:
        await add_fleet(aconn, FleetSpec(fleet_id), "test")
        await add_tablet(aconn, TabletSpec(tablet_id, fleet_id, None, 60, 180), "test")

    store(conn, register)
    url = f"mqtt://fleethub-provision:secret@127.0.0.1:{plain_broker.port}"
    monkeypatch.setenv("FLEETHUB_DATABASE_URL", database_url)
    monkeypatch.setenv("FLEETHUB_MQTT_URL", url)
    monkeypatch.setenv("FLEETHUB_PROVISION_MQTT_URL", url)
    monkeypatch.setenv("FLEETHUB_VAR_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["tablet", "revoke", tablet_id])
    assert result.exit_code != 0
    assert NO_PLUGIN in str(result.exception)
    sql = "SELECT revoked_at FROM tablets WHERE tablet_id = %s"
    assert conn.execute(sql, (tablet_id,)).fetchone() == (None,)


def test_tablet_revoke_without_the_broker_step(
    plain_broker: MqttTarget,
    database_url: str,
    conn: Conn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Credentials managed outside fleethub: ``--no-broker`` revokes in fleethub only."""
    tag = uuid.uuid4().hex[:8]
    fleet_id, tablet_id = f"fl-{tag}", f"tb-{tag}"

    async def register(aconn: Any) -> None:
        await add_fleet(aconn, FleetSpec(fleet_id), "test")
        await add_tablet(aconn, TabletSpec(tablet_id, fleet_id, None, 60, 180), "test")

    store(conn, register)
    monkeypatch.setenv("FLEETHUB_DATABASE_URL", database_url)
    monkeypatch.setenv("FLEETHUB_MQTT_URL", f"mqtt://hub:pw@127.0.0.1:{plain_broker.port}")
    monkeypatch.setenv("FLEETHUB_VAR_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["tablet", "revoke", tablet_id, "--no-broker"])
    assert result.exit_code == 0, result.output
    assert "remove the broker account" in result.output
    sql = "SELECT revoked_at IS NOT NULL FROM tablets WHERE tablet_id = %s"
    assert conn.execute(sql, (tablet_id,)).fetchone() == (True,)
