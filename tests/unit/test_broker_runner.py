"""The embedded broker's clear error when Mosquitto is missing, and its generated files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from broker.runner import EmbeddedBroker, mosquitto_binary
from hub.errors import BrokerError


def test_missing_mosquitto_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("broker.runner.shutil.which", lambda name: None)
    monkeypatch.setattr("broker.runner.os.access", lambda path, mode: False)
    with pytest.raises(BrokerError) as excinfo:
        mosquitto_binary()
    message = str(excinfo.value)
    assert "sudo apt-get install -y mosquitto" in message
    assert "brew install mosquitto" in message


def test_prepare_writes_config_acl_and_hashed_passwords(tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path / "b", "127.0.0.1", 12345, "fleethub-hub")
    broker.prepare()
    conf = (tmp_path / "b" / "mosquitto.conf").read_text()
    assert "listener 12345 127.0.0.1" in conf
    assert "allow_anonymous false" in conf
    assert "max_queued_messages 200000" in conf
    assert "pattern readwrite tablets/%u/#" in (tmp_path / "b" / "acl").read_text()
    passwd = (tmp_path / "b" / "passwd").read_text()
    assert passwd.startswith("fleethub-hub:$7$101$")
    assert broker.hub_password() not in passwd
    assert oct(os.stat(tmp_path / "b" / "passwd").st_mode & 0o777) == "0o640"
