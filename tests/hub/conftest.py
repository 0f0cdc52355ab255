"""Fixtures of the hub's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from broker.processes import Child, free_port
from broker.runner import mosquitto_binary
from config.settings import MqttTarget


@pytest.fixture
def plain_broker(tmp_path: Path) -> Iterator[MqttTarget]:
    """Mosquitto 2 with no plugin, anonymous logins allowed: like a broker of another make."""
    port = free_port()
    conf = tmp_path / "plain.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    conf.chmod(0o644)
    child = Child("plain-mosquitto", [mosquitto_binary(), "-c", str(conf)], tmp_path / "log")
    try:
        child.wait_port("127.0.0.1", port, 15)
        yield MqttTarget(
            host="127.0.0.1", port=port, username="fleethub-provision", password="secret"
        )
    finally:
        child.stop()
