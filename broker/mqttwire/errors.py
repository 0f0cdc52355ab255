"""Errors of the minimal MQTT client; OS and timeout errors are translated on entry."""

from __future__ import annotations

from config.errors import HubError


class MqttWireError(HubError):
    """Base of the minimal MQTT client's errors."""


class ProtocolError(MqttWireError):
    """Bytes that are not a well-formed MQTT 3.1.1 packet, or a packet out of place."""


class ConnectFailed(MqttWireError):
    """The TCP connection or the MQTT CONNECT did not succeed.

    ``return_code`` is the CONNACK code when the broker refused, else ``None``.
    """

    def __init__(self, message: str, return_code: int | None = None) -> None:
        super().__init__(message)
        self.return_code = return_code


class ConnectionLost(MqttWireError):
    """The connection closed while something was still waiting on it."""


class AckTimeout(MqttWireError, TimeoutError):
    """The broker did not answer (CONNACK, PUBACK, SUBACK) in time."""


class Backpressure(MqttWireError):
    """The connection cannot take another packet right now (write buffer or in-flight full)."""
