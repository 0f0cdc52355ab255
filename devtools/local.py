"""Where the store and the broker are: the URLs from the environment, or the embedded ones.

With ``FLEETHUB_DATABASE_URL`` unset, commands use the embedded PostgreSQL under
``var/pgdata``: the one ``fleethub up`` runs, or one started just for the
command. With ``FLEETHUB_MQTT_URL`` unset, the broker is the embedded Mosquitto
whose files live under ``var/broker``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from broker.runner import embedded_broker
from config.errors import ConfigError
from config.settings import MqttTarget, Settings
from devtools.embedded_db import EmbeddedPostgres


def mqtt_target(settings: Settings) -> MqttTarget:
    target = settings.mqtt_target()
    if target is not None:
        return target
    return embedded_broker(settings).hub_target()


def provision_target(settings: Settings) -> MqttTarget:
    """The provisioning account ($CONTROL): ``FLEETHUB_PROVISION_MQTT_URL``, or the embedded
    broker's when neither broker URL is set."""
    target = settings.provision_target()
    if target is not None:
        return target
    if settings.mqtt_url:
        raise ConfigError(
            "FLEETHUB_MQTT_URL is set but FLEETHUB_PROVISION_MQTT_URL is not: "
            "the hub's account cannot provision tablets "
            "(broker/README.md)"
        )
    return embedded_broker(settings).provision_target()


def _running_pid(pgdata: Path) -> int | None:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().splitlines()[0])
    return pid if Path(f"/proc/{pid}").exists() else None


@contextlib.contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """The store URL; starts the embedded server for the command's duration if needed."""
    if settings.database_url:
        yield settings.database_url
        return
    server = EmbeddedPostgres(settings.pgdata_dir, port=settings.db_port)
    if _running_pid(server.pgdata) is not None:
        yield server.url()
        return
    url = server.start()
    try:
        yield url
    finally:
        server.stop()
