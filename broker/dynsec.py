"""Per-tablet broker credentials over Mosquitto's dynamic-security plugin, at runtime.

Each tablet is a dynsec client (username = client id = tablet id) with one role,
``tablet:{id}``, that may publish, receive and subscribe ``tablets/{id}/#`` and nothing
else. Commands go to ``$CONTROL/dynamic-security/v1`` as the provisioning account (never the
hub's: it routes traffic and has no ``$CONTROL`` rights); the plugin answers on
``…/response`` with the ``correlationData`` we sent, which is how answers are matched.

Every account is bound to one client id, its username (the plugin refuses any other), so
the provisioning account's sessions use that id too: one at a time per event loop (a
lock), since a second connection with the same id would end the first.

Every command makes the plugin rewrite its whole JSON file, so this is for a few tablets
at a time (pairing, ``fleethub tablet add``, tests). Bulk credentials are written to the
file before the broker starts (:mod:`broker.dynsec_file`).
"""

from __future__ import annotations

import asyncio
import json
import uuid
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
from paho.mqtt.reasoncodes import ReasonCode

from broker import aio_client
from broker.dynsec_file import (
    CONTROL_TOPIC,
    SERVICE_ROLES,
    agent_acls,
    agent_role_name,
    agent_username,
    tablet_acls,
    tablet_role_name,
)
from config.errors import BrokerError, DynsecError
from config.settings import MqttTarget

RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
# Deleting what is not there is the expected first step of an idempotent "replace".
_ABSENT = {"deleteClient": "Client not found", "deleteRole": "Role not found"}
# Commands per message: one provisioning is four commands.
CHUNK_TABLETS = 50
# Every session first asks the plugin something harmless: a broker without it (another
# make, or Mosquitto without the plugin) answers nothing, and that is said at once.
PROBE_TIMEOUT = 3.0
PROBE: list[dict[str, Any]] = [{"command": "getDefaultACLAccess"}]

Command = dict[str, Any]


# --- Commands ---------------------------------------------------------------------------


def revoke_commands(tablet_id: str) -> list[Command]:
    """Delete the client (the plugin disconnects it at once) and its role."""
    return [
        {"command": "deleteClient", "username": tablet_id},
        {"command": "deleteRole", "rolename": tablet_role_name(tablet_id)},
    ]


def provision_commands(tablet_id: str, password: str) -> list[Command]:
    """Replace whatever the tablet had: delete, then create its role and its client."""
    role = tablet_role_name(tablet_id)
    acls = [acl.model_dump() for acl in tablet_acls(tablet_id)]
    return [
        *revoke_commands(tablet_id),
        {"command": "createRole", "rolename": role, "acls": acls},
        {
            "command": "createClient",
            "username": tablet_id,
            "password": password,
            "clientid": tablet_id,
            "textname": "tablet",
            "roles": [{"rolename": role}],
        },
    ]


def revoke_agent_commands(user_id: int) -> list[Command]:
    """A lead agent's app (``agent-{id}``): delete its client and its role."""
    return [
        {"command": "deleteClient", "username": agent_username(user_id)},
        {"command": "deleteRole", "rolename": agent_role_name(user_id)},
    ]


def provision_agent_commands(user_id: int, password: str) -> list[Command]:
    """Replace a lead agent's credentials: role ``agent:{id}`` confined to ``agents/{id}/#``."""
    role = agent_role_name(user_id)
    acls = [acl.model_dump() for acl in agent_acls(user_id)]
    return [
        *revoke_agent_commands(user_id),
        {"command": "createRole", "rolename": role, "acls": acls},
        {
            "command": "createClient",
            "username": agent_username(user_id),
            "password": password,
            "clientid": agent_username(user_id),
            "textname": "lead agent",
            "roles": [{"rolename": role}],
        },
    ]


def service_commands(usernames: list[str], password: str, rolename: str) -> list[Command]:
    """Replace fleethub's own accounts of one role (e.g. a new hub's), each bound to its
    client id, and the role (:data:`broker.dynsec_file.SERVICE_ROLES`)."""
    acls = [acl.model_dump() for acl in SERVICE_ROLES[rolename]()]
    commands: list[Command] = [{"command": "createRole", "rolename": rolename, "acls": acls}]
    for username in usernames:
        commands += [
            {"command": "deleteClient", "username": username},
            {
                "command": "createClient",
                "username": username,
                "password": password,
                "clientid": username,
                "textname": f"fleethub {rolename}",
                "roles": [{"rolename": rolename}],
            },
        ]
    return commands


@dataclass
class Request:
    """One message of commands, each tagged with a correlationData; collects the answers."""

    commands: list[Command]
    tag: str = field(default_factory=lambda: uuid.uuid4().hex)
    answers: dict[str, Command] = field(default_factory=dict)

    def _key(self, index: int) -> str:
        return f"{self.tag}:{index}"

    def payload(self) -> bytes:
        tagged = [{**c, "correlationData": self._key(i)} for i, c in enumerate(self.commands)]
        return json.dumps({"commands": tagged}).encode()

    def take(self, payload: bytes) -> None:
        """Keep the answers of this request from a response message (others are ignored)."""
        try:
            responses = json.loads(payload)["responses"]
        except (ValueError, KeyError, TypeError):
            return
        for response in responses if isinstance(responses, list) else []:
            if isinstance(response, dict) and str(response.get("correlationData", "")).startswith(
                f"{self.tag}:"
            ):
                self.answers[response["correlationData"]] = response

    @property
    def done(self) -> bool:
        return len(self.answers) == len(self.commands)

    def failures(self) -> list[str]:
        failed = []
        for i, command in enumerate(self.commands):
            answer = self.answers.get(self._key(i))
            if answer is None:
                failed.append(f"{_describe(command)}: no answer")
                continue
            error = answer.get("error")
            if error and _ABSENT.get(command["command"]) != error and not _kept(command, error):
                failed.append(f"{_describe(command)}: {error}")
        return failed

    def check(self) -> None:
        failed = self.failures()
        if failed:
            raise DynsecError("dynamic-security commands failed: " + "; ".join(failed))


def _kept(command: Command, error: str) -> bool:
    """A service role that is there already is kept: other accounts hold it."""
    return (
        command["command"] == "createRole"
        and command.get("rolename") in SERVICE_ROLES
        and error == "Role already exists"
    )


def _describe(command: Command) -> str:
    subject = command.get("username") or command.get("rolename") or ""
    return f"{command['command']} {subject}".strip()


def _chunks(users: dict[str, str]) -> Iterator[list[Command]]:
    items = list(users.items())
    for i in range(0, len(items), CHUNK_TABLETS):
        yield [
            c
            for tablet_id, pw in items[i : i + CHUNK_TABLETS]
            for c in provision_commands(tablet_id, pw)
        ]


def _timed_out(request: Request, target: MqttTarget, timeout: float) -> DynsecError:
    missing = len(request.commands) - len(request.answers)
    return DynsecError(
        f"no answer to {missing} dynamic-security command(s) within {timeout:g} s "
        f"from {target.host}:{target.port}: is the plugin loaded, and is "
        f"{target.username!r} the provisioning account (may it publish to "
        f"{CONTROL_TOPIC})?"
    )


def _no_plugin(target: MqttTarget, timeout: float) -> DynsecError:
    return DynsecError(
        f"no dynamic-security plugin answers on {CONTROL_TOPIC} at {target.host}:{target.port}"
        f" (nothing within {timeout:g} s): fleethub manages broker credentials only on"
        " Mosquitto 2 with its dynamic-security plugin, as the provisioning account"
        f" ({target.username!r}, which must be allowed to publish there); with another"
        ' broker, manage tablet accounts outside fleethub (docs/operations.md, "Brokers")'
    )


def _client_id(target: MqttTarget) -> str:
    """The provisioning account's own client id: its username (it is bound to it)."""
    if not target.username:
        raise DynsecError(
            "dynamic-security: the provisioning account has no user name: set "
            "FLEETHUB_PROVISION_MQTT_URL=mqtt://USER:PASSWORD@HOST:PORT (docs/operations.md)"
        )
    return target.username


# One provisioning session at a time per event loop.
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _locks.get(loop)
    if lock is None:
        lock = _locks[loop] = asyncio.Lock()
    return lock


# --- Runner (aiomqtt): the panel, the CLI (through asyncio.run), the embedded broker -----


async def provision_tablet(
    target: MqttTarget, tablet_id: str, password: str, timeout: float = 10.0
) -> None:
    """Create or replace a tablet's broker credentials; a connected session is kicked."""
    await run(target, [provision_commands(tablet_id, password)], timeout)


async def provision_tablets(
    target: MqttTarget, users: dict[str, str], timeout: float = 10.0
) -> None:
    """Create or replace several tablets' credentials, in messages of ``CHUNK_TABLETS``."""
    if users:
        await run(target, list(_chunks(users)), timeout)


async def revoke_tablet(target: MqttTarget, tablet_id: str, timeout: float = 10.0) -> None:
    """Remove a tablet's credentials: it is disconnected now and cannot log in again."""
    await run(target, [revoke_commands(tablet_id)], timeout)


async def provision_agent(
    target: MqttTarget, user_id: int, password: str, timeout: float = 10.0
) -> None:
    """Create or replace a lead agent's broker credentials."""
    await run(target, [provision_agent_commands(user_id, password)], timeout)


async def revoke_agent(target: MqttTarget, user_id: int, timeout: float = 10.0) -> None:
    await run(target, [revoke_agent_commands(user_id)], timeout)


async def put_service(
    target: MqttTarget, usernames: list[str], password: str, rolename: str, timeout: float = 10.0
) -> None:
    """Replace fleethub's own accounts of one role on a running broker."""
    await run(target, [service_commands(usernames, password, rolename)], timeout)


async def check_plugin(target: MqttTarget, timeout: float = PROBE_TIMEOUT) -> None:
    """Raise :class:`DynsecError` unless the broker's dynamic-security plugin answers the
    provisioning account: before a change elsewhere that the broker step must follow."""
    await run(target, [], timeout)


async def run(target: MqttTarget, batches: list[list[Command]], timeout: float) -> None:
    """Send each batch as one message over one connection and check every answer."""
    async with _lock():
        await _run(target, batches, timeout)


async def _run(target: MqttTarget, batches: list[list[Command]], timeout: float) -> None:
    where = f"{target.host}:{target.port}"
    connected = False
    try:
        async with aio_client.Client(
            target.host,
            target.port,
            username=target.username,
            password=target.password,
            identifier=_client_id(target),
            timeout=timeout,
            tls_context=target.ssl_context(),
        ) as client:
            connected = True
            granted = await client.subscribe(RESPONSE_TOPIC, qos=1, timeout=timeout)
            _check_granted(list(granted), target)
            await _probe(client, target, min(timeout, PROBE_TIMEOUT))
            for commands in batches:
                request = Request(commands)
                await client.publish(CONTROL_TOPIC, request.payload(), qos=1, timeout=timeout)
                try:
                    async with asyncio.timeout(timeout):
                        async for message in client.messages:
                            request.take(_as_bytes(message.payload))
                            if request.done:
                                break
                except TimeoutError as exc:
                    raise _timed_out(request, target, timeout) from exc
                request.check()
    except aiomqtt.MqttCodeError as exc:
        if connected:
            raise BrokerError(f"dynamic-security: broker {where}: {exc}") from exc
        raise BrokerError(
            f"dynamic-security: broker {where} refused {target.username!r}: {exc}"
        ) from exc
    except aiomqtt.MqttError as exc:
        if connected:
            raise BrokerError(f"dynamic-security: broker {where}: {exc}") from exc
        raise BrokerError(f"dynamic-security: cannot reach broker {where}: {exc}") from exc


async def _probe(client: aiomqtt.Client, target: MqttTarget, timeout: float) -> None:
    request = Request(PROBE)
    await client.publish(CONTROL_TOPIC, request.payload(), qos=1, timeout=timeout)
    try:
        async with asyncio.timeout(timeout):
            async for message in client.messages:
                request.take(_as_bytes(message.payload))
                if request.done:
                    return
    except TimeoutError as exc:
        raise _no_plugin(target, timeout) from exc


def _as_bytes(payload: object) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return str(payload).encode()


def _check_granted(granted: list[Any], target: MqttTarget) -> None:
    """SUBACK: 0x80 (v3.1.1) or a failure reason code means the hub may not read answers."""
    for code in granted:
        failed = code.is_failure if isinstance(code, ReasonCode) else int(code) >= 0x80
        if failed:
            raise DynsecError(f"{target.username!r} may not subscribe to {RESPONSE_TOPIC}")
