"""Counters the hub keeps about itself (rejections, drops, throughput)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class HubMetrics:
    """Every field is exported to Prometheus (hub/prometheus.py) without further wiring:
    an int as the counter ``fleethub_hub_<field>_total``, a ``Counter`` as one counter with a
    label per key (named by the field's ``label`` metadata, default ``reason``). A value that
    can go down is marked ``field(default=0, metadata={"kind": "gauge"})``.
    """

    received: int = 0
    heartbeats_committed: int = 0
    rows_committed: int = 0
    published: int = 0
    publish_failures: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter, metadata={"label": "cause"})
    # MQTT sessions re-established after a loss: "tablet", "publish"
    reconnects: Counter[str] = field(default_factory=Counter, metadata={"label": "session"})
    write_errors: int = 0
    db_outages: int = 0
    plays_received: int = 0  # events in well-formed batches of known tablets
    plays_committed: int = 0  # stored for the first time
    plays_duplicate: int = 0  # already stored (a resend or a retry)
    plays_rejected: int = 0  # invalid events (whole batches are in ``rejected``)
    handler_errors: int = 0  # a message whose handler raised (contained to that message)
    loop_errors: Counter[str] = field(default_factory=Counter)  # by long-lived task, retried
    broker_state_lost: int = 0  # reconnects on which the broker had lost session or retained
    manifests_republished: int = 0

    def reject(self, reason: str) -> None:
        self.rejected[reason] += 1

    def as_dict(self) -> dict[str, object]:
        return {
            "received": self.received,
            "heartbeats_committed": self.heartbeats_committed,
            "rows_committed": self.rows_committed,
            "published": self.published,
            "publish_failures": self.publish_failures,
            "rejected": dict(self.rejected),
            "rejected_total": sum(self.rejected.values()),
            "dropped": dict(self.dropped),
            "reconnects": dict(self.reconnects),
            "write_errors": self.write_errors,
            "db_outages": self.db_outages,
            "plays_received": self.plays_received,
            "plays_committed": self.plays_committed,
            "plays_duplicate": self.plays_duplicate,
            "plays_rejected": self.plays_rejected,
            "handler_errors": self.handler_errors,
            "loop_errors": dict(self.loop_errors),
            "broker_state_lost": self.broker_state_lost,
            "manifests_republished": self.manifests_republished,
        }
