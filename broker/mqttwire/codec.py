"""MQTT 5 packets from the ``mqtt5`` codec (Rust, sans-I/O) and a stream decoder around it.

``mqtt5`` builds, validates, writes and reads every MQTT 5 packet with its
properties; this module gives its packet classes the names the hub uses and
adds what a socket needs: :class:`Decoder` keeps the start of a packet that a
read cut short and refuses a packet past the size limit.
"""

from __future__ import annotations

import mqtt5
from mqtt5 import (
    ConnAckReasonCode,
    DisconnectReasonCode,
    PubAckReasonCode,
    QoS,
    SubAckReasonCode,
    TopicFilter,
    Will,
)

from broker.mqttwire.errors import ProtocolError

__all__ = [
    "DISCONNECT_BYTES",
    "FIXED_HEADER_MAX",
    "PINGREQ_BYTES",
    "ConnAck",
    "ConnAckReasonCode",
    "Connect",
    "Decoder",
    "Disconnect",
    "DisconnectReasonCode",
    "Packet",
    "PingReq",
    "PingResp",
    "PubAck",
    "PubAckReasonCode",
    "Publish",
    "QoS",
    "SubAck",
    "SubAckReasonCode",
    "Subscribe",
    "TopicFilter",
    "Will",
]

Packet = mqtt5.Packet
ConnAck = mqtt5.ConnAckPacket
Connect = mqtt5.ConnectPacket
Disconnect = mqtt5.DisconnectPacket
PingReq = mqtt5.PingReqPacket
PingResp = mqtt5.PingRespPacket
PubAck = mqtt5.PubAckPacket
Publish = mqtt5.PublishPacket
SubAck = mqtt5.SubAckPacket
Subscribe = mqtt5.SubscribePacket

FIXED_HEADER_MAX = 5  # one type byte and at most four remaining-length bytes
PINGREQ_BYTES = PingReq().write()
DISCONNECT_BYTES = Disconnect().write()


class Decoder:
    """Turn a byte stream into packets; keeps a partial packet until the rest arrives."""

    __slots__ = ("_buffer", "max_packet_bytes")

    def __init__(self, max_packet_bytes: int = 256 * 1024) -> None:
        self._buffer = bytearray()
        self.max_packet_bytes = max_packet_bytes

    @property
    def pending(self) -> int:
        """Bytes held back as the start of an incomplete packet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Packet]:
        """Add bytes as they were read; return every packet they complete, in order."""
        buffer = self._buffer
        source: bytes | bytearray = data
        if buffer:
            buffer += data
            source = buffer
        packets: list[Packet] = []
        start = 0
        with memoryview(source) as view:
            end = len(view)
            while start < end:
                try:
                    packet, used = mqtt5.read(view[start:])
                except IndexError:  # ``mqtt5``: not enough bytes for the whole packet yet
                    break
                except ValueError as exc:
                    raise ProtocolError(f"malformed packet: {exc}") from exc
                except BaseException as exc:
                    # mqtt5 0.8.0 panics (pyo3's PanicException, a BaseException) on some
                    # malformed strings, e.g. a topic that is not UTF-8, instead of raising
                    # ValueError. A panic is the packet's fault too; anything else goes on.
                    if type(exc).__name__ != "PanicException":
                        raise
                    raise ProtocolError(f"malformed packet: {exc}") from exc
                if used > self.max_packet_bytes + FIXED_HEADER_MAX:
                    raise ProtocolError(f"packet of {used} bytes exceeds {self.max_packet_bytes}")
                packets.append(packet)
                start += used
        rest = end - start
        if rest > self.max_packet_bytes + FIXED_HEADER_MAX:
            raise ProtocolError(f"packet of more than {rest} bytes exceeds {self.max_packet_bytes}")
        if source is buffer:
            del buffer[:start]
        elif rest:
            buffer += data[start:]
        return packets
