"""The panel's ``/metrics`` for Prometheus: HTTP requests by route and status, live feeds, pushes.

Requests are labelled by the route's template (``/api/v1/tablets/{tablet_id}``), never by the
raw path, and unknown methods fold into ``other``, so the series stay bounded whatever clients
send; a path no route matches is ``(unmatched)``. Durations run to the response's last byte;
live streams (``text/event-stream``) are counted but kept out of the duration histogram.

Not public in production: with ``FLEETHUB_METRICS_TOKEN`` set, a scrape must send it as a
bearer token; in production without one, ``/metrics`` answers 404. In local mode without a
token it is open (the panel is bound to loopback by default).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.datastructures import State
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config.settings import Settings
from hub.prometheus import bearer_matches

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "(unmatched)"
FEEDS = {"tiles": "feed", "leads": "lead_feed"}  # label → app.state attribute

router = APIRouter(include_in_schema=False)


class PanelCollector(Collector):
    """What the panel's long-lived parts hold, read at scrape time from ``app.state``."""

    def __init__(self, state: State) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        info = InfoMetricFamily("fleethub_panel", "this panel process")
        settings = getattr(self._state, "settings", None)
        info.add_metric([], {"environment": getattr(settings, "environment", "unknown")})
        yield info
        subscribers = GaugeMetricFamily(
            "fleethub_panel_feed_subscribers",
            "live-feed (SSE) subscribers, by feed",
            labels=["feed"],
        )
        overflows = CounterMetricFamily(
            "fleethub_panel_feed_overflows",
            "live-feed subscribers that fell behind and were told to resync, by feed",
            labels=["feed"],
        )
        for label, attribute in FEEDS.items():
            feed = getattr(self._state, attribute, None)
            if feed is not None:
                subscribers.add_metric([label], feed.subscribers)
                overflows.add_metric([label], feed.overflows)
        yield subscribers
        yield overflows
        pushes = CounterMetricFamily(
            "fleethub_panel_push_deliveries",
            "Web Push deliveries to agents, by outcome (sent, retried, gone, gave_up, closed)",
            labels=["outcome"],
        )
        sender = getattr(self._state, "push_sender", None)
        if sender is not None:
            for outcome, n in sorted(sender.outcomes.items()):
                pushes.add_metric([outcome], n)
        yield pushes


class PanelMetrics:
    def __init__(self, state: State) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "fleethub_http_requests",
            "HTTP requests, by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "fleethub_http_request_duration_seconds",
            "time to the last byte of the response, by route (live streams excluded)",
            ["method", "route"],
            registry=self.registry,
        )
        self.registry.register(PanelCollector(state))
        ProcessCollector(registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float | None) -> None:
        method = method if method in METHODS else "other"
        self.requests.labels(method, route, str(status)).inc()
        if seconds is not None:
            self.duration.labels(method, route).observe(seconds)


def route_template(scope: Scope) -> str:
    """The matched route's path template (a mount's prefix), or ``(unmatched)``."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class RequestMetrics:
    """ASGI middleware: counts each HTTP request once it ends, with the status it answered."""

    def __init__(self, app: ASGIApp, metrics: PanelMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status, stream = 500, False  # no response started: the server answers 500

        async def send_and_note(message: Message) -> None:
            nonlocal status, stream
            if message["type"] == "http.response.start":
                status = int(message["status"])
                content_type = dict(message.get("headers", ())).get(b"content-type", b"")
                stream = content_type.startswith(b"text/event-stream")
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            elapsed = None if stream else time.perf_counter() - started
            self.metrics.observe(scope["method"], route_template(scope), status, elapsed)


def install(app: FastAPI) -> None:
    """The request middleware and ``GET /metrics`` (outside the OpenAPI schema)."""
    app.state.metrics = metrics = PanelMetrics(app.state)
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.include_router(router)


@router.get("/metrics")
async def scrape(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if settings.metrics_token is None:
        if settings.environment == "production":
            raise HTTPException(404)  # never public in production
    elif not bearer_matches(
        request.headers.get("authorization"), settings.metrics_token.get_secret_value()
    ):
        raise HTTPException(401, headers={"WWW-Authenticate": "Bearer"})
    metrics: PanelMetrics = request.app.state.metrics
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
