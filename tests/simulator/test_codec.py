"""MQTT 3.1.1 encoding against byte vectors from the spec, round trips, and stream decoding."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from broker.mqttwire.codec import (
    MAX_REMAINING_LENGTH,
    ConnAck,
    Connect,
    Decoder,
    Disconnect,
    Packet,
    PingReq,
    PingResp,
    PubAck,
    Publish,
    SubAck,
    Subscribe,
    Will,
    decode_remaining_length,
    encode_remaining_length,
)
from devtools.simulator.errors import ProtocolError

VARINTS = [
    (0, "00"),
    (1, "01"),
    (127, "7f"),
    (128, "8001"),
    (16_383, "ff7f"),
    (16_384, "808001"),
    (2_097_151, "ffff7f"),
    (2_097_152, "80808001"),
    (MAX_REMAINING_LENGTH, "ffffff7f"),
]


@pytest.mark.parametrize(("value", "hex_bytes"), VARINTS)
def test_remaining_length_matches_the_spec_table(value: int, hex_bytes: str) -> None:
    encoded = bytes.fromhex(hex_bytes)
    assert encode_remaining_length(value) == encoded
    assert decode_remaining_length(b"\x30" + encoded + b"tail", 1) == (value, len(encoded))


@pytest.mark.parametrize(("value", "hex_bytes"), VARINTS)
def test_remaining_length_cut_short_is_incomplete(value: int, hex_bytes: str) -> None:
    encoded = bytes.fromhex(hex_bytes)
    for cut in range(len(encoded)):
        assert decode_remaining_length(encoded[:cut]) is None


@pytest.mark.parametrize("value", [-1, MAX_REMAINING_LENGTH + 1])
def test_remaining_length_out_of_range(value: int) -> None:
    with pytest.raises(ValueError, match="remaining length"):
        encode_remaining_length(value)


def test_remaining_length_of_five_bytes_is_malformed() -> None:
    with pytest.raises(ProtocolError, match="four bytes"):
        decode_remaining_length(bytes.fromhex("ffffffff01"))


@pytest.mark.parametrize(
    ("packet", "hex_bytes"),
    [
        (Connect("a", keepalive=60), "100d00044d5154540402003c000161"),
        (
            Connect("c", 10, False, "u", b"p", Will("w", b"x", qos=1, retain=True)),
            "101900044d51545404ec000a"  # protocol, level 4, flags u|p|will retain|qos1|will
            "000163"
            "000177"
            "000178"
            "000175"
            "000170",
        ),
        (ConnAck(0, session_present=True), "20020100"),
        (Publish("a/b", b"hi", qos=1, retain=True, packet_id=10), "33090003612f62000a6869"),
        (Publish("a", b"", qos=0), "3003000161"),
        (PubAck(10), "4002000a"),
        (Subscribe(1, (("a/+", 1),)), "820800010003612f2b01"),
        (SubAck(1, (1, 0x80)), "900400010180"),
        (PingReq(), "c000"),
        (PingResp(), "d000"),
        (Disconnect(), "e000"),
    ],
)
def test_encoding_matches_hand_assembled_bytes(packet: Packet, hex_bytes: str) -> None:
    assert packet.encode() == bytes.fromhex(hex_bytes)
    assert Decoder().feed(bytes.fromhex(hex_bytes)) == [packet]


PACKETS: list[Packet] = [
    Connect(
        "tab-0001",
        45,
        True,
        "tab-0001",
        b"secret",
        Will("tablets/tab-0001/status", b'{"state":"offline"}', 1, True),
    ),
    Connect("", 0, True),
    ConnAck(5),
    Publish("tablets/x/heartbeat", b'{"v":1}', 0),
    Publish("tablets/x/playlist", b"m" * 300, 1, True, 65_535, dup=True),
    Publish("t", bytes(range(256)) * 80, 1, False, 7),  # 20 KiB: three length bytes
    PubAck(1),
    Subscribe(2, (("tablets/+/heartbeat", 0), ("tablets/#", 1))),
    SubAck(2, (0, 1)),
    PingReq(),
    PingResp(),
    Disconnect(),
]


def test_every_packet_round_trips_in_one_read() -> None:
    stream = b"".join(packet.encode() for packet in PACKETS)
    decoder = Decoder()
    assert decoder.feed(stream) == PACKETS
    assert decoder.pending == 0


def test_byte_at_a_time_yields_each_packet_when_complete() -> None:
    decoder = Decoder()
    for packet in PACKETS:
        encoded = packet.encode()
        for byte in encoded[:-1]:
            assert decoder.feed(bytes((byte,))) == []
        assert decoder.feed(encoded[-1:]) == [packet]
    assert decoder.pending == 0


def test_random_splits_reassemble_the_stream() -> None:
    stream = b"".join(packet.encode() for packet in PACKETS) * 3
    rng = random.Random(1883)
    for _ in range(20):
        decoder = Decoder()
        decoded: list[Packet] = []
        position = 0
        while position < len(stream):
            step = rng.randint(1, 700)
            decoded += decoder.feed(stream[position : position + step])
            position += step
        assert decoded == PACKETS * 3


def test_partial_tail_is_kept_for_the_next_read() -> None:
    first, second = PubAck(3).encode(), Publish("a", b"xyz").encode()
    decoder = Decoder()
    assert decoder.feed(first + second[:2]) == [PubAck(3)]
    assert decoder.pending == 2
    assert decoder.feed(second[2:]) == [Publish("a", b"xyz")]


@pytest.mark.parametrize(
    ("hex_bytes", "match"),
    [
        ("c100", "flags"),  # PINGREQ with a reserved flag
        ("8002000a", "flags"),  # SUBSCRIBE without its 0x2 flags
        ("400300010203"[:10], "trailing"),  # PUBACK with an extra byte
        ("5002000a", "unsupported"),  # PUBREC: QoS 2 is not spoken here
        ("3603000161", "QoS 3"),
        ("3004000261ff", "UTF-8"),  # topic "a\xff"
        ("3003000261", "shorter"),  # topic length past the end
        ("3000", "shorter"),
        ("100d00044d5154540302003c000161", "3.1.1"),  # protocol level 3
    ],
)
def test_malformed_packets_are_protocol_errors(hex_bytes: str, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        Decoder().feed(bytes.fromhex(hex_bytes))


def test_packet_larger_than_the_limit_is_refused_from_its_header() -> None:
    decoder = Decoder(max_packet_bytes=1024)
    with pytest.raises(ProtocolError, match="exceeds"):
        decoder.feed(b"\x30" + encode_remaining_length(1025))


@pytest.mark.parametrize(
    "build",
    [
        lambda: Connect("c", password=b"p"),  # password needs a username
        lambda: Connect("c", keepalive=70_000),
        lambda: Publish("a/+", b""),  # wildcards are for filters
        lambda: Publish("a", b"", qos=1),  # QoS 1 needs a packet id
        lambda: Publish("a", b"", qos=0, packet_id=1),
        lambda: PubAck(0),
        lambda: Subscribe(1, ()),
        lambda: Will("w", b"", qos=3),
        lambda: Publish("a\x00b", b"").encode(),
    ],
)
def test_invalid_packets_cannot_be_built(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        build()
