"""The embedded broker's clear errors when Mosquitto or its plugin is missing, and its files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from broker import dynsec_file
from broker.runner import PLUGIN, EmbeddedBroker, dynsec_plugin, mosquitto_binary
from config.errors import BrokerError
from tests.helpers import blocking


def test_missing_mosquitto_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("broker.runner.shutil.which", lambda name: None)
    monkeypatch.setattr("broker.runner.os.access", lambda path, mode: False)
    with pytest.raises(BrokerError) as excinfo:
        mosquitto_binary()
    message = str(excinfo.value)
    assert "sudo apt-get install -y mosquitto" in message
    assert "brew install mosquitto" in message


def test_dynsec_plugin_is_found_by_pattern(tmp_path: Path) -> None:
    (tmp_path / "lib" / "aarch64-linux-gnu").mkdir(parents=True)
    plugin = tmp_path / "lib" / "aarch64-linux-gnu" / PLUGIN
    plugin.write_bytes(b"")
    assert dynsec_plugin([str(tmp_path / "nowhere" / PLUGIN), f"{tmp_path}/lib/*/{PLUGIN}"]) == str(
        plugin
    )


def test_missing_dynsec_plugin_is_a_clear_broker_error(tmp_path: Path) -> None:
    with pytest.raises(BrokerError) as excinfo:
        dynsec_plugin([str(tmp_path / PLUGIN)])
    message = str(excinfo.value)
    assert PLUGIN in message
    assert "Mosquitto 2" in message
    assert str(tmp_path) in message


def test_the_installed_plugin_is_found() -> None:
    assert Path(dynsec_plugin()).name == PLUGIN


def test_prepare_writes_config_and_the_dynsec_file(tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path / "b", "127.0.0.1", 12345, "fleethub-hub")
    broker.prepare()
    conf = (tmp_path / "b" / "mosquitto.conf").read_text()
    assert "listener 12345 127.0.0.1" in conf
    assert "allow_anonymous false" in conf
    assert "max_queued_messages 200000" in conf
    assert "set_tcp_nodelay true" in conf
    assert f"plugin {dynsec_plugin()}\n" in conf
    assert f"plugin_opt_config_file {tmp_path / 'b'}/data/dynamic-security.json\n" in conf
    directives = {line.split()[0] for line in conf.splitlines() if line and line[0] != "#"}
    assert not directives & {"password_file", "acl_file"}

    path = tmp_path / "b" / "data" / "dynamic-security.json"
    assert broker.hub_password() not in path.read_text()
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    config = dynsec_file.read(path)
    accounts = {c.username: c for c in config.clients}
    assert set(accounts) == {
        "fleethub-hub-0",
        "fleethub-hub-0-out",
        "fleethub-web",
        "fleethub-provision",
    }
    for name, account in accounts.items():
        assert account.clientid == name  # each bound to its own client id
    for name in ("fleethub-hub-0", "fleethub-hub-0-out"):
        assert dynsec_file.verify(accounts[name], broker.hub_password())
        assert [r.rolename for r in accounts[name].roles] == ["hub"]
    assert dynsec_file.verify(accounts["fleethub-web"], broker.hub_password())
    assert [r.rolename for r in accounts["fleethub-web"].roles] == ["panel"]
    provision = accounts["fleethub-provision"]
    assert broker.provision_target().password != broker.hub_password()
    assert dynsec_file.verify(provision, broker.provision_target().password or "")
    assert [r.rolename for r in provision.roles] == ["provision"]


def test_prepare_resets_the_hub_password_and_keeps_tablets(tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path / "b", "127.0.0.1", 12345, "fleethub-hub")
    blocking(broker.set_credentials({"t1": "pw1"}))  # not running: written to the file
    (tmp_path / "b" / "hub.secret").write_text("changed-secret")
    broker.prepare()
    config = dynsec_file.read(broker.dynsec_path)
    hub, t1 = config.client("fleethub-hub-0"), config.client("t1")
    assert hub is not None
    assert dynsec_file.verify(hub, "changed-secret")
    assert t1 is not None
    assert dynsec_file.verify(t1, "pw1")
    assert t1.clientid == "t1"
    assert [c.username for c in config.clients].count("fleethub-hub-0") == 1

    blocking(broker.remove_credentials("t1"))
    after = json.loads(broker.dynsec_path.read_text())
    assert [c["username"] for c in after["clients"]] == [
        "fleethub-hub-0",
        "fleethub-hub-0-out",
        "fleethub-web",
        "fleethub-provision",
    ]
    assert [r["rolename"] for r in after["roles"]] == ["hub", "panel", "provision"]


def test_prepare_upgrades_a_file_from_before_accounts_were_bound(tmp_path: Path) -> None:
    """The old unbound hub user (which held $CONTROL) goes; old tablets are bound."""
    broker = EmbeddedBroker(tmp_path / "b", "127.0.0.1", 12345, "fleethub-hub")
    config = dynsec_file.DynsecConfig()
    old_hub = dynsec_file.hashed_client("fleethub-hub", "pw", "hub")
    old_hub.clientid = None
    old_tablet = dynsec_file.hashed_client("t-old", "pw", "tablet:t-old")
    old_tablet.clientid = None
    config.put([old_hub, old_tablet], [])
    broker.dynsec_path.parent.mkdir(parents=True)
    dynsec_file.write(broker.dynsec_path, config)
    broker.prepare()
    config = dynsec_file.read(broker.dynsec_path)
    assert config.client("fleethub-hub") is None
    tablet = config.client("t-old")
    assert tablet is not None
    assert tablet.clientid == "t-old"
