"""Settings read from the environment (``FLEETHUB_*``), built once at the entry point."""

from __future__ import annotations

import ssl
from ipaddress import ip_network
from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.health import DEFAULT_HEALTH, HealthPolicy
from config.tls import client_context

# Passwords that production refuses in a URL: those published in docker-compose.yml before
# it required them, and the obvious ones. Any password containing "dev-only" is refused too.
KNOWN_DEFAULT_PASSWORDS = frozenset(
    {
        "dev-only-postgres-password",
        "dev-only-hub-mqtt-password",
        "password",
        "changeme",
        "secret",
        "postgres",
        "fleethub",
        "mosquitto",
        "admin",
    }
)
MIN_SERVICE_PASSWORD = 16


MQTT_PORT, MQTTS_PORT = 1883, 8883
# URL schemes of a plain and of a TLS broker address (paho's and mosquitto_sub's spellings too).
PLAIN_SCHEMES, TLS_SCHEMES = ("mqtt", "tcp"), ("mqtts", "ssl")


class MqttTarget(BaseModel):
    """Where and as whom the hub connects to the broker; ``tls``: over TLS (``mqtts://``),
    trusting ``ca_file`` (PEM) or, when None, the system's CAs."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: Path | None = None

    def url(self) -> str:
        """The ``mqtt[s]://user:password@host:port`` form (the inverse of
        :func:`parse_mqtt_url`, except for the CA file, which is a setting of its own)."""
        auth = ""
        if self.username:
            auth = quote(self.username, safe="")
            if self.password:
                auth += ":" + quote(self.password, safe="")
            auth += "@"
        scheme = "mqtts" if self.tls else "mqtt"
        return f"{scheme}://{auth}{self.host}:{self.port}"

    def address(self) -> str:
        """The broker's address without credentials (what a pairing tablet is given)."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def ssl_context(self) -> ssl.SSLContext | None:
        """The client TLS context of an ``mqtts://`` target; None for plain MQTT."""
        return client_context(self.ca_file) if self.tls else None

    def as_account(self, username: str) -> MqttTarget:
        """The same broker and password, logging in as ``username`` (an account is bound to
        the client id of the same name, so each session has its own)."""
        return self.model_copy(update={"username": username})


def parse_mqtt_url(url: str, ca_file: Path | None = None) -> MqttTarget:
    """Parse ``mqtt://user:password@host:port`` (or ``mqtts://…``, over TLS, port 8883 by
    default) into a :class:`MqttTarget`; ``ca_file`` is the CA a TLS target trusts."""
    parts = urlsplit(url)
    if parts.scheme not in PLAIN_SCHEMES + TLS_SCHEMES:
        raise ValueError(f"an MQTT URL must start with mqtt:// or mqtts://, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"the MQTT URL has no host: {url!r}")
    tls = parts.scheme in TLS_SCHEMES
    return MqttTarget(
        host=parts.hostname,
        port=parts.port or (MQTTS_PORT if tls else MQTT_PORT),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
        ca_file=ca_file if tls else None,
    )


class Settings(BaseSettings):
    """Everything fleethub reads from its environment.

    ``database_url`` and ``mqtt_url`` left unset mean "manage them myself":
    ``fleethub up`` then runs an embedded PostgreSQL and a Mosquitto child
    process with their data under ``var_dir``.
    """

    model_config = SettingsConfigDict(env_prefix="FLEETHUB_", extra="ignore")

    database_url: str | None = None
    # mqtt://user:password@host:port, or mqtts://… over TLS (checked against the system's
    # CAs, or mqtt_ca_file's; the certificate must name the URL's host).
    mqtt_url: str | None = None
    mqtt_ca_file: Path | None = None
    var_dir: Path = Path("var")

    web_host: str = "127.0.0.1"
    web_port: int = 8080
    # The embedded broker and database of `fleethub up` (unused when the URLs are set).
    broker_host: str = "127.0.0.1"
    broker_port: int = 11883
    db_port: int = 15432

    # The broker address a tablet is given when it pairs (mqtt://host:port or mqtts://…);
    # default: the host and port of FLEETHUB_MQTT_URL or of the embedded broker.
    device_mqtt_url: str | None = None
    claim_attempts_per_window: int = Field(default=10, ge=1)  # failed claims per address
    # MQTT client id prefix; the shard index is appended. The session is persistent.
    hub_client_id: str = "fleethub-hub"
    # MQTT 5 session expiry of the hub's tablet session: how long the broker keeps its
    # subscriptions and queues QoS 1 messages for it while the hub is away. A hub back
    # later finds no session and publishes every manifest again.
    hub_session_expiry_s: int = Field(default=7 * 86_400, ge=0, le=0xFFFFFFFF)
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
    # Proof of play (tablets/{id}/plays, store/plays.py): a batch may be larger than other
    # payloads (up to 500 events); the broker's max_packet_size leaves room for it.
    play_max_payload_bytes: int = Field(default=160 * 1024, ge=1024)
    play_clock_skew_s: int = Field(default=300, ge=0)  # started_at this far ahead is accepted
    play_retention_days: int = Field(default=90, ge=1)  # older plays are rejected, then deleted
    # Play batches waiting for the store (e.g. through an outage), bounded in number and in
    # payload bytes; past either the oldest, unacknowledged, is dropped (docs/operations.md).
    play_queue_max: int = Field(default=50_000, ge=1)
    play_queue_max_bytes: int = Field(default=128 * 1024 * 1024, ge=1024)
    # After the broker lost its retained state (a crash, a new broker), the hub publishes
    # every owned tablet's manifest again at this pace (hub/runtime.py _republish_loop).
    manifest_republish_per_s: int = Field(default=1000, ge=10)

    # The panel. "production" refuses to start without an explicit secret key, or with a
    # missing, published or short password in a service URL (_weak_password).
    environment: Literal["local", "production"] = "local"
    # Signs API tokens; unset in local mode: generated once and kept in var_dir/panel.secret.
    secret_key: SecretStr | None = None
    session_hours: int = Field(default=12, ge=1)
    api_token_minutes: int = Field(default=60, ge=1)
    cookie_secure: bool = False  # set behind TLS; default true in production (see below)
    # The panel's address as passengers reach it (QR codes link to {public_base_url}/l/{code});
    # default: the address of the admin's request.
    public_base_url: str | None = None
    # The public lead form's rate limits: submissions per 10 minutes per client address
    # (loose: passengers share carrier NAT addresses) and per QR code.
    lead_submits_per_client: int = Field(default=20, ge=1)
    lead_submits_per_code: int = Field(default=30, ge=1)
    max_upload_bytes: int = Field(default=256 * 1024, ge=1024)
    # Web Push to lead agents (web/agents/push_sender.py): the VAPID private key (PEM, or
    # base64url of the raw or DER key); unset: generated once and kept in var_dir/vapid.pem
    # (mode 600).
    vapid_private_key: SecretStr | None = None
    # Every panel process runs a Web Push sender (deliveries are claimed once, whichever
    # process sends them, so they must all share one VAPID key); false: this one does not.
    web_push_sender: bool = True
    # Who push services may contact about our pushes: a mailto: or https: URL.
    vapid_subject: str = Field(
        default="mailto:fleethub@example.com", pattern=r"^(mailto:\S+@\S+|https://\S+)$"
    )
    # Prometheus (hub/prometheus.py, web/http/metrics.py): each hub process serves /metrics on
    # this host and port + its shard index (0: off); the panel serves /metrics on its own port.
    # With a token set, a scrape must send it as a bearer token; in production the panel's
    # /metrics answers only then (404 without), and the hub refuses a non-loopback host without.
    hub_metrics_port: int = Field(default=0, ge=0, le=65535)
    hub_metrics_host: str = "127.0.0.1"
    metrics_token: SecretStr | None = None

    # Sign-in throttle (web/auth/throttle.py): wrong passwords for one account from one
    # address delay that pair's next try, doubling up to this cap; failures per address
    # (any account) per 5 minutes before the address must wait.
    login_delay_max_s: float = Field(default=300.0, gt=0)
    login_failures_per_client: int = Field(default=30, ge=1)
    # Reverse proxies whose X-Forwarded-For/-Proto the panel believes: addresses or networks,
    # comma-separated ("10.0.0.5,172.16.0.0/12"). Empty: the connecting address is the client.
    trusted_proxies: str = ""
    # The OpenAPI pages /docs, /redoc and /openapi.json; unset: on in local mode, off in
    # production. The session cookie's Secure flag (cookie_secure) is on by default there too.
    api_docs: bool | None = None
    # The map's tiles (/map): an http(s) URL template with {z}, {x} and {y} (and perhaps
    # {s} for a subdomain); empty: the map shows tablets on a plain background. Its origin is
    # the one image source the map page's Content-Security-Policy adds (web/http/headers.py).
    map_tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    map_tile_attribution: str = "© OpenStreetMap contributors"

    @field_validator("map_tile_url")
    @classmethod
    def _tile_template(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        parts = urlsplit(value.replace("{s}", "s"))
        placeholders = all(p in value for p in ("{z}", "{x}", "{y}"))
        if parts.scheme not in ("http", "https") or not parts.hostname or not placeholders:
            raise ValueError(
                "FLEETHUB_MAP_TILE_URL: an http(s) URL with {z}, {x} and {y},"
                " like https://tile.openstreetmap.org/{z}/{x}/{y}.png (or empty: no tiles)"
            )
        return value

    def map_tile_origin(self) -> str | None:
        """Where the map's tiles come from, as a CSP source (``{s}`` subdomains: ``*.``)."""
        if not self.map_tile_url:
            return None
        parts = urlsplit(self.map_tile_url.replace("{s}", "s"))
        host = parts.netloc.rsplit("@", 1)[-1]
        if self.map_tile_url.split("//", 1)[1].startswith("{s}."):
            host = "*." + host.split(".", 1)[1]
        return f"{parts.scheme}://{host}"

    # The media library (media/, docs/operations.md "Media"): where the files are kept —
    # unset: the local disk under var_dir/media; s3://bucket/prefix: an S3-compatible store
    # (endpoint, region and keys below, else the AWS_* environment); file:///path: a directory.
    media_store: str | None = Field(default=None, pattern=r"^(s3|file)://\S+$")
    media_s3_endpoint: str | None = None  # e.g. http://minio:9000 (http:// is allowed)
    # The address tablets reach the store at, for their pre-signed URLs (default: the above).
    media_s3_public_endpoint: str | None = None
    media_s3_region: str = "us-east-1"
    media_s3_access_key_id: str | None = None
    media_s3_secret_access_key: SecretStr | None = None
    media_max_bytes: int = Field(default=1024**3, ge=1024)  # one upload, refused past this
    # Tablets' download URLs: valid this long, renewed by the hub at half of it.
    media_url_ttl_s: int = Field(default=86_400, ge=60)
    # Where tablets reach the panel's GET /media/{sha256}; default: public_base_url, else
    # http://web_host:web_port. A CDN in front of it: its base URL (same paths and tokens).
    media_base_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    media_cdn_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    # Media no playlist, assignment or push has referenced for this long are deleted.
    media_retention_days: int = Field(default=30, ge=1)
    # Tablets' screenshots (remote commands) are deleted, files and all, after this long.
    screenshot_retention_days: int = Field(default=30, ge=1)

    # Campaigns (issue 14, docs/campaigns.md). A tablet enters a zone on one fix inside it and
    # leaves after this many fixes outside in a row, or once the first of them is this old; a
    # fix this old is no position (zone campaigns stop, the others play on).
    campaign_leave_fixes: int = Field(default=3, ge=1)
    campaign_leave_after_s: float = Field(default=60.0, gt=0)
    campaign_position_stale_s: float = Field(default=300.0, gt=0)
    # Pacing (hub shard 0): how often, how much a campaign may overshoot its daily goal, and
    # how far behind-schedule weights may be raised.
    campaign_pacing_interval_s: float = Field(default=60.0, gt=0)
    campaign_pacing_margin: float = Field(default=0.05, ge=0, le=1)
    campaign_max_boost: float = Field(default=4.0, ge=1, le=20)
    # Health incidents (actors/rules/health.py): every fleet's policy unless the fleet overrides
    # a threshold (panel, fleet page). See config/health.py for what each one means.
    health_low_storage_mb: int = Field(default=DEFAULT_HEALTH.low_storage_mb, ge=0)
    health_crash_loop_boots: int = Field(default=DEFAULT_HEALTH.crash_loop_boots, ge=2)
    health_playback_stuck_factor: float = Field(default=DEFAULT_HEALTH.playback_stuck_factor, ge=1)
    health_not_charging_s: int = Field(default=DEFAULT_HEALTH.not_charging_s, ge=0)
    health_clock_skew_s: int = Field(default=DEFAULT_HEALTH.clock_skew_s, ge=1)
    health_min_app_version: str | None = None
    health_clear_s: int = Field(default=DEFAULT_HEALTH.clear_s, ge=0)

    # Alert channels (hub/notify/, docs/device-ops.md): hub shard 0 sends every subscription's
    # alerts. E-mail through this SMTP server (smtp://user:password@host:port; STARTTLS unless
    # smtp_starttls is false, checked against smtp_ca_file or the system's CAs); unset: e-mail
    # subscriptions fail with "not configured". Telegram through this bot (its token) and API.
    smtp_url: SecretStr | None = None
    smtp_from: str = Field(default="fleethub <alerts@localhost>", min_length=3, max_length=200)
    smtp_starttls: bool = True
    smtp_ca_file: Path | None = None
    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = Field(default="https://api.telegram.org", pattern=r"^https?://\S+$")
    # A message's sending: attempts, then the first and the longest wait between them.
    alert_send_attempts: int = Field(default=6, ge=1, le=50)
    alert_retry_initial_s: float = Field(default=1.0, gt=0)
    alert_retry_max_s: float = Field(default=300.0, gt=0)
    alert_send_timeout_s: float = Field(default=15.0, gt=0)
    # The demo's mail catcher (fleethub up): the panel's alert settings link to its inbox.
    demo_mailbox_url: str | None = None

    def panel_origin(self) -> str:
        """The panel's address in links sent out (alert e-mails): the public one, else the
        host and port it listens on."""
        base = self.public_base_url
        if not base:
            host = "127.0.0.1" if self.web_host in ("0.0.0.0", "::") else self.web_host
            base = f"http://{host}:{self.web_port}"
        return base.rstrip("/")

    def health_policy(self) -> HealthPolicy:
        """The default health policy of every fleet (validated as a fleet's override is)."""
        return HealthPolicy().merged(
            {
                "low_storage_mb": self.health_low_storage_mb,
                "crash_loop_boots": self.health_crash_loop_boots,
                "playback_stuck_factor": self.health_playback_stuck_factor,
                "not_charging_s": self.health_not_charging_s,
                "clock_skew_s": self.health_clock_skew_s,
                "min_app_version": self.health_min_app_version or None,
                "clear_s": self.health_clear_s,
            }
        )

    def media_store_url(self) -> str:
        """The media store's URL: ``s3://…`` or ``file:///…`` (absolute)."""
        if self.media_store:
            return self.media_store
        return (self.var_dir / "media").resolve().as_uri()

    def media_origin(self) -> str:
        """The base URL tablets reach the panel's media route at (no trailing slash)."""
        base = self.media_base_url or self.public_base_url
        if not base:
            host = "127.0.0.1" if self.web_host in ("0.0.0.0", "::") else self.web_host
            base = f"http://{host}:{self.web_port}"
        return base.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        for item in filter(None, (part.strip() for part in value.split(","))):
            try:
                ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"FLEETHUB_TRUSTED_PROXIES: {item!r} is no address or network"
                ) from exc
        return value

    @model_validator(mode="after")
    def _production_defaults(self) -> Settings:
        production = self.environment == "production"
        if "cookie_secure" not in self.model_fields_set:
            self.cookie_secure = production
        if self.api_docs is None:
            self.api_docs = not production
        return self

    # Store outages on the panel (web/http/store_gate.py): a request waits at most this long for a
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
        if self.environment == "production":
            weak = [
                problem
                for name, url in (
                    ("FLEETHUB_DATABASE_URL", self.database_url),
                    ("FLEETHUB_MQTT_URL", self.mqtt_url),
                    ("FLEETHUB_PROVISION_MQTT_URL", self.provision_mqtt_url),
                )
                if (problem := _weak_password(name, url))
            ]
            if weak:
                raise ValueError("production refuses to start: " + "; ".join(weak))
        return self

    @field_validator("mqtt_ca_file", mode="before")
    @classmethod
    def _ca_file(cls, value: object) -> object:
        if value in ("", None):
            return None  # compose passes an unset variable as ""
        if not Path(str(value)).is_file():
            raise ValueError(f"FLEETHUB_MQTT_CA_FILE: no such file {value!r}")
        return value

    @field_validator("mqtt_url", "provision_mqtt_url", "device_mqtt_url")
    @classmethod
    def _mqtt_url(cls, value: str | None) -> str | None:
        if value is not None:
            parse_mqtt_url(value)  # a clear error at start, not at the first connection
        return value

    def mqtt_target(self) -> MqttTarget | None:
        return parse_mqtt_url(self.mqtt_url, self.mqtt_ca_file) if self.mqtt_url else None

    @property
    def broker_dir(self) -> Path:
        return self.var_dir / "broker"

    @property
    def pgdata_dir(self) -> Path:
        return self.var_dir / "pgdata"

    # The panel's MQTT session (HTTP tablets' heartbeats): its client id, and the account of
    # the same name it logs in as (with the password of FLEETHUB_MQTT_URL); one per process.
    web_client_id: str = "fleethub-web"
    # The provisioning account, the only one with $CONTROL rights (pairing, revocation, agent
    # logins): mqtt://fleethub-provision:PASSWORD@host:port. The panel and the CLI use it;
    # the hub does not. Unset: the embedded broker's.
    provision_mqtt_url: str | None = None

    def provision_target(self) -> MqttTarget | None:
        if not self.provision_mqtt_url:
            return None
        return parse_mqtt_url(self.provision_mqtt_url, self.mqtt_ca_file)


def _weak_password(name: str, url: str | None) -> str | None:
    """Why a set URL's password may not be used in production, or None."""
    if url is None:
        return None
    parts = urlsplit(url)
    password = unquote(parts.password) if parts.password else ""
    if not password:
        return f"{name} has no password"
    if password in KNOWN_DEFAULT_PASSWORDS or "dev-only" in password:
        return f"{name} uses a published default password"
    if len(password) < MIN_SERVICE_PASSWORD:
        return f"{name}'s password is shorter than {MIN_SERVICE_PASSWORD} characters"
    return None
