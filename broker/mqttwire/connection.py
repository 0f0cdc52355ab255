"""`MqttConnection`: one small MQTT 5 client connection (simulator tablets, hub session).

Thousands of these share one event loop, so a connection is a single
``asyncio.Protocol`` object with ``__slots__``: the transport hands it bytes,
the :class:`~broker.mqttwire.codec.Decoder` (the ``mqtt5`` codec) turns them into
packets and they are handled right there. No task per connection; keepalive and
acknowledgement timeouts are loop timers. Each connection is used once: connect,
talk, close.

MQTT 5 where it pays: at most the broker's *receive maximum* (its CONNACK) QoS 1
publishes await a PUBACK; a session lasts ``session_expiry_s`` after the socket
is gone; a publish may carry a message expiry; a refusal (CONNACK, PUBACK, SUBACK,
the broker's DISCONNECT) comes with its reason code, which errors and logs name.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import logging
import ssl
from collections.abc import Callable, Iterable
from typing import Any

from broker.mqttwire.codec import (
    DISCONNECT_BYTES,
    PINGREQ_BYTES,
    ConnAck,
    Connect,
    Decoder,
    Disconnect,
    DisconnectReasonCode,
    Packet,
    PingResp,
    PubAck,
    Publish,
    QoS,
    SubAck,
    SubAckReasonCode,
    Subscribe,
    TopicFilter,
    Will,
)
from broker.mqttwire.errors import (
    AckTimeout,
    Backpressure,
    ConnectFailed,
    ConnectionLost,
    MqttWireError,
    ProtocolError,
    PublishRefused,
)

log = logging.getLogger(__name__)

MessageHandler = Callable[[Publish], None]
CloseHandler = Callable[["MqttConnection", BaseException | None], None]

NO_EXPIRY = 0xFFFFFFFF  # MQTT 5: a session expiry interval of "never"
REFUSAL = 0x80  # MQTT 5: a reason code from 0x80 up is a failure
_QOS = (QoS.AT_MOST_ONCE, QoS.AT_LEAST_ONCE)

# Loop timers run in this one empty context instead of a copy of the caller's:
# a copy costs about 130 bytes per pending timer, and nothing here reads
# context variables. Callbacks never nest, so the context is never re-entered.
TIMER_CONTEXT = contextvars.Context()


class State(enum.Enum):
    NEW = "new"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSING = "closing"
    CLOSED = "closed"


class MqttConnection(asyncio.Protocol):
    """A client connection to a broker on the loopback network.

    ``on_message`` is called with every PUBLISH the broker delivers (a QoS 1
    delivery is acknowledged first, or with ``manual_ack`` when the owner calls
    :meth:`ack`); ``on_close`` once, when the socket is
    gone, with the error that ended it or ``None``. Both run inside the
    protocol callbacks and must not block.
    """

    __slots__ = (
        "_ack_timeout",
        "_acks",
        "_broker_disconnect",
        "_closed",
        "_connack",
        "_connect",
        "_connect_timeout",
        "_decoder",
        "_in_flight",
        "_keepalive_s",
        "_keepalive_timer",
        "_last_write",
        "_loop",
        "_manual_ack",
        "_next_packet_id",
        "_paused",
        "_ping_sent_at",
        "_read_paused_at",
        "_read_paused_s",
        "_receive_max",
        "_ssl",
        "_state",
        "_transport",
        "host",
        "on_close",
        "on_message",
        "port",
        "session_present",
        "source_ip",
    )

    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        keepalive: int = 60,
        clean_session: bool = True,
        session_expiry_s: int | None = None,
        receive_max: int = 65_535,
        will: Will | None = None,
        source_ip: str | None = None,
        on_message: MessageHandler | None = None,
        on_close: CloseHandler | None = None,
        connect_timeout: float = 10.0,
        ack_timeout: float = 10.0,
        max_packet_bytes: int = 256 * 1024,
        manual_ack: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self._ssl = tls  # TLS: the broker's certificate must name ``host``
        self.port = port
        self.source_ip = source_ip
        self.on_message = on_message
        self.on_close = on_close
        if session_expiry_s is None:  # MQTT 3.1.1's meaning of a clean or kept session
            session_expiry_s = 0 if clean_session else NO_EXPIRY
        self._connect: Connect | None = Connect(
            client_id,
            username=username,
            password=password.encode() if password is not None else None,
            clean_start=clean_session,
            will=will,
            keep_alive=keepalive,
            session_expiry_interval=session_expiry_s,
            receive_max=receive_max,
            max_packet_size=max_packet_bytes + 5,  # the broker drops larger ones for us
        )
        self._connect_timeout = connect_timeout
        self._ack_timeout = ack_timeout  # also bounds a clean close
        self._keepalive_s = keepalive
        self._state = State.NEW
        self._decoder = Decoder(max_packet_bytes)
        self._transport: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connack: asyncio.Future[None] | None = None
        self._closed: asyncio.Future[None] | None = None
        # packet id -> (future, timeout timer); created on first use
        self._in_flight: dict[int, tuple[asyncio.Future[Any], asyncio.TimerHandle]] | None = None
        self._next_packet_id = 1
        self._keepalive_timer: asyncio.TimerHandle | None = None
        self._last_write = 0.0
        self._ping_sent_at: float | None = None
        self._paused = False
        # Reading paused by the owner (flow control): acknowledgement timeouts do not count
        # that time, as the acknowledgements wait unread behind the deliveries held back.
        self._read_paused_at: float | None = None
        self._read_paused_s = 0.0  # in total, up to the last resume
        self._acks = bytearray()  # PUBACKs of one read, written together
        # True: a QoS 1 delivery is acknowledged only when the owner calls :meth:`ack`.
        self._manual_ack = manual_ack
        self._receive_max = 65_535  # the broker's, from its CONNACK
        self._broker_disconnect: DisconnectReasonCode | None = None
        self.session_present = False  # the CONNACK's flag: the broker kept our session

    # -- public API -----------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def connected(self) -> bool:
        return self._state is State.CONNECTED

    @property
    def writable(self) -> bool:
        """Connected, and the transport is not holding back writes."""
        return self._state is State.CONNECTED and not self._paused

    @property
    def in_flight(self) -> int:
        return len(self._in_flight) if self._in_flight else 0

    @property
    def receive_max(self) -> int:
        """How many QoS 1 publishes may await a PUBACK at once: the broker's CONNACK says."""
        return self._receive_max

    @property
    def broker_disconnect(self) -> DisconnectReasonCode | None:
        """The reason code of the DISCONNECT the broker sent before it closed, if it did."""
        return self._broker_disconnect

    async def connect(self) -> None:
        """Open the TCP connection, send CONNECT and wait (``connect_timeout``) for CONNACK."""
        if self._state is not State.NEW:
            raise MqttWireError("an MqttConnection connects only once")
        self._state = State.CONNECTING
        loop = self._loop = asyncio.get_running_loop()
        self._connack = loop.create_future()
        local_addr = (self.source_ip, 0) if self.source_ip else None
        try:
            async with asyncio.timeout(self._connect_timeout):
                await loop.create_connection(
                    lambda: self,
                    self.host,
                    self.port,
                    local_addr=local_addr,
                    ssl=self._ssl,
                    ssl_handshake_timeout=self._connect_timeout if self._ssl else None,
                )
                await self._connack
            self._connack = None
        except TimeoutError:
            self.abort()
            raise AckTimeout(
                f"{self.host}:{self.port} did not accept the connection in {self._connect_timeout}s"
            ) from None
        except OSError as exc:  # ssl.SSLError (a refused certificate) is one
            self.abort()
            raise ConnectFailed(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        except BaseException:
            self.abort()
            raise

    def publish_nowait(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 0,
        retain: bool = False,
        expiry_s: int | None = None,
    ) -> asyncio.Future[None] | None:
        """Write a PUBLISH. QoS 1 returns a future that the PUBACK resolves.

        The future fails with :class:`PublishRefused` if the PUBACK's reason code
        is a refusal, with :class:`AckTimeout` after ``ack_timeout`` and with
        :class:`ConnectionLost` if the connection closes first; the caller must
        consume it (await it or add a done callback that reads it). ``expiry_s``:
        the broker drops the message if it could not deliver it in that time.
        """
        return self.publish_many(((topic, payload, qos, retain, expiry_s),))[0]

    def publish_many(
        self, messages: Iterable[tuple[str, bytes, int, bool, int | None]]
    ) -> list[asyncio.Future[None] | None]:
        """Like :meth:`publish_nowait` for each ``(topic, payload, qos, retain, expiry_s)``,
        in one write."""
        transport = self._require_connected()
        buffer = bytearray()
        futures: list[asyncio.Future[None] | None] = []
        for topic, payload, qos, retain, expiry_s in messages:
            if qos == 0:
                buffer += Publish(
                    topic, payload, retain=retain, message_expiry_interval=expiry_s
                ).write()
                futures.append(None)
                continue
            if qos != 1:
                raise ValueError("this client publishes with QoS 0 or 1 only")
            packet_id = self._allocate_packet_id()
            buffer += Publish(
                topic,
                payload,
                qos=_QOS[1],
                retain=retain,
                packet_id=packet_id,
                message_expiry_interval=expiry_s,
            ).write()
            futures.append(self._track(packet_id, "PUBACK"))
        if buffer:
            self._write(transport, bytes(buffer))
        return futures

    async def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 0,
        retain: bool = False,
        expiry_s: int | None = None,
    ) -> None:
        """Publish; for QoS 1 wait for the PUBACK (at most ``ack_timeout``)."""
        future = self.publish_nowait(topic, payload, qos=qos, retain=retain, expiry_s=expiry_s)
        if future is not None:
            await future

    async def subscribe(self, topics: Iterable[tuple[str, int]]) -> tuple[int, ...]:
        """Subscribe and return the granted QoS per filter; a refused filter raises."""
        transport = self._require_connected()
        # retain_as_published off: as in MQTT 3.1.1, only a message that was stored as
        # retained when we subscribed arrives with the retain flag.
        filters = [
            TopicFilter(pattern, max_qos=QoS(qos), retain_as_published=False)
            for pattern, qos in topics
        ]
        packet_id = self._allocate_packet_id(0xFFFF)  # receive maximum counts only PUBLISH
        data = Subscribe(packet_id, filters).write()
        future: asyncio.Future[list[SubAckReasonCode]] = self._track(packet_id, "SUBACK")
        self._write(transport, data)
        codes = await future
        patterns = [f.pattern for f in filters]
        if len(codes) != len(filters) or any(int(code) >= REFUSAL for code in codes):
            raise MqttWireError(
                f"broker refused the subscription to {patterns}: "
                + ", ".join(describe_reason(c) for c in codes)
            )
        return tuple(int(code) for code in codes)

    def ack(self, packet_ids: Iterable[int]) -> None:
        """PUBACK these deliveries (``manual_ack``), in one write; gone if not connected.

        In the order the PUBLISH packets arrived, as MQTT 3.1.1 wanted (5 does not).
        """
        if self._state is not State.CONNECTED or self._transport is None:
            return  # the broker delivers them again on the next session
        data = b"".join(PubAck(packet_id).write() for packet_id in packet_ids)
        if data:
            self._write(self._transport, data)

    def pause_reading(self) -> None:
        """Stop reading from the socket (the broker then queues for us): flow control.

        While paused, a PUBACK or SUBACK waits unread behind the deliveries held back, so
        acknowledgement timeouts count only the time spent reading.
        """
        if self._transport is not None and self._transport.is_reading():
            self._transport.pause_reading()
            if self._loop is not None and self._read_paused_at is None:
                self._read_paused_at = self._loop.time()

    def resume_reading(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()
        if self._loop is not None and self._read_paused_at is not None:
            self._read_paused_s += self._loop.time() - self._read_paused_at
            self._read_paused_at = None

    def _paused_so_far(self) -> float:
        """Seconds reading has been paused since the connection began, this pause included."""
        now = self._loop.time() if self._loop is not None else 0.0
        current = now - self._read_paused_at if self._read_paused_at is not None else 0.0
        return self._read_paused_s + current

    def abort(self) -> None:
        """Drop the socket at once, without DISCONNECT: the broker publishes the will."""
        if self._transport is not None and self._state is not State.CLOSED:
            self._state = State.CLOSING
            self._transport.abort()
        elif self._state in (State.NEW, State.CONNECTING):
            self._state = State.CLOSED

    def disconnect_nowait(self) -> None:
        """Send DISCONNECT and close once the write buffer is flushed (no will)."""
        if self._transport is None or self._state is State.CLOSED:
            return
        if self._state is State.CONNECTED:
            self._transport.write(DISCONNECT_BYTES)
        self._state = State.CLOSING
        self._transport.close()

    async def disconnect(self) -> None:
        """Clean close: DISCONNECT, flush, and wait (``ack_timeout``) until the socket is gone."""
        self.disconnect_nowait()
        try:
            await asyncio.wait_for(self.wait_closed(), self._ack_timeout)
        except TimeoutError:
            self.abort()

    async def wait_closed(self) -> None:
        await asyncio.shield(self.closed_future())

    def closed_future(self) -> asyncio.Future[None]:
        """A future that resolves once the socket is gone (already done if it is)."""
        if self._closed is None:
            self._closed = asyncio.get_running_loop().create_future()
            if self._state is State.CLOSED or self._transport is None:
                self._closed.set_result(None)
        return self._closed

    # -- asyncio.Protocol -----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        connect, self._connect = self._connect, None
        assert connect is not None
        self._write(transport, connect.write())

    def data_received(self, data: bytes) -> None:
        try:
            packets = self._decoder.feed(data)
        except ProtocolError as exc:
            self._protocol_violation(exc)
            return
        for packet in packets:
            if self._state not in (State.CONNECTING, State.CONNECTED):
                return  # closing: the rest of this read no longer matters
            try:
                self._handle(packet)
            except ProtocolError as exc:
                self._protocol_violation(exc)
                return
        if self._acks and self._transport is not None:
            # One write for every QoS 1 delivery of this read, not one syscall each.
            self._write(self._transport, bytes(self._acks))
            self._acks.clear()

    def eof_received(self) -> bool:
        return False  # the broker closed its side; let the transport close ours

    def connection_lost(self, exc: Exception | None) -> None:
        self._state = State.CLOSED
        if self._keepalive_timer is not None:
            self._keepalive_timer.cancel()
            self._keepalive_timer = None
        why = self._broker_disconnect
        by = f" by the broker: {describe_reason(why)}" if why is not None else ""
        lost = ConnectionLost(f"connection to {self.host}:{self.port} closed{by}")
        if exc is not None:
            lost.__cause__ = exc
        if self._connack is not None and not self._connack.done():
            self._connack.set_exception(lost)
        if self._in_flight:
            for future, timer in self._in_flight.values():
                timer.cancel()
                if not future.done():
                    future.set_exception(lost)
            self._in_flight = None
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        self._transport = None
        if self.on_close is not None:
            self.on_close(self, exc)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False

    # -- internals ------------------------------------------------------------

    def _require_connected(self) -> asyncio.Transport:
        if self._state is not State.CONNECTED or self._transport is None:
            raise ConnectionLost(f"not connected to {self.host}:{self.port} ({self._state.value})")
        return self._transport

    def _write(self, transport: asyncio.Transport, data: bytes) -> None:
        transport.write(data)
        assert self._loop is not None
        self._last_write = self._loop.time()

    def _allocate_packet_id(self, limit: int | None = None) -> int:
        in_flight = self._in_flight
        limit = self._receive_max if limit is None else limit
        if in_flight is not None and len(in_flight) >= limit:
            raise Backpressure(f"{limit} packets already await acknowledgement")
        packet_id = self._next_packet_id
        while in_flight is not None and packet_id in in_flight:
            packet_id = packet_id % 0xFFFF + 1
        self._next_packet_id = packet_id % 0xFFFF + 1
        return packet_id

    def _track(self, packet_id: int, awaited: str) -> asyncio.Future[Any]:
        assert self._loop is not None
        future: asyncio.Future[Any] = self._loop.create_future()
        timer = self._loop.call_later(
            self._ack_timeout,
            self._expire,
            packet_id,
            awaited,
            self._paused_so_far(),
            context=TIMER_CONTEXT,
        )
        if self._in_flight is None:
            self._in_flight = {}
        self._in_flight[packet_id] = (future, timer)
        return future

    def _resolve(self, packet_id: int, result: object) -> None:
        """Settle the packet's future: with ``result``, or failed if that is an error."""
        entry = self._in_flight.pop(packet_id, None) if self._in_flight else None
        if entry is None:
            raise ProtocolError(f"acknowledgement for unknown packet id {packet_id}")
        future, timer = entry
        timer.cancel()
        if not self._in_flight:
            self._in_flight = None  # an emptied dict keeps its table; most of the time none is due
        if future.done():
            return
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)

    def _expire(self, packet_id: int, awaited: str, paused_before: float) -> None:
        held = self._paused_so_far() - paused_before
        entry = self._in_flight.get(packet_id) if self._in_flight else None
        if held > 0 and entry is not None and self._loop is not None:
            # Reading was paused for ``held`` of the wait: wait that much longer.
            timer = self._loop.call_later(
                held,
                self._expire,
                packet_id,
                awaited,
                self._paused_so_far(),
                context=TIMER_CONTEXT,
            )
            self._in_flight[packet_id] = (entry[0], timer)  # type: ignore[index]
            return
        entry = self._in_flight.pop(packet_id, None) if self._in_flight else None
        if not self._in_flight:
            self._in_flight = None
        if entry is not None and not entry[0].done():
            entry[0].set_exception(
                AckTimeout(f"no {awaited} for packet {packet_id} in {self._ack_timeout}s")
            )

    def _handle(self, packet: Packet) -> None:
        if isinstance(packet, Publish):
            self._deliver(packet)
        elif isinstance(packet, PubAck):
            code = packet.reason_code
            if int(code) < REFUSAL:  # success, or "no matching subscribers"
                self._resolve(packet.packet_id, None)
            else:
                why = describe_reason(code, packet.reason_str)
                refused = PublishRefused(
                    f"broker refused packet {packet.packet_id}: {why}", int(code)
                )
                self._resolve(packet.packet_id, refused)
        elif isinstance(packet, SubAck):
            self._resolve(packet.packet_id, packet.reason_codes)
        elif isinstance(packet, PingResp):
            self._ping_sent_at = None
        elif isinstance(packet, ConnAck) and self._state is State.CONNECTING:
            self._accept(packet)
        elif isinstance(packet, Disconnect):
            self._broker_disconnect = packet.reason_code
            log.warning(
                "broker %s:%s disconnected us: %s",
                self.host,
                self.port,
                describe_reason(packet.reason_code, packet.reason_str),
            )
            self.abort()
        else:
            raise ProtocolError(f"unexpected {type(packet).__name__} from the broker")

    def _accept(self, connack: ConnAck) -> None:
        assert self._connack is not None
        code = connack.reason_code
        if int(code) >= REFUSAL:
            why = describe_reason(code, connack.reason_str)
            self._connack.set_exception(
                ConnectFailed(f"broker refused the connection: {why}", int(code))
            )
            self.disconnect_nowait()
            return
        self._state = State.CONNECTED
        self.session_present = connack.session_present
        self._receive_max = connack.receive_max
        if connack.server_keep_alive is not None:  # MQTT 5: the broker's keepalive wins
            self._keepalive_s = connack.server_keep_alive
        self._connack.set_result(None)
        self._schedule_keepalive()

    def _deliver(self, packet: Publish) -> None:
        if self._state is not State.CONNECTED:
            raise ProtocolError("PUBLISH before CONNACK")
        if packet.qos == 2:
            raise ProtocolError("QoS 2 delivery, but this client subscribes with QoS 0/1")
        if packet.qos == 1 and not self._manual_ack:
            assert packet.packet_id is not None
            self._acks += PubAck(packet.packet_id).write()
        if self.on_message is None:
            return
        try:
            self.on_message(packet)
        except Exception:
            log.exception("message handler failed for %s", packet.topic)

    def _schedule_keepalive(self) -> None:
        assert self._loop is not None
        if self._keepalive_s:
            self._keepalive_timer = self._loop.call_later(
                self._keepalive_s / 2, self._keepalive_tick, context=TIMER_CONTEXT
            )

    def _keepalive_tick(self) -> None:
        transport, loop = self._transport, self._loop
        if self._state is not State.CONNECTED or transport is None or loop is None:
            return
        keepalive = self._keepalive_s
        now = loop.time()
        if self._ping_sent_at is not None and now - self._ping_sent_at > keepalive:
            log.debug("no PINGRESP from %s:%s; dropping the connection", self.host, self.port)
            self.abort()
            return
        if self._ping_sent_at is None and now - self._last_write >= keepalive / 2:
            self._write(transport, PINGREQ_BYTES)
            self._ping_sent_at = now
        self._keepalive_timer = loop.call_later(
            keepalive / 2, self._keepalive_tick, context=TIMER_CONTEXT
        )

    def _protocol_violation(self, exc: ProtocolError) -> None:
        log.warning("dropping connection to %s:%s: %s", self.host, self.port, exc)
        self.abort()


def describe_reason(code: enum.IntEnum, text: str | None = None) -> str:
    """A reason code for a log line or an error: its name, number and the broker's text."""
    return f"{code.name.lower()} (0x{int(code):02x})" + (f": {text}" if text else "")
