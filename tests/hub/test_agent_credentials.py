"""``fleethub agent credentials EMAIL``: an agent app's broker login, confined to agents/{id}/#."""

from __future__ import annotations

import queue
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from typer.testing import CliRunner

from broker import dynsec_file
from broker.runner import EmbeddedBroker
from cli.main import app
from store.fleets import FleetSpec, add_fleet
from store.users import add_tenant, add_user
from tests.helpers import Conn as AsyncConn
from tests.helpers import store

Conn = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def cli(
    database_url: str, broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> CliRunner:
    monkeypatch.setenv("FLEETHUB_DATABASE_URL", database_url)
    monkeypatch.setenv("FLEETHUB_MQTT_URL", broker.hub_target().url())
    monkeypatch.setenv("FLEETHUB_PROVISION_MQTT_URL", broker.provision_target().url())
    monkeypatch.setenv("FLEETHUB_VAR_DIR", str(tmp_path))
    return CliRunner()


def _user(conn: Conn, role: str) -> tuple[str, int]:
    tag = uuid.uuid4().hex[:8]
    email = f"{role}-{tag}@example.com"

    async def add(aconn: AsyncConn) -> int:
        await add_tenant(aconn, f"ag-{tag}", "Agents", "test")
        return await add_user(
            aconn,
            tenant_id=f"ag-{tag}",
            email=email,
            name="A",
            role=role,
            password="correct horse battery",
            fleets=[],
            actor="test",
        )

    return email, store(conn, add)


def _subscribe(
    broker: EmbeddedBroker, username: str, password: str, topics: list[str]
) -> list[bool]:
    """Whether each subscription was granted (client id = username: the account is bound)."""
    granted: dict[int, bool] = {}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=username)
    client.username_pw_set(username, password)
    client.on_subscribe = lambda c, u, mid, codes, p: granted.update({mid: not codes[0].is_failure})
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        mids = [int(client.subscribe(topic, qos=1)[1] or 0) for topic in topics]
        deadline = time.monotonic() + 10
        while len(granted) < len(mids) and time.monotonic() < deadline:
            time.sleep(0.01)
        return [granted[mid] for mid in mids]
    finally:
        client.disconnect()
        client.loop_stop()


def test_credentials_are_printed_once_and_confined_to_the_agents_topics(
    cli: CliRunner, conn: Conn, broker: EmbeddedBroker
) -> None:
    email, user_id = _user(conn, "agent")
    result = cli.invoke(app, ["agent", "credentials", email])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(": ", 1) for line in result.stdout.strip().splitlines())
    assert lines["username"] == f"agent-{user_id}"
    password = lines["password"]
    assert len(password) >= 24
    assert _subscribe(
        broker,
        lines["username"],
        password,
        [f"agents/{user_id}/leads", f"agents/{user_id + 1}/leads", "agents/#", "tablets/#"],
    ) == [True, False, False, False]
    again = cli.invoke(app, ["agent", "credentials", email])  # replaces the password
    assert again.exit_code == 0, again.output
    assert password not in again.stdout


def test_the_cli_refuses_to_provision_with_the_hubs_account(
    cli: CliRunner, conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    email, _ = _user(conn, "agent")
    monkeypatch.delenv("FLEETHUB_PROVISION_MQTT_URL")
    result = cli.invoke(app, ["agent", "credentials", email])
    assert result.exit_code == 1
    assert "FLEETHUB_PROVISION_MQTT_URL" in str(result.exception)


def test_only_agents_get_credentials(cli: CliRunner, conn: Conn) -> None:
    email, _ = _user(conn, "fleet_owner")
    result = cli.invoke(app, ["agent", "credentials", email])
    assert result.exit_code == 1
    assert "no enabled agent" in result.output
    assert cli.invoke(app, ["agent", "credentials", "nobody@example.com"]).exit_code == 1


def test_agent_role_in_the_file_is_its_own_subtree() -> None:
    config = dynsec_file.DynsecConfig()
    dynsec_file.put_agent(config, 42, "pw")
    client = config.client("agent-42")
    assert client is not None
    assert dynsec_file.verify(client, "pw")
    role = config.role("agent:42")
    assert role is not None
    assert {acl.topic for acl in role.acls} == {"agents/42/#"}
    assert dynsec_file.remove_agent(config, 42)
    assert config.client("agent-42") is None


def test_tablet_add_sets_broker_credentials_as_the_provisioning_account(
    cli: CliRunner, conn: Conn, broker: EmbeddedBroker
) -> None:
    fleet_id = f"cli-{uuid.uuid4().hex[:8]}"
    store(conn, lambda aconn: add_fleet(aconn, FleetSpec(fleet_id), "test"))
    tablet_id = f"{fleet_id}-t0"
    result = cli.invoke(
        app, ["tablet", "add", tablet_id, "--fleet", fleet_id, "--password", "pw-cli-tablet"]
    )
    assert result.exit_code == 0, result.output
    assert "broker credentials set" in result.output
    assert _subscribe(
        broker, tablet_id, "pw-cli-tablet", [f"tablets/{tablet_id}/#", "tablets/#"]
    ) == [True, False]


def test_tablet_revoke_needs_the_provisioning_account_before_it_changes_anything(
    cli: CliRunner, conn: Conn, broker: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet_id = f"cli-{uuid.uuid4().hex[:8]}"
    store(conn, lambda aconn: add_fleet(aconn, FleetSpec(fleet_id), "test"))
    tablet_id = f"{fleet_id}-t0"
    added = cli.invoke(
        app, ["tablet", "add", tablet_id, "--fleet", fleet_id, "--password", "pw-revoke"]
    )
    assert added.exit_code == 0, added.output
    provision = broker.provision_target().url()
    monkeypatch.delenv("FLEETHUB_PROVISION_MQTT_URL")
    refused = cli.invoke(app, ["tablet", "revoke", tablet_id])
    assert refused.exit_code == 1
    assert "FLEETHUB_PROVISION_MQTT_URL" in str(refused.exception)
    revoked_at = "SELECT revoked_at FROM tablets WHERE tablet_id = %s"
    assert conn.execute(revoked_at, (tablet_id,)).fetchone() == (None,)  # nothing changed

    monkeypatch.setenv("FLEETHUB_PROVISION_MQTT_URL", provision)
    done = cli.invoke(app, ["tablet", "revoke", tablet_id])
    assert done.exit_code == 0, done.output
    row = conn.execute(revoked_at, (tablet_id,)).fetchone()
    assert row is not None
    assert row[0] is not None
    assert "authori" in str(_connack(broker, tablet_id, "pw-revoke")).lower()  # refused


def _connack(broker: EmbeddedBroker, username: str, password: str) -> ReasonCode:
    codes: queue.SimpleQueue[ReasonCode] = queue.SimpleQueue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=username)
    client.username_pw_set(username, password)
    client.on_connect = lambda c, u, f, rc, p: codes.put(rc)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        return codes.get(timeout=5)
    finally:
        client.disconnect()
        client.loop_stop()
