"""The dynamic-security file (hashes, tablets, the hub) and the $CONTROL command builders."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path

import pytest

from broker import dynsec, dynsec_file
from broker.dynsec_file import DynsecConfig
from config.errors import BrokerError, ConfigError, DynsecError


def test_hash_is_the_plugins_pbkdf2() -> None:
    salt = bytes(range(12))
    client = dynsec_file.hashed_client("t1", "pw", "tablet:t1", salt=salt)
    expected = hashlib.pbkdf2_hmac("sha512", b"pw", salt, 101)
    assert base64.b64decode(client.password) == expected
    assert client.salt == "AAECAwQFBgcICQoL"
    assert client.iterations == 101
    assert [r.rolename for r in client.roles] == ["tablet:t1"]


@pytest.mark.parametrize("password", ["s3cret", "", "pässwörd", "with:colon$and$dollar"])
def test_hash_verifies(password: str) -> None:
    client = dynsec_file.hashed_client("u", password, "r")
    assert dynsec_file.verify(client, password)
    assert not dynsec_file.verify(client, password + "x")
    assert len(base64.b64decode(client.salt)) == 12


def test_salts_are_random() -> None:
    a, b = (dynsec_file.hashed_client("u", "pw", "r") for _ in range(2))
    assert a.salt != b.salt
    assert a.password != b.password


def test_tablet_role_is_its_literal_subtree() -> None:
    assert dynsec_file.tablet_role_name("t-1") == "tablet:t-1"
    acls = {(a.acltype, a.topic, a.allow) for a in dynsec_file.tablet_acls("t-1")}
    assert acls == {
        ("publishClientSend", "tablets/t-1/#", True),
        ("publishClientReceive", "tablets/t-1/#", True),
        ("subscribePattern", "tablets/t-1/#", True),
    }


@pytest.mark.parametrize("bad", ["", "a/b", "a+", "#", "x\x00", "fleethub-hub-0", "agent-7"])
def test_ids_that_would_widen_an_acl_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError):
        dynsec_file.tablet_acls(bad)
    with pytest.raises(ConfigError):
        dynsec.provision_commands(bad, "pw")


def test_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "dynamic-security.json"
    config = dynsec_file.read(path)  # missing: an empty config that denies by default
    assert config.clients == []
    assert config.roles == []
    dynsec_file.put_service(config, ["fleethub-hub-0"], "hub-pw", dynsec_file.HUB_ROLE)
    dynsec_file.put_tablets(config, {"t1": "pw1", "t2": "pw2"})
    dynsec_file.write(path, config)

    raw = json.loads(path.read_text())
    assert raw["defaultACLAccess"] == {
        "publishClientSend": False,
        "publishClientReceive": True,
        "subscribe": False,
        "unsubscribe": True,
    }
    assert [c["username"] for c in raw["clients"]] == ["fleethub-hub-0", "t1", "t2"]
    assert [c["clientid"] for c in raw["clients"]] == ["fleethub-hub-0", "t1", "t2"]
    assert [r["rolename"] for r in raw["roles"]] == ["hub", "tablet:t1", "tablet:t2"]
    assert set(raw["clients"][1]) == {
        "username",
        "clientid",
        "textname",
        "roles",
        "password",
        "salt",
        "iterations",
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dynamic-security.json"]

    again = dynsec_file.read(path)
    dynsec_file.put_tablets(again, {"t1": "new-pw"})  # replace, not duplicate
    assert dynsec_file.remove_tablet(again, "t2") is True
    assert dynsec_file.remove_tablet(again, "t2") is False
    assert [c.username for c in again.clients] == ["fleethub-hub-0", "t1"]
    assert [r.rolename for r in again.roles] == ["hub", "tablet:t1"]
    t1 = again.client("t1")
    assert t1 is not None
    assert dynsec_file.verify(t1, "new-pw")
    hub = again.client("fleethub-hub-0")
    assert hub is not None
    assert dynsec_file.verify(hub, "hub-pw")
    assert dynsec_file.bind_clients(again) == []  # every account already has its client id


def test_fields_the_broker_adds_survive_a_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(
        json.dumps(
            {
                "defaultACLAccess": {
                    "publishClientSend": False,
                    "publishClientReceive": True,
                    "subscribe": False,
                    "unsubscribe": True,
                },
                "clients": [
                    {
                        "username": "x",
                        "textdescription": "kept",
                        "clientid": "x-1",
                        "roles": [{"rolename": "r", "priority": 3}],
                        "password": "cA==",
                        "salt": "cw==",
                        "iterations": 101,
                    }
                ],
                "groups": [{"groupname": "g", "roles": [], "clients": []}],
                "roles": [{"rolename": "r", "textname": "kept too", "acls": []}],
            }
        )
    )
    config = dynsec_file.read(path)
    dynsec_file.put_tablets(config, {"t": "pw"})
    dynsec_file.write(path, config)
    raw = json.loads(path.read_text())
    assert raw["clients"][0]["textdescription"] == "kept"
    assert raw["clients"][0]["clientid"] == "x-1"
    assert raw["clients"][0]["roles"] == [{"rolename": "r", "priority": 3}]
    assert raw["groups"] == [{"groupname": "g", "roles": [], "clients": []}]
    assert raw["roles"][0]["textname"] == "kept too"


def test_a_file_that_is_not_dynsec_is_a_broker_error(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text('{"clients": "nope"}')
    with pytest.raises(BrokerError, match="not a dynamic-security file"):
        dynsec_file.read(path)


def test_hub_role_grants_routing_and_no_control() -> None:
    config = DynsecConfig()
    dynsec_file.put_service(
        config, dynsec_file.hub_client_ids("fleethub-hub", 2), "pw", dynsec_file.HUB_ROLE
    )
    assert [(c.username, c.clientid) for c in config.clients] == [
        ("fleethub-hub-0", "fleethub-hub-0"),
        ("fleethub-hub-0-out", "fleethub-hub-0-out"),
        ("fleethub-hub-1", "fleethub-hub-1"),
        ("fleethub-hub-1-out", "fleethub-hub-1-out"),
    ]
    role = config.role("hub")
    assert role is not None
    grants = {(a.acltype, a.topic) for a in role.acls if a.allow}
    assert grants == {
        (kind, topic)
        for topic in ("tablets/#", "fleets/#", "agents/#")
        for kind in dynsec_file.READ_WRITE
    }


def test_provision_role_reaches_only_the_plugin() -> None:
    config = DynsecConfig()
    dynsec_file.put_service(config, ["fleethub-provision"], "pw", dynsec_file.PROVISION_ROLE)
    role = config.role("provision")
    assert role is not None
    assert {(a.acltype, a.topic) for a in role.acls} == {
        ("publishClientSend", "$CONTROL/dynamic-security/v1"),
        ("publishClientReceive", "$CONTROL/dynamic-security/v1/response"),
        ("subscribePattern", "$CONTROL/dynamic-security/v1/response"),
    }


def test_binding_gives_an_unbound_account_its_username() -> None:
    config = DynsecConfig()
    config.clients = [
        dynsec_file.Client(username="old-tablet", password="cA==", salt="cw=="),
        dynsec_file.Client(username="x", clientid="x", password="cA==", salt="cw=="),
    ]
    assert dynsec_file.bind_clients(config) == ["old-tablet"]
    assert [c.clientid for c in config.clients] == ["old-tablet", "x"]


def test_provision_replaces_then_creates() -> None:
    commands = dynsec.provision_commands("t9", "pw9")
    assert [c["command"] for c in commands] == [
        "deleteClient",
        "deleteRole",
        "createRole",
        "createClient",
    ]
    assert commands[0]["username"] == "t9"
    assert commands[1]["rolename"] == "tablet:t9"
    assert commands[2]["rolename"] == "tablet:t9"
    assert {(a["acltype"], a["topic"], a["allow"]) for a in commands[2]["acls"]} == {
        ("publishClientSend", "tablets/t9/#", True),
        ("publishClientReceive", "tablets/t9/#", True),
        ("subscribePattern", "tablets/t9/#", True),
    }
    assert commands[3] == {
        "command": "createClient",
        "username": "t9",
        "password": "pw9",
        "clientid": "t9",
        "textname": "tablet",
        "roles": [{"rolename": "tablet:t9"}],
    }
    agent = dynsec.provision_agent_commands(7, "pw")[-1]
    assert (agent["username"], agent["clientid"]) == ("agent-7", "agent-7")
    assert [c["command"] for c in dynsec.revoke_commands("t9")] == ["deleteClient", "deleteRole"]


def _answers(request: dynsec.Request, *errors: str | None) -> bytes:
    sent = json.loads(request.payload())["commands"]
    responses = [
        {
            "command": c["command"],
            "correlationData": c["correlationData"],
            **({"error": e} if e else {}),
        }
        for c, e in zip(sent, errors, strict=True)
    ]
    return json.dumps({"responses": responses}).encode()


def test_request_ignores_expected_not_found_and_reports_real_failures() -> None:
    request = dynsec.Request(dynsec.provision_commands("t1", "pw"))
    other = dynsec.Request(dynsec.revoke_commands("t1"))
    request.take(_answers(other, None, None))  # someone else's answers: ignored
    request.take(b"not json")
    assert not request.done
    request.take(_answers(request, "Client not found", "Role not found", None, None))
    assert request.done
    request.check()  # "not found" on the delete steps is the normal first provisioning

    failing = dynsec.Request(dynsec.provision_commands("t2", "pw"))
    failing.take(_answers(failing, None, None, "Role already exists", "Role not found"))
    with pytest.raises(DynsecError) as excinfo:
        failing.check()
    message = str(excinfo.value)
    assert "createRole tablet:t2: Role already exists" in message
    assert "createClient t2: Role not found" in message
    assert "deleteClient" not in message


def test_a_missing_answer_is_a_failure() -> None:
    request = dynsec.Request(dynsec.revoke_commands("t1"))
    with pytest.raises(DynsecError, match="deleteClient t1: no answer"):
        request.check()
