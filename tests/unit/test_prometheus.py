"""The hub's Prometheus collector and exporter settings, without a running hub."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from config.errors import ConfigError
from config.settings import Settings
from hub.metrics import HubMetrics
from hub.prometheus import Gauge, bearer_matches, hub_exporter, hub_registry


@dataclass
class LaterMetrics(HubMetrics):
    """Counters another change adds to HubMetrics: exported with no wiring in the collector."""

    handler_errors: int = 0
    loop_errors: Counter[str] = field(default_factory=Counter, metadata={"label": "loop"})
    connected_tablets: int = field(default=0, metadata={"kind": "gauge"})


def test_every_field_is_exported_with_its_kind_and_label(tmp_path: Path) -> None:
    m = LaterMetrics(received=7, handler_errors=2, connected_tablets=5)
    m.reject("invalid_json")
    m.dropped["plays_queue_overflow"] += 3
    m.loop_errors["reconcile"] += 1
    registry = hub_registry(
        m, [Gauge("inbox_backlog", "waiting", lambda: 4)], Settings(var_dir=tmp_path)
    )
    families = {
        f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())
    }
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families.values()
        for s in f.samples
    }
    assert samples["fleethub_hub_received_total", ()] == 7
    assert samples["fleethub_hub_handler_errors_total", ()] == 2
    assert samples["fleethub_hub_rejected_total", (("reason", "invalid_json"),)] == 1
    assert samples["fleethub_hub_dropped_total", (("cause", "plays_queue_overflow"),)] == 3
    assert samples["fleethub_hub_loop_errors_total", (("loop", "reconcile"),)] == 1
    assert families["fleethub_hub_connected_tablets"].type == "gauge"
    assert samples["fleethub_hub_connected_tablets", ()] == 5
    assert samples["fleethub_hub_inbox_backlog", ()] == 4
    assert families["fleethub_hub_reconnects"].type == "counter"  # present before any reconnect


def production(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        var_dir=tmp_path,
        environment="production",
        secret_key=SecretStr("s" * 40),
        hub_metrics_port=9464,
        **extra,  # type: ignore[arg-type]
    )


def test_a_public_address_needs_a_token_in_production(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="FLEETHUB_METRICS_TOKEN"):
        hub_exporter(HubMetrics(), [], production(tmp_path, hub_metrics_host="0.0.0.0"))
    assert hub_exporter(HubMetrics(), [], production(tmp_path)) is not None  # loopback
    guarded = production(tmp_path, hub_metrics_host="0.0.0.0", metrics_token=SecretStr("t" * 32))
    assert hub_exporter(HubMetrics(), [], guarded) is not None


def test_off_by_default_and_one_port_per_shard(tmp_path: Path) -> None:
    assert hub_exporter(HubMetrics(), [], Settings(var_dir=tmp_path)) is None
    shard = Settings(var_dir=tmp_path, hub_metrics_port=9464, shard_count=3, shard_index=2)
    exporter = hub_exporter(HubMetrics(), [], shard)
    assert exporter is not None
    assert exporter.port == 9466


def test_bearer_token_comparison() -> None:
    assert bearer_matches("Bearer abc", "abc")
    assert bearer_matches("bearer abc", "abc")
    assert not bearer_matches("Bearer abd", "abc")
    assert not bearer_matches("Basic abc", "abc")
    assert not bearer_matches(None, "abc")
    assert not bearer_matches("Bearer ünïcode", "abc")
