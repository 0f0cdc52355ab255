"""Remote commands end to end: a real hub and broker, paho tablets with persistent sessions.

A command reaches a tablet once, also one offline when it was sent that reconnects within the
expiry, never one that comes back after it; a redelivered command is not executed twice (the
tablet keeps the ids it ran) and a repeated result changes nothing; states are stored.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from typer.testing import CliRunner

from cli.main import app
from store import db
from store.commands import CommandRefused, issue, states
from store.users import User
from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import TestFleet, eventually

Conn = psycopg.Connection[tuple[Any, ...]]


class CommandTablet:
    """A tablet with a persistent MQTT 5 session that runs commands (each id once)."""

    def __init__(self, fleet: TestFleet, n: int = 0, answer: bool = True) -> None:
        self.tablet_id = fleet.tablet_ids[n]
        self.host, self.port = fleet.host, fleet.port
        self.password = fleet.passwords[self.tablet_id]
        self.answer = answer
        self.ran: list[str] = []  # command ids executed, in order
        self.got: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._done: set[str] = set()
        self.client: mqtt.Client | None = None

    def connect(self, first: bool = False) -> CommandTablet:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.tablet_id, protocol=mqtt.MQTTv5
        )
        client.username_pw_set(self.tablet_id, self.password)
        client.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        subscribed = threading.Event()
        client.on_subscribe = lambda *_: subscribed.set()
        client.connect(self.host, self.port, clean_start=first, properties=props)
        client.loop_start()
        if first:
            client.subscribe(f"tablets/{self.tablet_id}/commands", qos=1)
            # Its session holds the subscription once the SUBACK came: only then may it drop.
            assert subscribed.wait(10), "no SUBACK"
        self.client = client
        deadline = time.monotonic() + 10
        while not client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        command = json.loads(msg.payload)
        self.got.put(command)
        ident = command["command_id"]
        if ident not in self._done:  # dedupe by command id: run each once
            self._done.add(ident)
            self.ran.append(ident)
        # Its result (again, for a redelivery: results are idempotent), through the client
        # that got it (a dropped client's thread may still deliver what it had read).
        if self.answer:
            self.result(ident, "received", via=client)
            self.result(ident, "succeeded", "done", via=client)

    def result(
        self,
        command_id: str,
        status: str,
        detail: str | None = None,
        via: mqtt.Client | None = None,
    ) -> None:
        client = via or self.client
        assert client is not None
        body = {"v": 1, "command_id": command_id, "status": status, "detail": detail}
        client.publish(
            f"tablets/{self.tablet_id}/commands/result", json.dumps(body).encode(), qos=1
        )

    def heartbeat(self, boot_id: str, seq: int) -> None:
        assert self.client is not None
        body = {"v": 1, "seq": seq, "boot_id": boot_id}
        self.client.publish(f"tablets/{self.tablet_id}/heartbeat", json.dumps(body).encode(), qos=1)

    def drop(self) -> None:
        """Vanish without DISCONNECT; the broker keeps the session (and queues QoS 1)."""
        assert self.client is not None
        sock = self.client.socket()
        self.client.loop_stop()
        if sock is not None:
            sock.close()
        self.client = None

    def close(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None


ADMIN = User(0, "default", "ops@example.com", "Ops", "admin", None)


async def send(
    database_url: str, name: str, tablets: list[str], expires_s: int = 600, **args: Any
) -> uuid.UUID:
    async with db.connect(database_url) as conn:
        issued = await issue(conn, ADMIN, name, args, tablets=tablets, expires_s=expires_s)
    return issued.command_id


def target(conn: Conn, command_id: uuid.UUID, tablet_id: str) -> tuple[str, bool]:
    row = conn.execute(
        "SELECT state, sent_at IS NOT NULL FROM command_targets"
        " WHERE command_id = %s AND tablet_id = %s",
        (command_id, tablet_id),
    ).fetchone()
    assert row is not None
    return str(row[0]), bool(row[1])


async def test_a_command_succeeds_once_and_a_repeated_result_changes_nothing(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn, database_url: str
) -> None:
    fleet = await fleet_factory(tablets=2)
    tablets = [CommandTablet(fleet, n).connect(first=True) for n in range(2)]
    try:
        command = await send(database_url, "set_volume", fleet.tablet_ids, level=40)
        done = ("succeeded", True)
        await eventually(lambda: all(target(conn, command, t) == done for t in fleet.tablet_ids))
        got = tablets[0].got.get(timeout=1)
        assert got["name"] == "set_volume"
        assert got["args"] == {"level": 40}
        assert got["command_id"] == str(command)
        tablets[0].result(str(command), "failed", "late and wrong")
        tablets[0].result(str(command), "received")
        await asyncio.sleep(0.5)
        assert target(conn, command, tablets[0].tablet_id) == ("succeeded", True)
        async with db.connect(database_url) as aconn:
            assert await states(aconn, command) == {"succeeded": 2}
        detail = conn.execute(
            "SELECT detail FROM command_targets WHERE command_id = %s LIMIT 1", (command,)
        ).fetchone()
        assert detail == ("done",)
        audit = conn.execute(
            "SELECT actor, details->>'name', (details->>'tablets')::int FROM audit_log"
            " WHERE action = 'command.send' AND target = %s",
            (f"command:{command}",),
        ).fetchall()
        assert audit == [("ops@example.com", "set_volume", 2)]

        def done_audit() -> list[tuple[Any, ...]]:
            return conn.execute(
                "SELECT actor, details FROM audit_log WHERE action = 'command.done'"
                " AND target = %s",
                (f"command:{command}",),
            ).fetchall()

        await eventually(done_audit)  # once every target is final: the result counts
        assert done_audit() == [
            (
                "hub",
                {"name": "set_volume", "tablets": 2, "succeeded": 2, "failed": 0, "expired": 0},
            )
        ]
    finally:
        for t in tablets:
            t.close()


async def test_an_offline_tablet_gets_it_on_reconnect_within_the_expiry(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn, database_url: str
) -> None:
    fleet = await fleet_factory(tablets=1)
    tablet = CommandTablet(fleet).connect(first=True)
    tablet.drop()
    command = await send(database_url, "restart_app", fleet.tablet_ids)
    await eventually(lambda: target(conn, command, tablet.tablet_id) == ("queued", True))
    tablet.connect()
    try:
        await eventually(lambda: target(conn, command, tablet.tablet_id) == ("succeeded", True))
        assert tablet.ran == [str(command)]
    finally:
        tablet.close()


async def test_a_tablet_back_after_the_expiry_never_gets_it(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn, database_url: str
) -> None:
    fleet = await fleet_factory(tablets=1)
    tablet = CommandTablet(fleet).connect(first=True)
    tablet.drop()
    command = await send(database_url, "reboot", fleet.tablet_ids, expires_s=10)
    await eventually(lambda: target(conn, command, tablet.tablet_id) == ("queued", True))
    await eventually(
        lambda: target(conn, command, tablet.tablet_id) == ("expired", True), timeout=15
    )
    await asyncio.sleep(2)  # past the broker's expiry too (it counts whole seconds)
    tablet.connect()
    try:
        await asyncio.sleep(1.0)
        assert tablet.ran == []
        assert tablet.got.empty()
    finally:
        tablet.close()


async def test_a_restarted_hub_does_not_send_it_again(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn, database_url: str
) -> None:
    fleet = await fleet_factory(tablets=1)
    tablet = CommandTablet(fleet, answer=False).connect(first=True)
    try:
        command = await send(database_url, "clear_cache", fleet.tablet_ids)
        await eventually(lambda: tablet.ran == [str(command)])
        await eventually(lambda: target(conn, command, tablet.tablet_id) == ("queued", True))
        await running_hub.restart()  # loads the queued commands it has not sent: none
        tablet.result(str(command), "received")
        await eventually(lambda: target(conn, command, tablet.tablet_id) == ("delivered", True))
        tablet.result(str(command), "succeeded")
        tablet.result(str(command), "succeeded")  # a redelivered result
        await eventually(lambda: target(conn, command, tablet.tablet_id) == ("succeeded", True))
        assert tablet.got.qsize() == 1  # published once, across the restart
        assert tablet.ran == [str(command)]
    finally:
        tablet.close()


async def test_bad_results_are_rejected_and_change_nothing(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn, database_url: str
) -> None:
    fleet = await fleet_factory(tablets=2)
    one = CommandTablet(fleet, 0, answer=False).connect(first=True)
    two = CommandTablet(fleet, 1, answer=False).connect(first=True)
    try:
        command = await send(database_url, "screenshot", [one.tablet_id])
        await eventually(lambda: one.ran == [str(command)])
        got = one.got.get(timeout=1)
        assert got["args"]["upload_url"].startswith("http://127.0.0.1:8080/v1/device/screenshots/")
        two.result(str(command), "succeeded")  # not its command
        two.result("not-a-uuid", "succeeded")
        assert running_hub.hub is not None
        rejected = running_hub.hub.metrics.rejected
        await eventually(lambda: rejected.get("invalid_payload", 0) >= 1)
        await asyncio.sleep(0.3)
        assert target(conn, command, one.tablet_id) == ("queued", True)
    finally:
        one.close()
        two.close()


async def test_owners_send_only_what_their_role_allows_to_their_own_tablets(
    fleet_factory: TestFleetFactory, database_url: str
) -> None:
    mine, other = await fleet_factory(tablets=1), await fleet_factory(tablets=1)
    owner = User(0, "default", "o@example.com", "O", "fleet_owner", (mine.fleet_id,))
    async with db.connect(database_url) as conn:
        ok = await issue(conn, owner, "screenshot", {}, tablets=mine.tablet_ids)
        assert ok.targets == 1
        with pytest.raises(CommandRefused, match="may not send reboot"):
            await issue(conn, owner, "reboot", {}, tablets=mine.tablet_ids)
        with pytest.raises(CommandRefused, match="among yours"):
            await issue(conn, owner, "screenshot", {}, tablets=other.tablet_ids)
        with pytest.raises(CommandRefused, match="level"):
            await issue(conn, owner, "set_volume", {"level": 101}, fleet=mine.fleet_id)
        with pytest.raises(CommandRefused, match="takes no arguments"):
            await issue(conn, ADMIN, "reboot", {"now": True}, fleet=mine.fleet_id)
        whole = await issue(conn, ADMIN, "reboot", {}, fleet=mine.fleet_id)
        assert whole.targets == 1


async def test_the_cli_sends_and_follows_a_command_to_the_end(
    running_hub: RunningHub,
    fleet_factory: TestFleetFactory,
    conn: Conn,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLEETHUB_DATABASE_URL", database_url)
    monkeypatch.setenv("FLEETHUB_MQTT_URL", "mqtt://hub:secret@127.0.0.1:1")
    monkeypatch.setenv("FLEETHUB_VAR_DIR", str(tmp_path / "var"))
    fleet = await fleet_factory(tablets=2)
    tablets = [CommandTablet(fleet, n).connect(first=True) for n in range(2)]
    cli = CliRunner()
    try:
        args = ["command", "send", "set_volume", "--fleet", fleet.fleet_id, "--level", "30"]
        result = await asyncio.to_thread(cli.invoke, app, [*args, "--wait"])
        assert result.exit_code == 0, result.output
        assert "set_volume to 2 tablets" in result.output
        assert "2 of 2 done: 2 succeeded" in result.output
        assert [len(t.ran) for t in tablets] == [1, 1]
        refused = await asyncio.to_thread(cli.invoke, app, ["command", "send", "self_destruct"])
        assert refused.exit_code == 2
        assert "no command 'self_destruct'" in refused.output
        level = ["command", "send", "set_volume", "--tablet", fleet.tablet_ids[0], "--level", "101"]
        bad = await asyncio.to_thread(cli.invoke, app, level)
        assert bad.exit_code == 2
        assert "level" in bad.output
    finally:
        for t in tablets:
            t.close()
