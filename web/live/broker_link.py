"""The panel's own MQTT session: how HTTP-only tablets reach their actors.

``POST /v1/device/heartbeat`` publishes the validated heartbeat on the tablet's own
topic, ``tablets/{id}/heartbeat``, QoS 1, exactly as the tablet would. The hub's
persistent session receives it, so it goes through the tablet's actor like any MQTT
heartbeat; the HTTP answer is given once the broker has acknowledged it (PUBACK).

The session is opened in the app's lifespan and reconnected with jittered backoff; while
it is down, device calls that need it answer 503 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import aiomqtt

from broker import aio_client
from broker.runner import embedded_broker
from config.errors import BrokerError
from config.retry import reconnecting
from config.settings import MqttTarget, Settings

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 5.0


def broker_target(settings: Settings) -> MqttTarget | None:
    """The panel's session: ``FLEETHUB_MQTT_URL`` (or the embedded broker once it has been
    set up) as the account ``web_client_id``, bound to that client id; else None."""
    target = settings.mqtt_target()
    if target is None and (settings.broker_dir / "hub.secret").exists():
        target = embedded_broker(settings).hub_target()
    return target.as_account(settings.web_client_id) if target is not None else None


def provision_target(settings: Settings) -> MqttTarget | None:
    """The provisioning account (claims, revocation): ``FLEETHUB_PROVISION_MQTT_URL``, or the
    embedded broker's when no broker URL is set; else None (those calls answer 503)."""
    target = settings.provision_target()
    if target is None and not settings.mqtt_url and (settings.broker_dir / "hub.secret").exists():
        target = embedded_broker(settings).provision_target()
    return target


def device_mqtt_url(settings: Settings, target: MqttTarget) -> str:
    """The broker address given to a pairing tablet (never the hub's credentials)."""
    return settings.device_mqtt_url or target.address()


class BrokerUnavailable(BrokerError):
    """The panel has no broker session right now."""


class BrokerLink:
    """The panel's session (``session``) and the provisioning account claims and revocations
    use (``target``), both resolved once at start."""

    def __init__(self, session: MqttTarget | None, target: MqttTarget | None) -> None:
        self.session = session
        self.target = target
        self.client_id = session.username if session is not None else None
        self._client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()

    async def run(self) -> None:
        if self.session is None:
            return  # no broker configured: device calls that need one answer 503
        await reconnecting(self._session, on=(aiomqtt.MqttError,), wait_initial=0.5, wait_max=10.0)

    async def _session(self, up: Callable[[], None]) -> None:
        assert self.session is not None
        try:
            async with aio_client.Client(
                self.session.host,
                self.session.port,
                username=self.session.username,
                password=self.session.password,
                identifier=self.client_id,
                clean_session=True,
                keepalive=30,
                timeout=10,
                tls_context=self.session.ssl_context(),
            ) as client:
                self._client = client
                self.connected.set()
                up()
                async for _ in client.messages:  # nothing subscribed: ends on disconnect
                    pass
            raise aiomqtt.MqttError("the panel broker session ended")
        except aiomqtt.MqttError as exc:
            log.warning("panel broker session lost (%s); reconnecting", exc)
            raise
        finally:
            self._client = None
            self.connected.clear()

    async def publish(self, topic: str, payload: bytes) -> None:
        """QoS 1, returns once the broker has it; raises :class:`BrokerUnavailable`."""
        client = self._client
        if client is None:
            raise BrokerUnavailable("no broker session")
        try:
            await asyncio.wait_for(client.publish(topic, payload, qos=1), PUBLISH_TIMEOUT_S)
        except (aiomqtt.MqttError, TimeoutError) as exc:
            raise BrokerUnavailable(f"publish failed: {exc}") from exc


def for_panel(settings: Settings) -> BrokerLink:
    return BrokerLink(broker_target(settings), provision_target(settings))
