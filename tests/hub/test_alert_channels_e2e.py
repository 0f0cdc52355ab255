"""Alert channels end to end: a real hub sends its incidents to a real local SMTP server
(aiosmtpd, STARTTLS and AUTH), a local webhook receiver checking the signature, and a local
stand-in of Telegram's Bot API; nothing outside this machine is contacted."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message as Mail
from typing import Any

import psycopg
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from pydantic import SecretStr

from actors.effects import IncidentEvent
from broker.processes import free_port
from config.settings import MqttTarget, Settings
from hub.notify.signing import verify
from store import alert_subscriptions as subs
from store import db
from store.alert_subscriptions import SubscriptionSpec
from store.db import open_pool
from store.incidents import write_incident
from store.users import User, add_user
from tests.conftest import RunningHub, TestCA, TestFleetFactory
from tests.helpers import eventually, state_of

Conn = psycopg.Connection[tuple[Any, ...]]
SMTP_USER, SMTP_PASSWORD = "fleethub", "smtp-test-password"
SECRET = "whsec_test"


class Inbox:
    """aiosmtpd's handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.answers: list[str] = []  # replies to give first (e.g. a 451), one per message

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.answers:
            return self.answers.pop(0)
        content = envelope.content
        assert isinstance(content, bytes)
        self.mails.append(message_from_bytes(content))
        return "250 OK"


def _auth(server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok)


@pytest.fixture
def smtp(test_ca: TestCA) -> Iterator[tuple[Inbox, int]]:
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(test_ca.certfile, test_ca.keyfile)
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=_auth,
    )
    controller.start()
    yield inbox, port
    controller.stop()


@dataclass
class Receiver:
    """A local HTTP endpoint: the webhook receiver and the Telegram stand-in."""

    url: str = ""
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    fail_first: int = 0  # answer 500 to this many requests first
    always: int | None = None  # answer this to every request


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    got = Receiver()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        got.requests.append((request.path, dict(request.headers), body))
        if got.always is not None:
            return web.Response(status=got.always)
        if got.fail_first > 0:
            got.fail_first -= 1
            return web.Response(status=500, text="try later")
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    got.url = f"http://127.0.0.1:{port}"
    yield got
    await runner.cleanup()


@pytest.fixture
async def alert_hub(
    settings: Settings,
    database_url: str,
    hub_mqtt: MqttTarget,
    smtp: tuple[Inbox, int],
    receiver: Receiver,
    test_ca: TestCA,
) -> AsyncIterator[RunningHub]:
    _, port = smtp
    configured = settings.model_copy(
        update={
            "smtp_url": SecretStr(f"smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{port}"),
            "smtp_ca_file": test_ca.ca_file,
            "telegram_bot_token": SecretStr("123:test-token"),
            "telegram_api_url": receiver.url,
            "alert_retry_initial_s": 0.05,
            "alert_retry_max_s": 0.2,
            "alert_send_attempts": 3,
        }
    )
    running = RunningHub(configured, database_url, hub_mqtt)
    await running.start()
    yield running
    await running.stop()


async def owner_of(database_url: str, fleet_id: str) -> User:
    email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    async with db.connect(database_url) as conn:
        user_id = await add_user(
            conn,
            tenant_id="default",
            email=email,
            name="Owner",
            role="fleet_owner",
            password="correct horse battery",
            fleets=[fleet_id],
            actor="test",
        )
    return User(user_id, "default", email, "Owner", "fleet_owner", (fleet_id,))


async def incident(database_url: str, fleet_id: str, tablet_id: str, kind: str, event: str) -> None:
    """An incident event as the hub's writer stores it (notification and NOTIFY)."""
    at = datetime.now(UTC)
    ident = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tablet_id}/{kind}"))
    ev = IncidentEvent(ident, tablet_id, fleet_id, kind, event, at, at, None, "detail")  # type: ignore[arg-type]
    async with db.connect(database_url) as conn, conn.transaction():
        await write_incident(conn.cursor(), ev)


def messages(conn: Conn, subscription_id: int) -> list[tuple[str, int, int]]:
    rows = conn.execute(
        "SELECT status, events, attempts FROM alert_messages WHERE subscription_id = %s"
        " ORDER BY message_id",
        (subscription_id,),
    ).fetchall()
    return [(str(a), int(b), int(c)) for a, b, c in rows]


async def subscribe(database_url: str, owner: User, spec: SubscriptionSpec) -> int:
    pool = open_pool(database_url)
    await pool.open()
    try:
        return await subs.create(pool, owner, spec)
    finally:
        await pool.close()


async def test_a_tablets_low_storage_arrives_by_email_opened_then_resolved(
    alert_hub: RunningHub,
    fleet_factory: TestFleetFactory,
    database_url: str,
    conn: Conn,
    smtp: tuple[Inbox, int],
) -> None:
    inbox, _ = smtp
    fleet = await fleet_factory(
        tablets=1, heartbeat_s=30, offline_after_s=90, health={"clear_s": 0}
    )
    tid = fleet.tablet_ids[0]
    owner = await owner_of(database_url, fleet.fleet_id)
    spec = SubscriptionSpec("email", owner.email, kinds=("low_storage",))
    sub = await subscribe(database_url, owner, spec)
    tablet = fleet.tablet().connect()
    try:
        await eventually(lambda: state_of(conn, tid) == "online")
        tablet.heartbeat(disk_free_mb=12)
        await eventually(lambda: len(inbox.mails) == 1)
        mail = inbox.mails[0]
        assert mail["To"] == owner.email
        assert mail["Subject"].startswith(f"[fleethub] low storage opened: {tid}")
        assert "12 MB free (limit 500 MB)" in mail.get_payload()
        tablet.heartbeat(disk_free_mb=5000)
        await eventually(lambda: len(inbox.mails) == 2)
        assert "low storage resolved" in inbox.mails[1]["Subject"]
        await eventually(lambda: messages(conn, sub) == [("sent", 1, 1), ("sent", 1, 1)])
    finally:
        tablet.close()


async def test_webhook_is_signed_retried_and_logged(
    alert_hub: RunningHub,
    fleet_factory: TestFleetFactory,
    database_url: str,
    conn: Conn,
    receiver: Receiver,
) -> None:
    fleet = await fleet_factory(tablets=1)
    owner = await owner_of(database_url, fleet.fleet_id)
    receiver.fail_first = 2
    spec = SubscriptionSpec("webhook", receiver.url + "/hook", secret=SECRET)
    sub = await subscribe(database_url, owner, spec)
    await incident(database_url, fleet.fleet_id, fleet.tablet_ids[0], "crash_loop", "opened")
    await eventually(lambda: messages(conn, sub) == [("sent", 1, 3)])
    assert len(receiver.requests) == 3
    path, headers, body = receiver.requests[-1]
    assert path == "/hook"
    assert verify(
        SECRET, headers["X-Fleethub-Timestamp"], body, headers["X-Fleethub-Signature"], time.time()
    )
    assert not verify(SECRET, "1000", body, headers["X-Fleethub-Signature"], time.time())
    sent = json.loads(body)
    assert [e["kind"] for e in sent["events"]] == ["crash_loop"]
    log = conn.execute(
        "SELECT a.ok, a.code FROM alert_attempts a JOIN alert_messages m USING (message_id)"
        " WHERE m.subscription_id = %s ORDER BY a.attempt",
        (sub,),
    ).fetchall()
    assert log == [(False, 500), (False, 500), (True, 200)]


async def test_a_failing_channel_blocks_no_other_and_telegram_is_called(
    alert_hub: RunningHub,
    fleet_factory: TestFleetFactory,
    database_url: str,
    conn: Conn,
    receiver: Receiver,
    smtp: tuple[Inbox, int],
) -> None:
    inbox, _ = smtp
    fleet = await fleet_factory(tablets=1)
    owner = await owner_of(database_url, fleet.fleet_id)
    dead = await subscribe(
        database_url, owner, SubscriptionSpec("webhook", "http://127.0.0.1:9/x", secret=SECRET)
    )
    mail = await subscribe(database_url, owner, SubscriptionSpec("email", owner.email))
    chat = await subscribe(database_url, owner, SubscriptionSpec("telegram", "-100123"))
    await incident(database_url, fleet.fleet_id, fleet.tablet_ids[0], "not_charging", "opened")
    await eventually(lambda: messages(conn, mail) == [("sent", 1, 1)])
    await eventually(lambda: messages(conn, chat) == [("sent", 1, 1)])
    await eventually(lambda: messages(conn, dead) == [("failed", 1, 3)])
    path, _, body = receiver.requests[0]
    assert path == "/bot123:test-token/sendMessage"
    sent = json.loads(body)
    assert sent["chat_id"] == "-100123"
    assert "not charging opened" in sent["text"]
    assert len(inbox.mails) == 1


async def test_a_transient_smtp_reply_is_retried_and_a_permanent_one_is_not(
    alert_hub: RunningHub,
    fleet_factory: TestFleetFactory,
    database_url: str,
    conn: Conn,
    smtp: tuple[Inbox, int],
) -> None:
    inbox, _ = smtp
    fleet = await fleet_factory(tablets=2)
    owner = await owner_of(database_url, fleet.fleet_id)
    sub = await subscribe(database_url, owner, SubscriptionSpec("email", owner.email))
    inbox.answers = ["451 4.3.0 try again later"]
    await incident(database_url, fleet.fleet_id, fleet.tablet_ids[0], "low_storage", "opened")
    await eventually(lambda: messages(conn, sub) == [("sent", 1, 2)])
    assert len(inbox.mails) == 1
    inbox.answers = ["554 5.7.1 refused for policy reasons"]
    await incident(database_url, fleet.fleet_id, fleet.tablet_ids[1], "low_storage", "opened")
    await eventually(lambda: messages(conn, sub) == [("sent", 1, 2), ("failed", 1, 1)])
    codes = conn.execute(
        "SELECT a.code FROM alert_attempts a JOIN alert_messages m USING (message_id)"
        " WHERE m.subscription_id = %s ORDER BY m.message_id, a.attempt",
        (sub,),
    ).fetchall()
    assert codes == [(451,), (250,), (554,)]


async def test_a_digest_collapses_many_tablets_into_one_message(
    alert_hub: RunningHub,
    fleet_factory: TestFleetFactory,
    database_url: str,
    conn: Conn,
    smtp: tuple[Inbox, int],
) -> None:
    inbox, _ = smtp
    fleet = await fleet_factory(tablets=30)
    owner = await owner_of(database_url, fleet.fleet_id)
    sub = await subscribe(database_url, owner, SubscriptionSpec("email", owner.email, digest_s=2))
    for tablet_id in fleet.tablet_ids:
        await incident(database_url, fleet.fleet_id, tablet_id, "offline", "opened")
    await eventually(lambda: messages(conn, sub) == [("sent", 30, 1)])
    (mail,) = inbox.mails
    assert mail["Subject"].startswith("[fleethub] 30 alerts (30 opened)")
    assert "offline opened: 30 tablets" in mail.get_payload()
    # Each event is one delivery of this subscription, whatever happens to it later.
    deliveries = conn.execute(
        "SELECT count(*), count(DISTINCT notification_id) FROM alert_deliveries"
        " WHERE subscription_id = %s",
        (sub,),
    ).fetchone()
    assert deliveries == (30, 30)


async def test_other_fleets_and_kinds_are_not_sent(
    alert_hub: RunningHub,
    fleet_factory: TestFleetFactory,
    database_url: str,
    conn: Conn,
) -> None:
    mine, other = await fleet_factory(tablets=1), await fleet_factory(tablets=1)
    owner = await owner_of(database_url, mine.fleet_id)
    sub = await subscribe(
        database_url, owner, SubscriptionSpec("telegram", "42", kinds=("low_storage",))
    )
    await incident(database_url, other.fleet_id, other.tablet_ids[0], "low_storage", "opened")
    await incident(database_url, mine.fleet_id, mine.tablet_ids[0], "clock_skew", "opened")
    await incident(database_url, mine.fleet_id, mine.tablet_ids[0], "low_storage", "opened")
    await eventually(lambda: messages(conn, sub) == [("sent", 1, 1)])
    fanned = conn.execute(
        "SELECT count(*) FROM alert_deliveries WHERE subscription_id = %s", (sub,)
    ).fetchone()
    assert fanned == (1,)
    await asyncio.sleep(0)


def test_quiet_hours_hold_a_delivery_until_they_end() -> None:
    from datetime import time as clock

    from hub.notify.schedule import due_at

    now = datetime(2024, 5, 1, 23, 30, tzinfo=UTC)  # 07:30 in Singapore
    assert due_at(0, None, None, "UTC", now) == now
    assert due_at(60, None, None, "UTC", now) == now + timedelta(seconds=60)
    # Quiet 22:00–07:00 UTC: held until 07:00 the next morning.
    held = due_at(0, clock(22), clock(7), "UTC", now)
    assert held == datetime(2024, 5, 2, 7, 0, tzinfo=UTC)
    # The same hours in Singapore: 07:30 there is past them.
    assert due_at(0, clock(22), clock(7), "Asia/Singapore", now) == now
    # Quiet 12:00–14:00 (not past midnight), outside and inside.
    assert due_at(0, clock(12), clock(14), "UTC", now) == now
    noon = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert due_at(0, clock(12), clock(14), "UTC", noon) == datetime(2024, 5, 1, 14, tzinfo=UTC)
