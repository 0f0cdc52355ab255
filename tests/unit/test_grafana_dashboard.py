"""docs/grafana-fleethub.json: valid, and every expression reads metrics the exporters expose."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from config.settings import MqttTarget, Settings
from hub.runtime import Hub
from web.app import create_app

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana-fleethub.json"
# Every metric the dashboard reads is one of ours or prometheus-client's process collector's.
METRIC = re.compile(r"\b(?:fleethub|process)_[a-z0-9_]+\b")
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "info": ("_info",),
    "gauge": ("",),
}


def exposed(registry: CollectorRegistry) -> set[str]:
    """Sample names a scrape can hold, also of families with no sample yet (no label key)."""
    names: set[str] = set()
    for family in registry.collect():
        names.update(s.name for s in family.samples)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


async def test_every_expression_reads_exposed_metrics(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, hub_metrics_port=9464)  # built, never started
    url = "postgresql://unused@127.0.0.1:1/none"
    hub = Hub(settings, url, MqttTarget(host="127.0.0.1", port=1))
    assert hub.exporter is not None
    app = create_app(settings, url)
    names = exposed(hub.exporter.registry) | exposed(app.state.metrics.registry)

    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "fleethub"
    every = list(panels(dashboard["panels"]))
    assert len({p["id"] for p in every}) == len(every), "panel ids repeat"
    expressions = [t["expr"] for p in every for t in p.get("targets", [])]
    expressions += [
        v["query"]["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"
    ]
    assert len(expressions) > 20
    read: set[str] = set()
    for expr in expressions:
        used = set(METRIC.findall(expr))
        assert used, f"no fleethub metric in {expr!r}"
        assert used <= names, f"{expr!r} reads {sorted(used - names)}, not exposed"
        read |= used
    # The counters the issue names are all on the dashboard.
    for wanted in (
        "fleethub_hub_received_total",
        "fleethub_hub_rejected_total",
        "fleethub_hub_dropped_total",
        "fleethub_hub_db_outages_total",
        "fleethub_hub_store_backlog",
        "fleethub_hub_publish_failures_total",
        "fleethub_hub_reconnects_total",
        "fleethub_hub_inbox_backlog",
        "fleethub_http_requests_total",
    ):
        assert wanted in read, wanted
    for panel in every:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
