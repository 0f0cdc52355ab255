"""MQTT 3.1.1 packets the minimal client speaks, their encoding and an incremental decoder.

Only what a tablet needs: CONNECT/CONNACK, PUBLISH (QoS 0/1) and PUBACK,
SUBSCRIBE/SUBACK, PINGREQ/PINGRESP and DISCONNECT. Packets are small frozen
dataclasses; ``encode()`` gives the wire bytes and :class:`Decoder` turns a
byte stream back into packets.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from broker.mqttwire.errors import ProtocolError

MAX_REMAINING_LENGTH = 268_435_455  # four varint bytes, MQTT 3.1.1 section 2.2.3
MAX_STRING_BYTES = 65_535
PROTOCOL_NAME = "MQTT"
PROTOCOL_LEVEL = 4  # 3.1.1

_U16 = struct.Struct("!H")


class PacketType(IntEnum):
    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    SUBSCRIBE = 8
    SUBACK = 9
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14


class ConnackCode(IntEnum):
    ACCEPTED = 0
    UNACCEPTABLE_PROTOCOL_VERSION = 1
    IDENTIFIER_REJECTED = 2
    SERVER_UNAVAILABLE = 3
    BAD_USERNAME_OR_PASSWORD = 4
    NOT_AUTHORIZED = 5


SUBACK_FAILURE = 0x80


# -- primitives ---------------------------------------------------------------


def encode_remaining_length(value: int) -> bytes:
    """Encode the fixed header's remaining length (1 to 4 bytes, 7 bits each)."""
    if not 0 <= value <= MAX_REMAINING_LENGTH:
        raise ValueError(f"remaining length {value} outside 0..{MAX_REMAINING_LENGTH}")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_remaining_length(data: bytes | bytearray, offset: int = 0) -> tuple[int, int] | None:
    """Read a remaining length at ``offset``: ``(value, bytes used)``, or ``None`` if cut short."""
    value = 0
    for index in range(4):
        if offset + index >= len(data):
            return None
        byte = data[offset + index]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value, index + 1
    raise ProtocolError("remaining length longer than four bytes")


def _string(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > MAX_STRING_BYTES or "\x00" in text:
        raise ValueError(f"not an MQTT string: {text[:40]!r}")
    return _U16.pack(len(raw)) + raw


def _binary(raw: bytes) -> bytes:
    if len(raw) > MAX_STRING_BYTES:
        raise ValueError(f"binary field of {len(raw)} bytes exceeds {MAX_STRING_BYTES}")
    return _U16.pack(len(raw)) + raw


def _frame(first_byte: int, body: bytes) -> bytes:
    return bytes((first_byte,)) + encode_remaining_length(len(body)) + body


def _check_packet_id(packet_id: int) -> None:
    if not 1 <= packet_id <= 0xFFFF:
        raise ValueError(f"packet id {packet_id} outside 1..65535")


def _check_qos(qos: int) -> None:
    if qos not in (0, 1, 2):
        raise ValueError(f"QoS {qos} is not 0, 1 or 2")


class _Reader:
    """Cursor over one packet body; running past the end is a :class:`ProtocolError`."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, count: int) -> bytes:
        end = self.pos + count
        if end > len(self.data):
            raise ProtocolError("packet body shorter than its fields")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        value: int = _U16.unpack(self.take(2))[0]
        return value

    def binary(self) -> bytes:
        return self.take(self.u16())

    def string(self) -> str:
        try:
            return self.binary().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("string field is not UTF-8") from exc

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.pos)

    def at_end(self) -> bool:
        return self.pos == len(self.data)


# -- packets ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False

    def __post_init__(self) -> None:
        _check_qos(self.qos)


@dataclass(frozen=True, slots=True)
class Connect:
    client_id: str
    keepalive: int = 60
    clean_session: bool = True
    username: str | None = None
    password: bytes | None = None
    will: Will | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.keepalive <= 0xFFFF:
            raise ValueError(f"keepalive {self.keepalive} outside 0..65535")
        if self.password is not None and self.username is None:
            raise ValueError("MQTT 3.1.1 allows a password only with a username")

    def encode(self) -> bytes:
        flags = 0x02 if self.clean_session else 0
        payload = [_string(self.client_id)]
        if self.will is not None:
            flags |= 0x04 | (self.will.qos << 3) | (0x20 if self.will.retain else 0)
            payload += [_string(self.will.topic), _binary(self.will.payload)]
        if self.username is not None:
            flags |= 0x80
            payload.append(_string(self.username))
        if self.password is not None:
            flags |= 0x40
            payload.append(_binary(self.password))
        header = _string(PROTOCOL_NAME) + bytes((PROTOCOL_LEVEL, flags)) + _U16.pack(self.keepalive)
        return _frame(PacketType.CONNECT << 4, header + b"".join(payload))


@dataclass(frozen=True, slots=True)
class ConnAck:
    return_code: int = ConnackCode.ACCEPTED
    session_present: bool = False

    def encode(self) -> bytes:
        return _frame(PacketType.CONNACK << 4, bytes((int(self.session_present), self.return_code)))


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    packet_id: int | None = None
    dup: bool = False

    def __post_init__(self) -> None:
        _check_qos(self.qos)
        if self.qos == 0 and self.packet_id is not None:
            raise ValueError("a QoS 0 PUBLISH carries no packet id")
        if self.qos > 0:
            _check_packet_id(self.packet_id or 0)
        if not self.topic or "+" in self.topic or "#" in self.topic:
            raise ValueError(f"not a topic name to publish to: {self.topic!r}")

    def encode(self) -> bytes:
        first = PacketType.PUBLISH << 4 | self.dup << 3 | self.qos << 1 | self.retain
        body = _string(self.topic)
        if self.packet_id is not None:
            body += _U16.pack(self.packet_id)
        return _frame(first, body + self.payload)


@dataclass(frozen=True, slots=True)
class PubAck:
    packet_id: int

    def __post_init__(self) -> None:
        _check_packet_id(self.packet_id)

    def encode(self) -> bytes:
        return _frame(PacketType.PUBACK << 4, _U16.pack(self.packet_id))


@dataclass(frozen=True, slots=True)
class Subscribe:
    packet_id: int
    topics: tuple[tuple[str, int], ...]

    def __post_init__(self) -> None:
        _check_packet_id(self.packet_id)
        if not self.topics:
            raise ValueError("SUBSCRIBE needs at least one topic filter")
        for _, qos in self.topics:
            _check_qos(qos)

    def encode(self) -> bytes:
        body = _U16.pack(self.packet_id) + b"".join(
            _string(topic) + bytes((qos,)) for topic, qos in self.topics
        )
        return _frame(PacketType.SUBSCRIBE << 4 | 0x02, body)


@dataclass(frozen=True, slots=True)
class SubAck:
    packet_id: int
    return_codes: tuple[int, ...]

    def __post_init__(self) -> None:
        _check_packet_id(self.packet_id)
        if any(code not in (0, 1, 2, SUBACK_FAILURE) for code in self.return_codes):
            raise ValueError(f"bad SUBACK return codes {self.return_codes}")

    def encode(self) -> bytes:
        return _frame(PacketType.SUBACK << 4, _U16.pack(self.packet_id) + bytes(self.return_codes))


@dataclass(frozen=True, slots=True)
class PingReq:
    def encode(self) -> bytes:
        return PINGREQ_BYTES


@dataclass(frozen=True, slots=True)
class PingResp:
    def encode(self) -> bytes:
        return PINGRESP_BYTES


@dataclass(frozen=True, slots=True)
class Disconnect:
    def encode(self) -> bytes:
        return DISCONNECT_BYTES


Packet = Connect | ConnAck | Publish | PubAck | Subscribe | SubAck | PingReq | PingResp | Disconnect

PINGREQ_BYTES = bytes((PacketType.PINGREQ << 4, 0))
PINGRESP_BYTES = bytes((PacketType.PINGRESP << 4, 0))
DISCONNECT_BYTES = bytes((PacketType.DISCONNECT << 4, 0))


# -- decoding -----------------------------------------------------------------


def _decode_connect(body: _Reader) -> Connect:
    if body.string() != PROTOCOL_NAME or body.u8() != PROTOCOL_LEVEL:
        raise ProtocolError("CONNECT is not MQTT 3.1.1")
    flags = body.u8()
    if flags & 0x01:
        raise ProtocolError("CONNECT reserved flag set")
    keepalive = body.u16()
    client_id = body.string()
    will = None
    if flags & 0x04:
        topic = body.string()
        will = Will(topic, body.binary(), qos=(flags >> 3) & 0x03, retain=bool(flags & 0x20))
    username = body.string() if flags & 0x80 else None
    password = body.binary() if flags & 0x40 else None
    return Connect(client_id, keepalive, bool(flags & 0x02), username, password, will)


def _decode_publish(flags: int, body: _Reader) -> Publish:
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise ProtocolError("PUBLISH with QoS 3")
    topic = body.string()
    packet_id = body.u16() if qos else None
    return Publish(topic, body.rest(), qos, bool(flags & 0x01), packet_id, bool(flags & 0x08))


def _decode_subscribe(body: _Reader) -> Subscribe:
    packet_id = body.u16()
    topics: list[tuple[str, int]] = []
    while not body.at_end():
        topic = body.string()
        topics.append((topic, body.u8()))
    return Subscribe(packet_id, tuple(topics))


def decode_packet(first_byte: int, body: bytes) -> Packet:
    """Decode one packet from its first header byte and its body (after the length)."""
    kind, flags = first_byte >> 4, first_byte & 0x0F
    reader = _Reader(body)
    expected_flags = 0x02 if kind == PacketType.SUBSCRIBE else 0
    if kind != PacketType.PUBLISH and flags != expected_flags:
        raise ProtocolError(f"packet type {kind} with flags {flags:#x}")
    packet: Packet
    try:
        if kind == PacketType.PUBLISH:
            packet = _decode_publish(flags, reader)
        elif kind == PacketType.PUBACK:
            packet = PubAck(reader.u16())
        elif kind == PacketType.CONNACK:
            ack_flags = reader.u8()
            packet = ConnAck(return_code=reader.u8(), session_present=bool(ack_flags & 0x01))
        elif kind == PacketType.SUBACK:
            packet_id = reader.u16()
            packet = SubAck(packet_id, tuple(reader.rest()))
        elif kind == PacketType.CONNECT:
            packet = _decode_connect(reader)
        elif kind == PacketType.SUBSCRIBE:
            packet = _decode_subscribe(reader)
        elif kind == PacketType.PINGREQ:
            packet = PingReq()
        elif kind == PacketType.PINGRESP:
            packet = PingResp()
        elif kind == PacketType.DISCONNECT:
            packet = Disconnect()
        else:
            raise ProtocolError(f"unsupported packet type {kind}")
    except ValueError as exc:
        raise ProtocolError(f"invalid packet type {kind}: {exc}") from exc
    if not reader.at_end():
        raise ProtocolError(f"packet type {kind} has {len(body) - reader.pos} trailing bytes")
    return packet


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
        buffer += data
        packets: list[Packet] = []
        start = 0
        while len(buffer) - start >= 2:
            length = decode_remaining_length(buffer, start + 1)
            if length is None:
                break
            size, used = length
            if size > self.max_packet_bytes:
                raise ProtocolError(f"packet of {size} bytes exceeds {self.max_packet_bytes}")
            body_start = start + 1 + used
            end = body_start + size
            if end > len(buffer):
                break
            packets.append(decode_packet(buffer[start], bytes(buffer[body_start:end])))
            start = end
        if start:
            del buffer[:start]
        return packets
