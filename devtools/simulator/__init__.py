"""A fleet of simulated tablets on a minimal MQTT 5 client, for load tests and benchmarks.

Only loopback brokers (127.0.0.0/8) are reachable. See :class:`SimFleet`.
"""

from broker.mqttwire.codec import Decoder, Packet, Will
from broker.mqttwire.connection import MqttConnection
from devtools.simulator.content import ContentConfig, TabletContent
from devtools.simulator.errors import (
    AckTimeout,
    Backpressure,
    ConnectFailed,
    ConnectionLost,
    ProtocolError,
    SimulatorError,
)
from devtools.simulator.fleet import BlastResult, ChurnConfig, SentHook, SimFleet, ensure_fd_limit
from devtools.simulator.payloads import Manifest, ManifestItem
from devtools.simulator.stats import FleetStats
from devtools.simulator.tablet import PlaylistHook, SimTablet, TabletConfig

__all__ = [
    "AckTimeout",
    "Backpressure",
    "BlastResult",
    "ChurnConfig",
    "ConnectFailed",
    "ConnectionLost",
    "ContentConfig",
    "Decoder",
    "FleetStats",
    "Manifest",
    "ManifestItem",
    "MqttConnection",
    "Packet",
    "PlaylistHook",
    "ProtocolError",
    "SentHook",
    "SimFleet",
    "SimTablet",
    "SimulatorError",
    "TabletConfig",
    "TabletContent",
    "Will",
    "ensure_fd_limit",
]
