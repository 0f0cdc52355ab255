"""`FleetStats`: the counters a fleet of simulated tablets keeps while it runs."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass


@dataclass(slots=True)
class FleetStats:
    """Plain counters, shared by every tablet of one fleet (one event loop, no locks)."""

    connected: int = 0  # tablets online right now
    connects: int = 0  # sessions that came up
    connect_failures: int = 0
    connections_lost: int = 0  # online sessions the broker or network ended
    drops: int = 0  # abrupt drops the fleet caused (churn, SimFleet.drop)
    heartbeats_sent: int = 0
    acks_sent: int = 0
    publish_failures: int = 0  # not sent (offline, backpressure) or QoS 1 not acknowledged
    playlists_received: int = 0
    playlists_invalid: int = 0
    # content (devtools/simulator/content.py)
    downloads_verified: int = 0
    downloads_failed: int = 0  # attempts that failed (retried)
    downloads_resumed: int = 0  # verified after a Range request continued an attempt
    bytes_downloaded: int = 0
    media_reports_sent: int = 0
    plays: int = 0
    play_batches_sent: int = 0
    play_batches_acked: int = 0

    def record_outcome(self, future: asyncio.Future[None]) -> None:
        """Done callback of a QoS 1 publish: count it if the PUBACK never came."""
        if future.cancelled() or future.exception() is not None:
            self.publish_failures += 1

    def snapshot(self) -> dict[str, int]:
        return asdict(self)
