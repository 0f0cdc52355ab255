"""The hub's counters for Prometheus: :class:`HubMetrics` read at scrape time, served over HTTP.

The collector is generic over HubMetrics' fields, so a counter added there is exported
without wiring: an int field ``x`` becomes the counter ``fleethub_hub_x_total``, a ``Counter``
field one counter with a label per key (the field's ``label`` metadata, default ``reason``),
and a field marked ``kind="gauge"`` a gauge. The current depths (inbox, store writer, publish,
plays) are gauges the hub hands over as callables. Nothing is copied on the hot path: a scrape
reads the live object on the event loop (aiohttp, prometheus-client's own handler), so it never
races the code that counts.

Each hub process serves its own ``/metrics`` on ``FLEETHUB_HUB_METRICS_HOST`` and
``FLEETHUB_HUB_METRICS_PORT`` + shard index (0: off). Bound to loopback by default; with
``FLEETHUB_METRICS_TOKEN`` set a scrape must send it as a bearer token, and in production a
non-loopback address without a token is refused at start.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import ipaddress
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.aiohttp import make_aiohttp_handler
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from config.errors import ConfigError
from config.settings import Settings
from hub.metrics import HubMetrics

log = logging.getLogger(__name__)

PREFIX = "fleethub_hub_"

# Help texts of the fields known today; a field added later is exported with a generic one.
HELP = {
    "received": "MQTT messages received from tablets",
    "heartbeats_committed": "heartbeats written to the store",
    "rows_committed": "rows written to the store (heartbeats, states, transitions, incidents)",
    "published": "messages the broker acknowledged (manifests, alerts, acks)",
    "publish_failures": "publishes not acknowledged (sent again on the next session)",
    "rejected": "messages rejected, by reason",
    "dropped": "rows or messages dropped, by cause (overflows, store refusals, shutdown)",
    "reconnects": "MQTT sessions re-established after a loss, by session",
    "write_errors": "store writes refused (the rows are counted in dropped)",
    "db_outages": "times the store became unreachable",
    "plays_received": "proof-of-play events in well-formed batches of known tablets",
    "plays_committed": "proof-of-play events stored for the first time",
    "plays_duplicate": "proof-of-play events already stored (resends, retries)",
    "plays_rejected": "invalid proof-of-play events",
}


@dataclass(frozen=True, slots=True)
class Gauge:
    """A current value the hub reads at scrape time (``fleethub_hub_<name>``)."""

    name: str
    help: str
    read: Callable[[], float]


class HubCollector(Collector):
    def __init__(self, metrics: HubMetrics, gauges: Iterable[Gauge], info: Mapping[str, str]):
        self._metrics = metrics
        self._gauges = list(gauges)
        self._info = dict(info)

    def collect(self) -> Iterator[Metric]:
        info = InfoMetricFamily(PREFIX.rstrip("_"), "this hub process")
        info.add_metric([], self._info)
        yield info
        for f in dataclasses.fields(self._metrics):
            value = getattr(self._metrics, f.name)
            doc = HELP.get(f.name, f"HubMetrics.{f.name}")
            if isinstance(value, Mapping):
                label = str(f.metadata.get("label", "reason"))
                family = CounterMetricFamily(PREFIX + f.name, doc, labels=[label])
                for key, n in sorted(dict(value).items()):
                    family.add_metric([str(key)], float(n))
                yield family
            elif f.metadata.get("kind") == "gauge":
                yield GaugeMetricFamily(PREFIX + f.name, doc, value=float(value))
            elif isinstance(value, int | float):
                yield CounterMetricFamily(PREFIX + f.name, doc, value=float(value))
        for g in self._gauges:
            yield GaugeMetricFamily(PREFIX + g.name, g.help, value=float(g.read()))


def hub_registry(
    metrics: HubMetrics, gauges: Iterable[Gauge], settings: Settings
) -> CollectorRegistry:
    """The hub's counters and gauges, and the process's CPU and memory (``process_*``)."""
    registry = CollectorRegistry()
    info = {
        "shard_index": str(settings.shard_index),
        "shard_count": str(settings.shard_count),
        "client_id": settings.hub_client_id,
    }
    registry.register(HubCollector(metrics, gauges, info))
    ProcessCollector(registry=registry)
    return registry


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class MetricsExporter:
    """``GET /metrics`` of one hub process, served until cancelled."""

    def __init__(self, registry: CollectorRegistry, settings: Settings) -> None:
        self.host = settings.hub_metrics_host
        self.port = settings.hub_metrics_port + settings.shard_index
        token = settings.metrics_token
        self._token = token.get_secret_value() if token is not None else None
        if (
            settings.environment == "production"
            and self._token is None
            and not is_loopback(self.host)
        ):
            raise ConfigError(
                f"FLEETHUB_HUB_METRICS_HOST={self.host} is not a loopback address:"
                " set FLEETHUB_METRICS_TOKEN so the hub's metrics are not public"
            )
        self.registry = registry
        self.serving = asyncio.Event()

    async def run(self) -> None:
        token = self._token

        @web.middleware
        async def authorize(request: web.Request, handler: Handler) -> web.StreamResponse:
            if token is not None and not bearer_matches(
                request.headers.get("Authorization"), token
            ):
                raise web.HTTPUnauthorized(headers={"WWW-Authenticate": "Bearer"})
            return await handler(request)

        app = web.Application(middlewares=[authorize])
        app.router.add_get("/metrics", make_aiohttp_handler(self.registry))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            try:
                await web.TCPSite(runner, self.host, self.port).start()
            except OSError as exc:
                raise ConfigError(
                    f"cannot serve metrics on {self.host}:{self.port}: {exc}"
                ) from exc
            log.info("metrics on http://%s:%d/metrics", self.host, self.port)
            self.serving.set()
            await asyncio.Future()  # until cancelled
        finally:
            self.serving.clear()
            await runner.cleanup()


def bearer_matches(header: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time."""
    scheme, _, given = (header or "").partition(" ")
    matches = hmac.compare_digest(given.strip().encode(), token.encode())
    return scheme.lower() == "bearer" and matches


def hub_exporter(
    metrics: HubMetrics, gauges: Iterable[Gauge], settings: Settings
) -> MetricsExporter | None:
    """The exporter of this hub process, or None when ``FLEETHUB_HUB_METRICS_PORT`` is 0."""
    if settings.hub_metrics_port == 0:
        return None
    return MetricsExporter(hub_registry(metrics, gauges, settings), settings)
