"""Errors the simulator raises on purpose; the MQTT client's own are re-exported."""

from __future__ import annotations

from broker.mqttwire.errors import (
    AckTimeout,
    Backpressure,
    ConnectFailed,
    ConnectionLost,
    MqttWireError,
    ProtocolError,
)
from config.errors import HubError

__all__ = [
    "AckTimeout",
    "Backpressure",
    "ConnectFailed",
    "ConnectionLost",
    "MqttWireError",
    "ProtocolError",
    "SimulatorError",
]


class SimulatorError(HubError):
    """Base of the simulator's own errors (fleet and tablet misuse, limits)."""
