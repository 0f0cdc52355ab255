"""The dynamic-security plugin's JSON file, written by fleethub while the broker is stopped.

A running Mosquitto owns the file (every ``$CONTROL`` command rewrites it whole), so
fleethub edits it only before the broker starts: the hub user on every start, and
tablets in bulk (demo seeds, benchmarks). At runtime, use :mod:`broker.dynsec`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from config.errors import BrokerError, ConfigError

# What `mosquitto_ctrl dynsec init` writes: PBKDF2-HMAC-SHA512, 12-byte salt, 101 rounds.
ITERATIONS = 101
SALT_BYTES = 12
# Roles of fleethub's own accounts (see "Accounts" in broker/README.md).
HUB_ROLE = "hub"  # routes traffic: the hub's tablet and publish sessions
PANEL_ROLE = "panel"  # the panel's session: relays HTTP tablets' heartbeats
PROVISION_ROLE = "provision"  # pairing, revocation, agent logins over $CONTROL
HEALTH_ROLE = "health"  # the production broker's healthcheck
CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
# Characters that would turn a tablet id into a wildcard or another subtree in an ACL topic.
_FORBIDDEN = frozenset("/+#\x00")
# Usernames of fleethub's own accounts and of agents: a tablet named so would replace the
# account (provisioning deletes, then creates) and hold its client id.
RESERVED_PREFIXES = ("fleethub-", "agent-")
# Publish, receive and subscribe: what "read and write this subtree" is in dynsec terms.
READ_WRITE = ("publishClientSend", "publishClientReceive", "subscribePattern")


class _Entry(BaseModel):
    # Fields the broker adds (textDescription, clientid, groups, ...) survive a rewrite.
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Acl(_Entry):
    acltype: str
    topic: str
    priority: int = 0
    allow: bool = True


class RoleRef(_Entry):
    rolename: str


class Role(_Entry):
    rolename: str
    acls: list[Acl] = []


class Client(_Entry):
    username: str
    # The one client id this account may connect with (the plugin refuses any other); every
    # fleethub account has one, its username, so that no account can take another's session.
    clientid: str | None = None
    textname: str | None = None  # the plugin reads "textname" (mosquitto_ctrl writes "textName")
    roles: list[RoleRef] = []
    password: str
    salt: str
    iterations: int = ITERATIONS


class DefaultAccess(_Entry):
    publish_client_send: bool = Field(default=False, alias="publishClientSend")
    publish_client_receive: bool = Field(default=True, alias="publishClientReceive")
    subscribe: bool = False
    unsubscribe: bool = True


class DynsecConfig(_Entry):
    """The whole file. Lists, as the plugin writes them; edits go through the helpers below."""

    default_acl_access: DefaultAccess = Field(
        default_factory=DefaultAccess, alias="defaultACLAccess"
    )
    clients: list[Client] = []
    groups: list[dict[str, Any]] = []
    roles: list[Role] = []

    def put(self, clients: list[Client], roles: list[Role]) -> None:
        """Add or replace clients (by username) and roles (by rolename)."""
        new_clients = {c.username for c in clients}
        new_roles = {r.rolename for r in roles}
        self.clients = [c for c in self.clients if c.username not in new_clients] + clients
        self.roles = [r for r in self.roles if r.rolename not in new_roles] + roles

    def remove(self, usernames: set[str], rolenames: set[str]) -> None:
        self.clients = [c for c in self.clients if c.username not in usernames]
        self.roles = [r for r in self.roles if r.rolename not in rolenames]

    def client(self, username: str) -> Client | None:
        return next((c for c in self.clients if c.username == username), None)

    def role(self, rolename: str) -> Role | None:
        return next((r for r in self.roles if r.rolename == rolename), None)


def check_tablet_id(tablet_id: str) -> str:
    if not tablet_id or _FORBIDDEN & set(tablet_id):
        raise ConfigError(
            f"tablet id {tablet_id!r} cannot be a broker user (empty, or contains / + # or NUL)"
        )
    if tablet_id.startswith(RESERVED_PREFIXES):
        raise ConfigError(
            f"tablet id {tablet_id!r} is reserved: {' and '.join(RESERVED_PREFIXES)}"
            " name fleethub's own broker accounts and agents'"
        )
    return tablet_id


def tablet_role_name(tablet_id: str) -> str:
    return f"tablet:{check_tablet_id(tablet_id)}"


def tablet_acls(tablet_id: str) -> list[Acl]:
    """Its own subtree, literally: ``%u`` substitution does not work in 2.0.11 role ACLs."""
    topic = f"tablets/{check_tablet_id(tablet_id)}/#"
    return [Acl(acltype=kind, topic=topic) for kind in READ_WRITE]


def agent_username(user_id: int) -> str:
    """A lead agent's broker user (its panel user id): ``agent-{id}``."""
    return f"agent-{int(user_id)}"


def agent_role_name(user_id: int) -> str:
    return f"agent:{int(user_id)}"


def agent_acls(user_id: int) -> list[Acl]:
    """Its own subtree, ``agents/{id}/#``, where the hub pushes its lead offers."""
    topic = f"agents/{int(user_id)}/#"
    return [Acl(acltype=kind, topic=topic) for kind in READ_WRITE]


def hub_acls() -> list[Acl]:
    """Routing only: no ``$CONTROL`` (provisioning is the ``provision`` account's)."""
    topics = ("tablets/#", "fleets/#", "agents/#")
    return [Acl(acltype=kind, topic=topic) for topic in topics for kind in READ_WRITE]


def panel_acls() -> list[Acl]:
    """``POST /v1/device/heartbeat`` publishes on the tablet's heartbeat topic; nothing else."""
    return [Acl(acltype="publishClientSend", topic="tablets/+/heartbeat")]


def provision_acls() -> list[Acl]:
    """The plugin's command topic and its answers, nothing else. The plugin checks only the
    topic: whoever may publish there may run every command (Mosquitto 2.0.11)."""
    return [
        Acl(acltype="publishClientSend", topic=CONTROL_TOPIC),
        Acl(acltype="publishClientReceive", topic=f"{CONTROL_TOPIC}/response"),
        Acl(acltype="subscribePattern", topic=f"{CONTROL_TOPIC}/response"),
    ]


def health_acls() -> list[Acl]:
    return [
        Acl(acltype=kind, topic="$SYS/broker/uptime")
        for kind in ("publishClientReceive", "subscribePattern")
    ]


SERVICE_ROLES = {
    HUB_ROLE: hub_acls,
    PANEL_ROLE: panel_acls,
    PROVISION_ROLE: provision_acls,
    HEALTH_ROLE: health_acls,
}


def hub_tablet_client_id(hub_client_id: str, shard: int) -> str:
    """The hub's tablet session of one shard: its client id and account."""
    return f"{hub_client_id}-{shard}"


def hub_publish_client_id(hub_client_id: str, shard: int) -> str:
    """The hub's publish session (aiomqtt) of one shard: its client id and account."""
    return f"{hub_client_id}-{shard}-out"


def hub_client_ids(hub_client_id: str, shard_count: int) -> list[str]:
    """Every account of a hub of ``shard_count`` shards, two per shard."""
    return [
        cid
        for shard in range(shard_count)
        for cid in (
            hub_tablet_client_id(hub_client_id, shard),
            hub_publish_client_id(hub_client_id, shard),
        )
    ]


def hashed_client(
    username: str,
    password: str,
    rolename: str,
    salt: bytes | None = None,
    textname: str | None = None,
) -> Client:
    """An account bound to the client id ``username``."""
    salt = salt or secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS)
    return Client(
        username=username,
        clientid=username,
        textname=textname,
        roles=[RoleRef(rolename=rolename)],
        password=base64.b64encode(digest).decode(),
        salt=base64.b64encode(salt).decode(),
        iterations=ITERATIONS,
    )


def verify(client: Client, password: str) -> bool:
    """The plugin's password check, recomputed with hashlib."""
    salt = base64.b64decode(client.salt, validate=True)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, client.iterations)
    return secrets.compare_digest(digest, base64.b64decode(client.password, validate=True))


def put_tablets(config: DynsecConfig, users: dict[str, str]) -> None:
    clients = [
        hashed_client(t, pw, tablet_role_name(t), textname="tablet") for t, pw in users.items()
    ]
    roles = [Role(rolename=tablet_role_name(t), acls=tablet_acls(t)) for t in users]
    config.put(clients, roles)


def remove_tablet(config: DynsecConfig, tablet_id: str) -> bool:
    found = config.client(tablet_id) is not None
    config.remove({tablet_id}, {tablet_role_name(tablet_id)})
    return found


def put_agent(config: DynsecConfig, user_id: int, password: str) -> None:
    role = agent_role_name(user_id)
    config.put(
        [hashed_client(agent_username(user_id), password, role, textname="lead agent")],
        [Role(rolename=role, acls=agent_acls(user_id))],
    )


def remove_agent(config: DynsecConfig, user_id: int) -> bool:
    found = config.client(agent_username(user_id)) is not None
    config.remove({agent_username(user_id)}, {agent_role_name(user_id)})
    return found


def put_service(config: DynsecConfig, usernames: list[str], password: str, rolename: str) -> None:
    """fleethub's own accounts of one role, each with a fresh hash (a changed secret applies)
    and bound to its client id, and the canonical role."""
    config.put(
        [hashed_client(u, password, rolename, textname=f"fleethub {rolename}") for u in usernames],
        [Role(rolename=rolename, acls=SERVICE_ROLES[rolename]())],
    )


def bind_clients(config: DynsecConfig) -> list[str]:
    """Bind every account that has no client id to its username (the contract for tablets
    and agents); a file written before accounts were bound gets no takeover hole. Returns
    the usernames bound."""
    bound = [c.username for c in config.clients if not c.clientid]
    for client in config.clients:
        client.clientid = client.clientid or client.username
    return bound


def read(path: Path) -> DynsecConfig:
    if not path.exists():
        return DynsecConfig()
    try:
        return DynsecConfig.model_validate_json(path.read_bytes())
    except ValueError as exc:
        raise BrokerError(f"{path} is not a dynamic-security file: {exc}") from exc


def write(path: Path, config: DynsecConfig) -> None:
    """Atomically, mode 0600, owned by the ``mosquitto`` user when written as root."""
    tmp = path.with_name(path.name + ".fleethub-tmp")
    tmp.write_text(config.model_dump_json(by_alias=True, exclude_none=True, indent=1))
    os.chmod(tmp, 0o600)
    give_to_mosquitto(tmp)
    tmp.replace(path)


def give_to_mosquitto(path: Path) -> None:
    """Mosquitto started as root drops to its own user, and must read and replace (or write)
    what fleethub prepares for it: its data directory, log file and dynsec file."""
    if os.geteuid() != 0:
        return
    import pwd  # POSIX only, and only needed as root

    try:
        entry = pwd.getpwnam("mosquitto")
    except KeyError:
        return
    os.chown(path, entry.pw_uid, entry.pw_gid)
