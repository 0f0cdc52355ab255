"""The stream decoder around the ``mqtt5`` codec: MQTT 5 packets cut anywhere, bad bytes, limits.

The packets' own encoding is the codec's (and its tests'); these check what
``broker/mqttwire/codec.py`` adds: reassembling a TCP stream and refusing what a
session must not accept.
"""

from __future__ import annotations

import random

import pytest

from broker.mqttwire.codec import (
    DISCONNECT_BYTES,
    PINGREQ_BYTES,
    ConnAck,
    Connect,
    Decoder,
    Disconnect,
    DisconnectReasonCode,
    Packet,
    PingReq,
    PingResp,
    PubAck,
    PubAckReasonCode,
    Publish,
    QoS,
    SubAck,
    SubAckReasonCode,
    Subscribe,
    TopicFilter,
    Will,
)
from devtools.simulator.errors import ProtocolError

PACKETS: list[Packet] = [
    Connect(
        "tab-0001",
        username="tab-0001",
        password=b"secret",
        clean_start=True,
        keep_alive=45,
        session_expiry_interval=3600,
        receive_max=100,
        will=Will(
            "tablets/tab-0001/status",
            payload=b'{"state":"offline"}',
            qos=QoS.AT_LEAST_ONCE,
            retain=True,
        ),
    ),
    ConnAck(session_present=True, receive_max=10_000),
    Publish("tablets/x/heartbeat", b'{"v":1}'),
    Publish(
        "tablets/x/playlist",
        b"m" * 300,
        qos=QoS.AT_LEAST_ONCE,
        retain=True,
        packet_id=65_535,
        duplicate=True,
        message_expiry_interval=600,
    ),
    Publish("t", bytes(range(256)) * 80, qos=QoS.AT_LEAST_ONCE, packet_id=7),  # 3 length bytes
    PubAck(1),
    PubAck(2, reason_code=PubAckReasonCode.NOT_AUTHORIZED),
    Subscribe(
        2,
        [
            TopicFilter("tablets/+/heartbeat", max_qos=QoS.AT_MOST_ONCE),
            TopicFilter("tablets/#", max_qos=QoS.AT_LEAST_ONCE),
        ],
    ),
    SubAck(2, [SubAckReasonCode.GRANTED_QOS_AT_MOST_ONCE, SubAckReasonCode.NOT_AUTHORIZED]),
    PingReq(),
    PingResp(),
    Disconnect(reason_code=DisconnectReasonCode.SESSION_TAKEN_OVER),
]


def _stream(packets: list[Packet]) -> bytes:
    return b"".join(packet.write() for packet in packets)


def test_every_packet_round_trips_in_one_read() -> None:
    decoder = Decoder()
    assert decoder.feed(_stream(PACKETS)) == PACKETS
    assert decoder.pending == 0


def test_byte_at_a_time_yields_each_packet_when_complete() -> None:
    decoder = Decoder()
    for packet in PACKETS:
        encoded = packet.write()
        for byte in encoded[:-1]:
            assert decoder.feed(bytes((byte,))) == []
        assert decoder.feed(encoded[-1:]) == [packet]
    assert decoder.pending == 0


def test_random_splits_reassemble_the_stream() -> None:
    stream = _stream(PACKETS) * 3
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
        assert decoder.pending == 0


def test_partial_tail_is_kept_for_the_next_read() -> None:
    first, second = PubAck(3).write(), Publish("a", b"xyz").write()
    decoder = Decoder()
    assert decoder.feed(first + second[:2]) == [PubAck(3)]
    assert decoder.pending == 2
    assert decoder.feed(second[2:]) == [Publish("a", b"xyz")]
    assert decoder.pending == 0


def test_the_fixed_packets_are_the_codecs() -> None:
    assert bytes.fromhex("c000") == PINGREQ_BYTES
    assert Decoder().feed(DISCONNECT_BYTES) == [Disconnect()]


@pytest.mark.parametrize(
    "hex_bytes",
    [
        "c100",  # PINGREQ with a reserved flag
        "8002000a",  # SUBSCRIBE without its 0x2 flags
        "3603000161",  # QoS 3
        # topic "a\xff", not UTF-8: mqtt5 0.8.0 panics (the decoder makes that a protocol
        # error) and leaves the decode error behind as an unraisable exception.
        pytest.param(
            "3005000261ff00",
            marks=pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
        ),
        "100d00044d5154540402003c000161",  # CONNECT of MQTT 3.1.1 (level 4)
    ],
)
def test_malformed_packets_are_protocol_errors(hex_bytes: str) -> None:
    with pytest.raises(ProtocolError, match="malformed"):
        Decoder().feed(bytes.fromhex(hex_bytes))


def test_a_malformed_packet_after_good_ones_is_still_refused() -> None:
    with pytest.raises(ProtocolError):
        Decoder().feed(PubAck(1).write() + bytes.fromhex("c100"))


def test_packet_larger_than_the_limit_is_refused_before_it_is_whole() -> None:
    big = Publish("t", b"x" * 2000).write()
    decoder = Decoder(max_packet_bytes=1024)
    assert decoder.feed(big[:1000]) == []  # could still be a packet within the limit
    with pytest.raises(ProtocolError, match="exceeds"):
        decoder.feed(big[1000:1500])


def test_packet_larger_than_the_limit_is_refused_when_read_whole() -> None:
    with pytest.raises(ProtocolError, match="exceeds"):
        Decoder(max_packet_bytes=1024).feed(Publish("t", b"x" * 2000).write())


def test_invalid_packets_cannot_be_written() -> None:
    with pytest.raises(ValueError, match="topic"):
        Publish("a/+", b"").write()  # wildcards are for filters
    with pytest.raises(ValueError, match="Packet ID"):
        Publish("a", b"", qos=QoS.AT_LEAST_ONCE).write()
