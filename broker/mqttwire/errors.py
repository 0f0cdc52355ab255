"""Errors of the minimal MQTT client; OS and timeout errors are translated on entry."""

from __future__ import annotations

from config.errors import HubError


class MqttWireError(HubError):
    """Base of the minimal MQTT client's errors."""


class ProtocolError(MqttWireError):
    """Bytes that are not a well-formed MQTT 5 packet, or a packet out of place."""


class ConnectFailed(MqttWireError):
    """The TCP connection or the MQTT CONNECT did not succeed.

    ``reason_code`` is the CONNACK's MQTT 5 reason code when the broker refused, else ``None``.
    """

    def __init__(self, message: str, reason_code: int | None = None) -> None:
        super().__init__(message)
        self.reason_code = reason_code


class PublishRefused(MqttWireError):
    """The broker answered a QoS 1 PUBLISH with a failure reason code (``reason_code``,
    e.g. 0x87 not authorized): sending it again would be refused again."""

    def __init__(self, message: str, reason_code: int) -> None:
        super().__init__(message)
        self.reason_code = reason_code


class ConnectionLost(MqttWireError):
    """The connection closed while something was still waiting on it."""


class AckTimeout(MqttWireError, TimeoutError):
    """The broker did not answer (CONNACK, PUBACK, SUBACK) in time."""


class Backpressure(MqttWireError):
    """The connection cannot take another packet right now (write buffer, or as many QoS 1
    publishes in flight as the broker's receive maximum)."""
