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
from broker.runner import dynsec_plugin
from config import Settings
from config.settings import MqttTarget, parse_mqtt_url
from hub.processes import Child, free_port

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
BROKER_CONF = ROOT / "broker" / "mosquitto.conf"
BROKER_ENTRYPOINT = ROOT / "broker" / "docker-entrypoint.sh"

APP_SERVICES = ("migrate", "hub", "web")
LONG_RUNNING = ("timescaledb", "mosquitto", "hub", "web")
ONE_SHOT = ("migrate",)

ENV_PREFIX = Settings.model_config.get("env_prefix", "")

# Compose interpolation: $$, ${VAR}, ${VAR:-default}, ${VAR-default},
# ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt}, $VAR.
_INTERPOLATION = re.compile(
    r"\$\$"
    r"|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
DUMMY = "dummy-value-as-long-as-a-real-secret-key"  # 32+: production checks key length

Services = dict[str, dict[str, Any]]


def interpolate(value: str) -> str:
    """Resolve compose placeholders as if no variable were set.

    ``${VAR:-default}`` gives its default; a placeholder without one (``${VAR}``,
    ``${VAR:?error}``) gives a dummy value, as an operator's ``.env`` would.
    """

    def resolve(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        op = match.group("op") or ""
        if op.endswith("-"):
            return match.group("arg")
        if op.endswith("+"):
            return ""
        return DUMMY

    resolved = _INTERPOLATION.sub(resolve, value)
    assert "${" not in resolved, f"unresolved placeholder in {value!r}"
    return resolved


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

    assert settings.mqtt_url is not None
    target = parse_mqtt_url(settings.mqtt_url)
    assert target.host == "mosquitto"
    assert target.username == settings.hub_username
    assert target.password


def test_hub_credentials_match_the_broker_service(services: Services) -> None:
    target = parse_mqtt_url(interpolate(environment(services["hub"])[f"{ENV_PREFIX}MQTT_URL"]))
    broker_env = {k: interpolate(v) for k, v in environment(services["mosquitto"]).items()}
    # broker/docker-entrypoint.sh writes these into the dynamic-security file.
    assert broker_env["MQTT_HUB_USERNAME"] == target.username == settings_default("hub_username")
    assert broker_env["MQTT_HUB_PASSWORD"] == target.password


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
    assert f"dynsec=${{DYNSEC_FILE:-{conf['plugin_opt_config_file'][0]}}}" \
        in BROKER_ENTRYPOINT.read_text(encoding="utf-8")  # fmt: skip
    assert binds.get("/fleethub/docker-entrypoint.sh") == BROKER_ENTRYPOINT


def test_mqtt_url_port_is_a_broker_listener(services: Services) -> None:
    ports = listener_ports(BROKER_CONF)
    for name in APP_SERVICES:
        url = interpolate(environment(services[name])[f"{ENV_PREFIX}MQTT_URL"])
        assert parse_mqtt_url(url).port in ports, name
    assert published_container_ports(services["mosquitto"]) <= ports


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

HUB_PASSWORD = "hub-secret"
TABLETS = {"tab-1": "tab-1-secret", "tab-2": "tab-2-secret"}


def _require(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")


def _run_entrypoint(dynsec_path: Path) -> subprocess.CompletedProcess[str]:
    """broker/docker-entrypoint.sh outside the container: it then execs ``true``."""
    env = {**os.environ, "DYNSEC_FILE": str(dynsec_path), "NEXT_ENTRYPOINT": "true",
           "MQTT_HUB_USERNAME": settings_default("hub_username"),
           "MQTT_HUB_PASSWORD": HUB_PASSWORD}  # fmt: skip
    return subprocess.run(["sh", str(BROKER_ENTRYPOINT), "mosquitto"], env=env,
                          capture_output=True, text=True, timeout=30, check=False)  # fmt: skip


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
        result = _run_entrypoint(root / "data" / "dynamic-security.json")
        assert result.returncode == 0, result.stderr
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_entrypoint_writes_the_hub_user_once(broker_root: Path) -> None:
    path = broker_root / "data" / "dynamic-security.json"
    config = dynsec_file.read(path)
    hub = config.client(settings_default("hub_username"))
    assert hub is not None
    assert dynsec_file.verify(hub, HUB_PASSWORD)
    assert [c.username for c in config.clients] == [hub.username]
    assert [r.rolename for r in hub.roles] == [dynsec_file.HUB_ROLE]
    role = config.role(dynsec_file.HUB_ROLE)
    assert role is not None
    assert [a.model_dump() for a in role.acls] == [a.model_dump() for a in dynsec_file.hub_acls()]
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
        for line in BROKER_CONF.read_text(encoding="utf-8").splitlines():
            if line.split()[:1] == ["listener"]:
                line = f"listener {port} 127.0.0.1"
            if line.split()[:1] == ["plugin"]:
                line = f"plugin {dynsec_plugin()}"  # where this machine has it
            lines.append(line.replace("/mosquitto/", f"{broker_root}/"))
        conf_text = "\n".join(lines) + "\n"
        assert "/mosquitto/" not in conf_text
        conf = broker_root / "config" / "mosquitto.conf"
        conf.write_text(conf_text, encoding="utf-8")
        conf.chmod(0o644)

        broker = Child("mosquitto", ["mosquitto", "-c", str(conf)],
                       log_path=broker_root / "broker.log")  # fmt: skip
        broker.wait_port("127.0.0.1", port, timeout=10)
        hub = MqttTarget(host="127.0.0.1", port=port, username=settings_default("hub_username"),
                         password=HUB_PASSWORD)  # fmt: skip
        dynsec.provision_tablets_sync(hub, TABLETS)
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
    env = {
        **os.environ,
        "MQTT_HUB_USERNAME": settings_default("hub_username"),
        "MQTT_HUB_PASSWORD": HUB_PASSWORD,
    }
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

    hub = ["-u", settings_default("hub_username"), "-P", HUB_PASSWORD]
    retained = ["-t", "tablets/#", "-v", "--retained-only", "-W", "1"]
    seen = _mqtt("mosquitto_sub", *hub, *retained, port=broker_port)
    assert seen.stdout.splitlines() == ["tablets/tab-1/status online"], seen.stderr
