"""docker-compose.yml and broker/ agree with Settings and with each other.

No Docker engine runs in the tests: the compose file is read as YAML, and the
production Mosquitto config is started with the local ``mosquitto`` binary.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from broker import dynsec, dynsec_file
from broker.processes import Child, free_port
from broker.runner import dynsec_plugin
from config import Settings
from config.errors import BrokerError, DynsecError
from config.settings import MqttTarget, parse_mqtt_url
from tests.helpers import blocking
from web.live.broker_link import device_mqtt_url

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
BROKER_CONF = ROOT / "broker" / "mosquitto.conf"
BROKER_ENTRYPOINT = ROOT / "broker" / "docker-entrypoint.sh"

APP_SERVICES = ("migrate", "hub", "web")
LONG_RUNNING = ("timescaledb", "mosquitto", "minio", "hub", "web")
ONE_SHOT = ("migrate", "minio-bucket")

ENV_PREFIX = Settings.model_config.get("env_prefix", "")

# Compose interpolation: $$, ${VAR}, ${VAR:-default}, ${VAR-default},
# ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt}, $VAR.
_INTERPOLATION = re.compile(
    r"\$\$"
    r"|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
# Secrets compose must be given, never defaulted (docs/operations.md: rotating them).
SECRETS = (
    "POSTGRES_PASSWORD",
    "FLEETHUB_HUB_MQTT_PASSWORD",
    "FLEETHUB_PROVISION_MQTT_PASSWORD",
    "FLEETHUB_SECRET_KEY",
    "FLEETHUB_MEDIA_S3_SECRET_ACCESS_KEY",
)

Services = dict[str, dict[str, Any]]


def interpolate(value: str) -> str:
    """Resolve compose placeholders as if no variable were set.

    ``${VAR:-default}`` gives its default; a placeholder without one (``${VAR}``,
    ``${VAR:?error}``) gives a dummy value of its own, 32+ characters (production checks
    lengths), as an operator's ``.env`` would.
    """

    def resolve(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        op = match.group("op") or ""
        if op.endswith("-"):
            return match.group("arg")
        if op.endswith("+"):
            return ""
        return dummy(match.group("braced") or match.group("bare"))

    resolved = _INTERPOLATION.sub(resolve, value)
    assert "${" not in resolved, f"unresolved placeholder in {value!r}"
    return resolved


def dummy(name: str) -> str:
    return f"dummy-{name.lower()}-0123456789abcdef"


def settings_env_names() -> set[str]:
    """The environment names Settings reads: prefix + field name, or the field's alias."""
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names.add((alias if isinstance(alias, str) else f"{ENV_PREFIX}{name}").upper())
    return names


def settings_default(field: str) -> Any:
    return Settings.model_fields[field].default


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's ``environment`` (map or ``KEY=VALUE`` list), values as strings."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = [str(item).partition("=") for item in env]
        return {key: value for key, _, value in pairs}
    assert isinstance(env, dict)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def published_container_ports(service: Mapping[str, Any]) -> set[int]:
    """Container-side ports of a service's ``ports`` (short or long syntax)."""
    ports: set[int] = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            target = str(entry["target"])
        else:
            target = str(entry).split("/", 1)[0].rsplit(":", 1)[-1]
        if target.isdigit():
            ports.add(int(target))
    return ports


def mounts(service: Mapping[str, Any]) -> dict[str, str]:
    """Container target -> source of a service's ``volumes`` (short or long syntax)."""
    result: dict[str, str] = {}
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            result[str(entry["target"])] = str(entry.get("source", ""))
        else:
            source, _, rest = str(entry).partition(":")
            target = rest.split(":", 1)[0] if rest else source
            result[target] = source if rest else ""
    return result


def is_bind(source: str) -> bool:
    return source.startswith(("./", "../", "/", "~"))


def has_healthcheck(service: Mapping[str, Any]) -> bool:
    check = service.get("healthcheck")
    if not isinstance(check, dict) or check.get("disable"):
        return False
    test = check.get("test")
    return bool(test) and test != ["NONE"]


def read_directives(path: Path) -> list[list[str]]:
    """Non-comment lines of a Mosquitto config file, split into words."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def conf_values(path: Path) -> dict[str, list[str]]:
    """Mosquitto config option -> the rest of its last line."""
    return {words[0]: words[1:] for words in read_directives(path)}


def listener_ports(path: Path) -> set[int]:
    return {int(words[1]) for words in read_directives(path) if words[0] == "listener"}


@pytest.fixture(scope="module")
def services() -> Services:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    found = data.get("services")
    assert isinstance(found, dict)
    return found


@pytest.fixture(scope="module")
def db_service_env(services: Services) -> dict[str, str]:
    return {k: interpolate(v) for k, v in environment(services["timescaledb"]).items()}


def test_expected_services_exist(services: Services) -> None:
    assert set(services) >= {"timescaledb", "mosquitto", "migrate", "hub", "web"}


def test_depends_on_waits_for_health_or_completion(services: Services) -> None:
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions, not a list"
        for dependency, spec in depends_on.items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            expected = (
                "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            )
            assert spec.get("condition") == expected, f"{name} -> {dependency}"
            if expected == "service_healthy":
                assert has_healthcheck(services[dependency]), f"{dependency} has no healthcheck"
    for app in ("hub", "web"):
        assert set(services[app]["depends_on"]) >= {"timescaledb", "mosquitto", "migrate"}
    assert "timescaledb" in services["migrate"]["depends_on"]


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_service_has_healthcheck_and_restarts(services: Services, name: str) -> None:
    service = services[name]
    assert has_healthcheck(service)
    restart = str(service.get("restart", "no"))
    assert restart in ("always", "unless-stopped") or restart.startswith("on-failure")


@pytest.mark.parametrize("name", ONE_SHOT)
def test_one_shot_service_is_not_restarted(services: Services, name: str) -> None:
    # "unless-stopped" would rerun it forever after each successful exit.
    assert str(services[name].get("restart", "no")) == "no"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_env_names_are_settings_fields(services: Services, name: str) -> None:
    used = {key for key in environment(services[name]) if key.upper().startswith(ENV_PREFIX)}
    unknown = used - settings_env_names()
    assert not unknown, f"{name} sets {sorted(unknown)}, which Settings does not read"
    assert not services[name].get("env_file"), "env_file would bypass this check"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_env_builds_settings_with_the_compose_urls(
    services: Services,
    db_service_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    env = {key: interpolate(value) for key, value in environment(services[name]).items()}
    assert f"{ENV_PREFIX}DATABASE_URL" in env
    assert f"{ENV_PREFIX}MQTT_URL" in env
    for key in list(os.environ):
        if key.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    settings = Settings()

    assert settings.database_url is not None
    db = urlsplit(settings.database_url)
    assert db.scheme in ("postgresql", "postgres")
    assert (db.hostname, db.port) == ("timescaledb", 5432)
    assert unquote(db.username or "") == db_service_env["POSTGRES_USER"]
    assert unquote(db.password or "") == db_service_env["POSTGRES_PASSWORD"]
    assert db.path.lstrip("/") == db_service_env["POSTGRES_DB"]

    # Over TLS, to the broker's public name (its network alias), trusting the system's CAs.
    broker_name = dummy("FLEETHUB_BROKER_NAME")
    target = settings.mqtt_target()
    assert target is not None
    assert (target.host, target.port, target.tls, target.ca_file) == (broker_name, 8883, True, None)
    assert target.username == settings.hub_client_id
    assert target.password
    provision = settings.provision_target()
    if name == "web":  # only the panel provisions tablets
        assert provision is not None
        assert (provision.host, provision.username) == (broker_name, "fleethub-provision")
        assert provision.tls
        assert provision.password != target.password
        # Pairing tablets are told the same TLS address, without credentials.
        assert device_mqtt_url(settings, target) == f"mqtts://{broker_name}:8883"
    else:
        assert provision is None


@pytest.mark.parametrize("name", ["hub", "web"])
def test_the_media_store_is_the_minio_bucket(
    services: Services, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """The hub and the panel keep media in the bucket the one-shot service creates, on the
    MinIO service, with its root credentials; tablets get URLs of MinIO's published port."""
    env = {key: interpolate(value) for key, value in environment(services[name]).items()}
    for key in list(os.environ):
        if key.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    bucket = urlsplit(settings.media_store_url())
    assert (bucket.scheme, bucket.hostname) == ("s3", "fleethub-media")
    assert urlsplit(settings.media_s3_endpoint or "").hostname == "minio"
    minio = {k: interpolate(v) for k, v in environment(services["minio"]).items()}
    assert settings.media_s3_access_key_id == minio["MINIO_ROOT_USER"]
    secret = settings.media_s3_secret_access_key
    assert secret is not None
    assert secret.get_secret_value() == minio["MINIO_ROOT_PASSWORD"]
    assert "fleethub/fleethub-media" in " ".join(services["minio-bucket"]["command"])
    assert "9000:9000" in services["minio"]["ports"]
    assert urlsplit(settings.media_s3_public_endpoint or "").port == 9000
    assert settings.secret_key is not None  # the panel checks what the hub signs


def test_the_broker_answers_to_its_public_name_on_the_compose_network(services: Services) -> None:
    """The services' MQTT host is an alias of the broker on their network: the name its
    certificate carries (so TLS with hostname checks works inside compose too)."""
    networks = services["mosquitto"]["networks"]
    aliases = [interpolate(alias) for alias in networks["default"]["aliases"]]
    for name in APP_SERVICES:
        url = interpolate(environment(services[name])[f"{ENV_PREFIX}MQTT_URL"])
        assert parse_mqtt_url(url).host in aliases, name
    assert all(not services[name].get("networks") for name in APP_SERVICES)


def test_a_private_ca_file_can_be_mounted(services: Services) -> None:
    """FLEETHUB_MQTT_CA_FILE is optional, and the app containers see broker/ca/ (public
    certificates only: the broker's key stays in the broker's container)."""
    for name in APP_SERVICES:
        env = environment(services[name])
        assert interpolate(env[f"{ENV_PREFIX}MQTT_CA_FILE"]) == ""
        binds = mounts(services[name])
        assert binds.get("/fleethub/ca") == "./broker/ca", name
        assert "./broker/certs" not in binds.values(), name


def test_no_secret_has_a_default() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert "dev-only" not in text
    for name in SECRETS:
        uses = [m for m in _INTERPOLATION.finditer(text) if m.group("braced") == name]
        assert uses, name
        for use in uses:
            assert use.group("op") == ":?", f"{use.group(0)}: a secret must be required"


def test_production_refuses_the_old_published_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the compose file used to fall back to is refused by name, not only by compose."""
    for key in list(os.environ):
        if key.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    old = [
        (
            "FLEETHUB_DATABASE_URL",
            "postgresql://fleethub:dev-only-postgres-password@timescaledb/fleethub",
        ),
        ("FLEETHUB_MQTT_URL", "mqtt://fleethub-hub:dev-only-hub-mqtt-password@mosquitto:1883"),
        ("FLEETHUB_PROVISION_MQTT_URL", "mqtt://fleethub-provision@mosquitto:1883"),
    ]
    monkeypatch.setenv(f"{ENV_PREFIX}ENVIRONMENT", "production")
    monkeypatch.setenv(f"{ENV_PREFIX}SECRET_KEY", "k" * 40)
    for field, url in old:
        monkeypatch.setenv(field, url)
        with pytest.raises(ValueError, match=field):
            Settings()
        monkeypatch.delenv(field)


def test_accounts_match_the_broker_service(services: Services) -> None:
    hub_env = {k: interpolate(v) for k, v in environment(services["hub"]).items()}
    web_env = {k: interpolate(v) for k, v in environment(services["web"]).items()}
    target = parse_mqtt_url(hub_env[f"{ENV_PREFIX}MQTT_URL"])
    provision = parse_mqtt_url(web_env[f"{ENV_PREFIX}PROVISION_MQTT_URL"])
    broker_env = {k: interpolate(v) for k, v in environment(services["mosquitto"]).items()}
    # broker/docker-entrypoint.sh writes these into the dynamic-security file.
    hub_id = hub_env.get(f"{ENV_PREFIX}HUB_CLIENT_ID", settings_default("hub_client_id"))
    shards = hub_env.get(f"{ENV_PREFIX}SHARD_COUNT", settings_default("shard_count"))
    web_id = web_env.get(f"{ENV_PREFIX}WEB_CLIENT_ID", settings_default("web_client_id"))
    assert broker_env["MQTT_HUB_CLIENT_ID"] == hub_id
    assert int(broker_env["MQTT_HUB_SHARDS"]) == int(shards)
    assert broker_env["MQTT_WEB_CLIENT_ID"] == web_id
    assert broker_env["MQTT_HUB_PASSWORD"] == target.password
    assert broker_env["MQTT_PROVISION_PASSWORD"] == provision.password


def test_web_port_published_matches_settings(services: Services) -> None:
    web = services["web"]
    env = {k: interpolate(v) for k, v in environment(web).items()}
    port = int(env.get(f"{ENV_PREFIX}WEB_PORT", settings_default("web_port")))
    assert port in published_container_ports(web)
    assert env.get(f"{ENV_PREFIX}WEB_HOST") == "0.0.0.0"
    assert "/healthz" in " ".join(map(str, web["healthcheck"]["test"]))


def test_bind_mount_sources_exist(services: Services) -> None:
    for name, service in services.items():
        for target, source in mounts(service).items():
            if is_bind(source) and not source.startswith(("/", "~")):
                assert (ROOT / source).exists(), f"{name}: {source} -> {target} is missing"


def test_mosquitto_uses_the_repository_config(services: Services) -> None:
    broker = services["mosquitto"]
    binds = {t: (ROOT / s).resolve() for t, s in mounts(broker).items() if is_bind(s)}
    command = [str(word) for word in broker["command"]]
    conf_target = command[command.index("-c") + 1]
    assert binds.get(conf_target) == BROKER_CONF

    conf = conf_values(BROKER_CONF)
    # Users and ACLs only in the dynamic-security plugin: mixed with these files, a
    # tablet without roles could read other tablets' topics.
    assert "password_file" not in conf
    assert "acl_file" not in conf
    assert PurePosixPath(conf["plugin"][0]).name == "mosquitto_dynamic_security.so"
    # The dynsec file (rewritten by the broker) and the persistence database live on volumes.
    volume_targets = [PurePosixPath(t) for t, s in mounts(broker).items() if s and not is_bind(s)]
    for path in (conf["plugin_opt_config_file"][0], conf["persistence_location"][0]):
        assert any(PurePosixPath(path).is_relative_to(v) for v in volume_targets), path
    # The entrypoint writes the file where the config reads it.
    assert (
        f"dynsec=${{DYNSEC_FILE:-{conf['plugin_opt_config_file'][0]}}}"
        in BROKER_ENTRYPOINT.read_text(encoding="utf-8")
    )
    assert binds.get("/fleethub/docker-entrypoint.sh") == BROKER_ENTRYPOINT


def tls_listeners(path: Path) -> set[int]:
    """Listener ports followed by a certfile and keyfile (before the next listener)."""
    tls: set[int] = set()
    port: int | None = None
    seen: set[str] = set()
    for words in [*read_directives(path), ["listener", "0"]]:
        if words[0] == "listener":
            if port is not None and {"certfile", "keyfile"} <= seen:
                tls.add(port)
            port, seen = int(words[1]), set()
        seen.add(words[0])
    return tls


def test_mqtt_url_port_is_a_broker_listener(services: Services) -> None:
    ports = listener_ports(BROKER_CONF)
    for name in APP_SERVICES:
        url = interpolate(environment(services[name])[f"{ENV_PREFIX}MQTT_URL"])
        assert parse_mqtt_url(url).port in ports, name
    assert published_container_ports(services["mosquitto"]) <= ports


def test_only_tls_is_published(services: Services) -> None:
    """Plain MQTT stays on the compose network; the world reaches the TLS listener."""
    published = published_container_ports(services["mosquitto"])
    assert published
    assert published <= tls_listeners(BROKER_CONF)
    assert 1883 not in published
    certs = {conf_values(BROKER_CONF)[k][0] for k in ("certfile", "keyfile")}
    binds = mounts(services["mosquitto"])
    assert all(any(PurePosixPath(c).is_relative_to(t) for t in binds) for c in certs), certs


def test_broker_conf_production_settings() -> None:
    conf = conf_values(BROKER_CONF)
    assert conf["allow_anonymous"] == ["false"]
    assert conf["persistence"] == ["true"]
    assert conf["retain_available"] == ["true"]
    assert int(conf["max_queued_messages"][0]) >= 10_000
    assert int(conf["max_inflight_messages"][0]) > 20
    assert "persistent_client_expiration" in conf
    # Whole packets: a full-size payload plus topic and headers must fit.
    max_payload = settings_default("play_max_payload_bytes")  # the largest payload
    assert max_payload + 1024 <= int(conf["max_packet_size"][0]) <= 2 * max_payload


# --- The production config runs ----------------------------------------------------

HUB_PASSWORD = "hub-secret-0123456789"
PROVISION_PASSWORD = "provision-secret-0123456789"
TABLETS = {"tab-1": "tab-1-secret", "tab-2": "tab-2-secret"}
HUB_ID = f"{settings_default('hub_client_id')}-0"


def _require(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")


def _run_entrypoint(dynsec_path: Path) -> subprocess.CompletedProcess[str]:
    """broker/docker-entrypoint.sh outside the container: it then execs ``true``."""
    env = {
        **os.environ,
        "DYNSEC_FILE": str(dynsec_path),
        "NEXT_ENTRYPOINT": "true",
        "MQTT_HUB_CLIENT_ID": settings_default("hub_client_id"),
        "MQTT_HUB_SHARDS": "2",
        "MQTT_WEB_CLIENT_ID": settings_default("web_client_id"),
        "MQTT_HUB_PASSWORD": HUB_PASSWORD,
        "MQTT_PROVISION_PASSWORD": PROVISION_PASSWORD,
    }
    return subprocess.run(
        ["sh", str(BROKER_ENTRYPOINT), "mosquitto"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def broker_root() -> Iterator[Path]:
    """A directory laid out like the container's /mosquitto, with the entrypoint run once."""
    _require("mosquitto", "mosquitto_ctrl")
    if os.geteuid() != 0:
        pytest.skip("the entrypoint chowns its file to `mosquitto`, as root in the container")
    try:
        pwd.getpwnam("mosquitto")
    except KeyError:
        pytest.skip("running as root without a `mosquitto` user to drop to")
    # Not under pytest's tmp_path: its parents are 0700, and mosquitto drops
    # root to the `mosquitto` user before it reads the dynamic-security file.
    root = Path(tempfile.mkdtemp(prefix="fleethub-broker-"))
    try:
        root.chmod(0o755)
        (root / "config").mkdir(mode=0o755)
        _self_signed(root / "certs")
        result = _run_entrypoint(root / "data" / "dynamic-security.json")
        assert result.returncode == 0, result.stderr
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _self_signed(directory: Path) -> None:
    """The TLS listener's certificate and key, for 127.0.0.1."""
    _require("openssl")
    directory.mkdir(mode=0o755)
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(directory / "server.key"),
            "-out",
            str(directory / "server.crt"),
        ],
        capture_output=True,
        check=True,
        timeout=30,
    )
    owner = pwd.getpwnam("mosquitto")
    os.chown(directory / "server.key", owner.pw_uid, owner.pw_gid)


def test_entrypoint_writes_the_accounts_once(broker_root: Path) -> None:
    path = broker_root / "data" / "dynamic-security.json"
    config = dynsec_file.read(path)
    hub_ids = dynsec_file.hub_client_ids(settings_default("hub_client_id"), 2)
    web_id = settings_default("web_client_id")
    expected = {
        **dict.fromkeys(hub_ids, (dynsec_file.HUB_ROLE, HUB_PASSWORD)),
        web_id: (dynsec_file.PANEL_ROLE, HUB_PASSWORD),
        "fleethub-health": (dynsec_file.HEALTH_ROLE, HUB_PASSWORD),
        "fleethub-provision": (dynsec_file.PROVISION_ROLE, PROVISION_PASSWORD),
    }
    assert [c.username for c in config.clients] == list(expected)
    for client in config.clients:
        rolename, password = expected[client.username]
        assert client.clientid == client.username  # bound to its own client id
        assert dynsec_file.verify(client, password), client.username
        assert [r.rolename for r in client.roles] == [rolename]
    assert len({c.salt for c in config.clients}) == len(config.clients)
    for rolename, acls in dynsec_file.SERVICE_ROLES.items():
        role = config.role(rolename)
        assert role is not None, rolename
        assert [a.model_dump() for a in role.acls] == [a.model_dump() for a in acls()], rolename
    assert [r.rolename for r in config.roles] == list(dynsec_file.SERVICE_ROLES)
    assert config.default_acl_access.model_dump() == dynsec_file.DefaultAccess().model_dump()
    owner = pwd.getpwnam("mosquitto")
    assert (path.stat().st_uid, path.parent.stat().st_uid) == (owner.pw_uid, owner.pw_uid)

    before = path.read_bytes()
    again = _run_entrypoint(path)  # a restart: the broker owns the file now
    assert again.returncode == 0, again.stderr
    assert path.read_bytes() == before


@pytest.fixture
def broker_port(broker_root: Path) -> Iterator[int]:
    """broker/mosquitto.conf and the entrypoint's file served by a real mosquitto."""
    broker: Child | None = None
    try:
        port = free_port()
        lines = []
        tls_port = free_port()
        for line in BROKER_CONF.read_text(encoding="utf-8").splitlines():
            if line.split()[:2] == ["listener", "1883"]:
                line = f"listener {port} 127.0.0.1"
            elif line.split() == ["listener", "8883"]:
                line = f"listener {tls_port} 127.0.0.1"
            if line.split()[:1] == ["plugin"]:
                line = f"plugin {dynsec_plugin()}"  # where this machine has it
            lines.append(line.replace("/mosquitto/", f"{broker_root}/"))
        conf_text = "\n".join(lines) + "\n"
        assert "/mosquitto/" not in conf_text
        conf = broker_root / "config" / "mosquitto.conf"
        conf.write_text(conf_text, encoding="utf-8")
        conf.chmod(0o644)

        broker = Child(
            "mosquitto", ["mosquitto", "-c", str(conf)], log_path=broker_root / "broker.log"
        )
        broker.wait_port("127.0.0.1", port, timeout=10)
        broker.wait_port("127.0.0.1", tls_port, timeout=10)
        (broker_root / "tls.port").write_text(str(tls_port))
        provision = MqttTarget(
            host="127.0.0.1", port=port, username="fleethub-provision", password=PROVISION_PASSWORD
        )
        blocking(dynsec.provision_tablets(provision, TABLETS))
        yield port
    finally:
        if broker is not None:
            broker.stop()


def _mqtt(*argv: str, port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*argv, "-h", "127.0.0.1", "-p", str(port)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_compose_broker_healthcheck_passes(broker_port: int, services: Services) -> None:
    """The mosquitto service's own healthcheck command, run against the real config."""
    _require("mosquitto_sub")
    kind, command = services["mosquitto"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    shell_command = command.replace("$$", "$")
    assert "-p 1883" in shell_command
    shell_command = shell_command.replace("-p 1883", f"-p {broker_port}")
    env = {**os.environ, "MQTT_HUB_PASSWORD": HUB_PASSWORD}
    result = subprocess.run(
        ["sh", "-c", shell_command], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr


def test_broker_refuses_anonymous_clients(broker_port: int) -> None:
    _require("mosquitto_sub")
    result = _mqtt(
        "mosquitto_sub", "-t", "$SYS/broker/uptime", "-C", "1", "-W", "5", port=broker_port
    )
    assert result.returncode != 0
    assert "not authorised" in result.stderr.lower()


def test_broker_acl_keeps_tablets_in_their_subtree(broker_port: int) -> None:
    _require("mosquitto_sub", "mosquitto_pub")
    tablet = ["-u", "tab-1", "-P", TABLETS["tab-1"], "-i", "tab-1", "-q", "1", "-r"]
    # A publish outside its subtree is acknowledged but dropped by the ACL.
    for topic, payload in (("tablets/tab-2/status", "spoofed"), ("tablets/tab-1/status", "online")):
        result = _mqtt("mosquitto_pub", *tablet, "-t", topic, "-m", payload, port=broker_port)
        assert result.returncode == 0, result.stderr

    hub = ["-u", HUB_ID, "-i", HUB_ID, "-P", HUB_PASSWORD]
    retained = ["-t", "tablets/#", "-v", "--retained-only", "-W", "1"]
    seen = _mqtt("mosquitto_sub", *hub, *retained, port=broker_port)
    assert seen.stdout.splitlines() == ["tablets/tab-1/status online"], seen.stderr


def test_tablets_reach_the_tls_listener(broker_port: int, broker_root: Path) -> None:
    _require("mosquitto_sub", "mosquitto_pub")
    tls_port = int((broker_root / "tls.port").read_text())
    tablet = ["-u", "tab-2", "-P", TABLETS["tab-2"], "-i", "tab-2", "-q", "1"]
    ca = ["--cafile", str(broker_root / "certs" / "server.crt")]
    status = ["-t", "tablets/tab-2/status", "-m", "online", "-r"]
    sent = _mqtt("mosquitto_pub", *tablet, *ca, *status, port=tls_port)
    assert sent.returncode == 0, sent.stderr
    seen = _mqtt(
        "mosquitto_sub",
        *tablet,
        *ca,
        "-t",
        "tablets/tab-2/status",
        "-C",
        "1",
        "-W",
        "5",
        port=tls_port,
    )
    assert seen.stdout.strip() == "online", seen.stderr
    plain = _mqtt("mosquitto_pub", *tablet, *status, port=tls_port)
    assert plain.returncode != 0  # no plain MQTT on the TLS port


def test_the_services_reach_the_tls_listener_as_compose_configures_them(
    broker_port: int, broker_root: Path, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The panel's settings from the compose file, pointed at this broker's TLS port and
    trusting its certificate: provisioning (aiomqtt over TLS) works; a client that does
    not trust it is refused."""
    tls_port = int((broker_root / "tls.port").read_text())
    env = {k: interpolate(v) for k, v in environment(services["web"]).items()}
    for key in list(os.environ):
        if key.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv(f"{ENV_PREFIX}MQTT_CA_FILE", str(broker_root / "certs" / "server.crt"))
    provision = Settings().provision_target()
    assert provision is not None
    here = provision.model_copy(
        update={"host": "127.0.0.1", "port": tls_port, "password": PROVISION_PASSWORD}
    )
    blocking(dynsec.provision_tablets(here, {"tab-tls": "tab-tls-secret"}, timeout=10))
    seen = _mqtt(
        "mosquitto_sub",
        *["-u", "tab-tls", "-P", "tab-tls-secret", "-i", "tab-tls"],
        *["--cafile", str(broker_root / "certs" / "server.crt")],
        *["-t", "tablets/tab-tls/#", "-W", "1"],
        port=tls_port,
    )
    assert "not authori" not in seen.stderr.lower(), seen.stderr  # logged in, then timed out
    untrusted = here.model_copy(update={"ca_file": None})
    with pytest.raises(BrokerError, match="certificate"):
        blocking(dynsec.provision_tablets(untrusted, {"tab-x": "pw"}, timeout=10))


def test_no_account_takes_the_hubs_client_id(broker_port: int) -> None:
    """Each account is bound to its client id: a tablet presenting the hub's is refused,
    and the provisioning account cannot present it either."""
    _require("mosquitto_sub")
    for user, password in (("tab-1", TABLETS["tab-1"]), ("fleethub-provision", PROVISION_PASSWORD)):
        taken = _mqtt(
            "mosquitto_sub",
            "-u",
            user,
            "-P",
            password,
            "-i",
            HUB_ID,
            "-t",
            "tablets/#",
            "-W",
            "1",
            port=broker_port,
        )
        assert taken.returncode != 0
        assert "not authori" in taken.stderr.lower(), taken.stderr


def test_the_hubs_account_cannot_provision(broker_port: int) -> None:
    hub = MqttTarget(host="127.0.0.1", port=broker_port, username=HUB_ID, password=HUB_PASSWORD)
    with pytest.raises(DynsecError, match="may not subscribe"):
        blocking(dynsec.provision_tablets(hub, {"tab-3": "pw"}, timeout=5))
