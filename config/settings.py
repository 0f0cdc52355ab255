"""Settings read from the environment (``FLEETHUB_*``), built once at the entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class MqttTarget(BaseModel):
    """Where and as whom the hub connects to the broker."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None

    def url(self) -> str:
        """The ``mqtt://user:password@host:port`` form (the inverse of :func:`parse_mqtt_url`)."""
        auth = ""
        if self.username:
            auth = quote(self.username, safe="")
            if self.password:
                auth += ":" + quote(self.password, safe="")
            auth += "@"
        return f"mqtt://{auth}{self.host}:{self.port}"


def parse_mqtt_url(url: str) -> MqttTarget:
    """Parse ``mqtt://user:password@host:port`` into a :class:`MqttTarget`."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp"):
        raise ValueError(f"FLEETHUB_MQTT_URL must start with mqtt://, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"FLEETHUB_MQTT_URL has no host: {url!r}")
    return MqttTarget(
        host=parts.hostname,
        port=parts.port or 1883,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class Settings(BaseSettings):
    """Everything fleethub reads from its environment.

    ``database_url`` and ``mqtt_url`` left unset mean "manage them myself":
    ``fleethub up`` then runs an embedded PostgreSQL and a Mosquitto child
    process with their data under ``var_dir``.
    """

    model_config = SettingsConfigDict(env_prefix="FLEETHUB_", extra="ignore")

    database_url: str | None = None
    mqtt_url: str | None = None
    var_dir: Path = Path("var")

    web_host: str = "127.0.0.1"
    web_port: int = 8080
    # The embedded broker and database of `fleethub up` (unused when the URLs are set).
    broker_host: str = "127.0.0.1"
    broker_port: int = 11883
    db_port: int = 15432

    hub_username: str = "fleethub-hub"
    # The broker address a tablet is given when it pairs (mqtt://host:port or mqtts://…);
    # default: the host and port of FLEETHUB_MQTT_URL or of the embedded broker.
    device_mqtt_url: str | None = None
    claim_attempts_per_window: int = Field(default=10, ge=1)  # failed claims per address
    # MQTT client id prefix; the shard index is appended. The session is persistent.
    hub_client_id: str = "fleethub-hub"
    # Sharding: hub process `shard_index` of `shard_count` owns the tablets
    # whose stable hash falls in its slot (see hub/sharding.py).
    shard_count: int = Field(default=1, ge=1)
    shard_index: int = Field(default=0, ge=0)

    heartbeat_retention_days: int = Field(default=30, ge=1)
    transition_retention_days: int = Field(default=90, ge=1)
    writer_batch_max: int = Field(default=5000, ge=1)
    writer_flush_interval_s: float = Field(default=0.05, gt=0)
    writer_buffer_max: int = Field(default=200_000, ge=1)
    watchdog_tick_s: float = Field(default=0.2, gt=0)
    metrics_interval_s: float = Field(default=10.0, gt=0)  # counters to log and hub_metrics
    max_payload_bytes: int = Field(default=16 * 1024, ge=256)
    playlist_refresh_interval_s: int = Field(default=300, ge=10)
    # Proof of play (tablets/{id}/plays, hub/plays.py): a batch may be larger than other
    # payloads (up to 500 events); the broker's max_packet_size leaves room for it.
    play_max_payload_bytes: int = Field(default=160 * 1024, ge=1024)
    play_clock_skew_s: int = Field(default=300, ge=0)  # started_at this far ahead is accepted
    play_retention_days: int = Field(default=90, ge=1)  # older plays are rejected, then deleted
    # Play batches waiting for the store (e.g. through an outage), bounded in number and in
    # payload bytes; past either the oldest, unacknowledged, is dropped (docs/operations.md).
    play_queue_max: int = Field(default=50_000, ge=1)
    play_queue_max_bytes: int = Field(default=128 * 1024 * 1024, ge=1024)

    # The panel. "production" refuses to start without an explicit secret key.
    environment: Literal["local", "production"] = "local"
    # Signs API tokens; unset in local mode: generated once and kept in var_dir/panel.secret.
    secret_key: SecretStr | None = None
    session_hours: int = Field(default=12, ge=1)
    api_token_minutes: int = Field(default=60, ge=1)
    cookie_secure: bool = False  # set behind TLS (the compose file does)
    # The panel's address as passengers reach it (QR codes link to {public_base_url}/l/{code});
    # default: the address of the admin's request.
    public_base_url: str | None = None
    # The public lead form's rate limits: submissions per 10 minutes per client address
    # (loose: passengers share carrier NAT addresses) and per QR code.
    lead_submits_per_client: int = Field(default=20, ge=1)
    lead_submits_per_code: int = Field(default=30, ge=1)
    max_upload_bytes: int = Field(default=256 * 1024, ge=1024)
    # Web Push to lead agents (web/push_sender.py): the VAPID private key (PEM, or base64url of
    # the raw or DER key); unset: generated once and kept in var_dir/vapid.pem (mode 600).
    vapid_private_key: SecretStr | None = None
    # Every panel process runs a Web Push sender (deliveries are claimed once, whichever
    # process sends them, so they must all share one VAPID key); false: this one does not.
    web_push_sender: bool = True
    # Who push services may contact about our pushes: a mailto: or https: URL.
    vapid_subject: str = Field(
        default="mailto:fleethub@example.com", pattern=r"^(mailto:\S+@\S+|https://\S+)$"
    )

    # Store outages on the panel (web/store_gate.py): a request waits at most this long for a
    # pooled connection; while the store is away every store-touching route answers 503 with
    # this Retry-After at once, and a tablet's device token verified within the grace period
    # still carries its HTTP heartbeats (which need only the broker).
    web_pool_timeout_s: float = Field(default=0.5, gt=0)
    web_store_retry_after_s: int = Field(default=5, ge=1)
    device_token_grace_s: int = Field(default=900, ge=0)

    @model_validator(mode="after")
    def _production_needs_secrets(self) -> Settings:
        if self.environment == "production" and (
            self.secret_key is None or len(self.secret_key.get_secret_value()) < 32
        ):
            raise ValueError("FLEETHUB_SECRET_KEY (32+ characters) is required in production")
        return self

    def mqtt_target(self) -> MqttTarget | None:
        return parse_mqtt_url(self.mqtt_url) if self.mqtt_url else None

    @property
    def broker_dir(self) -> Path:
        return self.var_dir / "broker"

    @property
    def pgdata_dir(self) -> Path:
        return self.var_dir / "pgdata"
