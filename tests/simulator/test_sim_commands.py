"""A simulated tablet's command runner (devtools/simulator/commands.py): each id once, a
redelivery answered again, an expired one refused, an update a new boot with its version."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from devtools.simulator.commands import TabletCommands


class Runner:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.boots: list[str | None] = []
        self.commands = TabletCommands("t-1", self.publish, self.boots.append, lambda: "ad-1")

    def publish(self, topic: str, payload: bytes) -> bool:
        assert topic == "tablets/t-1/commands/result"
        self.sent.append(json.loads(payload))
        return True

    def send(self, name: str, expires_in_s: float = 60, **args: Any) -> str:
        command_id = str(uuid.uuid4())
        self.deliver(command_id, name, expires_in_s, **args)
        return command_id

    def deliver(self, command_id: str, name: str, expires_in_s: float = 60, **args: Any) -> None:
        body = {
            "v": 1,
            "command_id": command_id,
            "name": name,
            "args": args,
            "issued_at": datetime.now(UTC).isoformat(),
            "expires_at": (datetime.now(UTC) + timedelta(seconds=expires_in_s)).isoformat(),
        }
        self.commands.on_message(json.dumps(body).encode())

    def results(self) -> list[tuple[str, str | None]]:
        return [(r["status"], r["detail"]) for r in self.sent]


def test_an_update_runs_once_and_a_redelivery_is_answered_again() -> None:
    tablet = Runner()
    update = tablet.send("update_app", version="3.2.0", url="http://127.0.0.1/a", sha256="a" * 64)
    assert tablet.boots == ["3.2.0"]
    tablet.deliver(update, "update_app", version="3.2.0")  # QoS 1 delivered it again
    assert tablet.boots == ["3.2.0"]  # not installed twice
    assert tablet.results() == [
        ("received", None),
        ("succeeded", "installed 3.2.0"),
        ("succeeded", "installed 3.2.0"),
    ]


def test_expired_unknown_and_levels() -> None:
    tablet = Runner()
    tablet.send("reboot", expires_in_s=-1)
    tablet.send("self_destruct")
    tablet.send("set_brightness", level=70)
    assert tablet.results() == [
        ("failed", "expired"),
        ("received", None),
        ("failed", "unknown command 'self_destruct'"),
        ("received", None),
        ("succeeded", "brightness 70"),
    ]
    assert tablet.commands.levels == {"set_brightness": 70}
    assert tablet.boots == []
