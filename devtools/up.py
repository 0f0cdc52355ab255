"""``fleethub up``: broker, store, hub, panel and simulated tablets on loopback, one command.

The store and the broker are the embedded ones unless their URLs are set. The
hub, the panel and the simulator run as child processes of this one (the same
commands an operator runs alone); Ctrl-C stops them in reverse order, then the
broker and the store. Data stays in ``var/`` for the next run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console

from broker.processes import Child, port_open
from broker.runner import embedded_broker
from config.errors import HubError
from config.settings import MqttTarget, Settings
from devtools import demo, demo_billing, demo_campaigns, demo_ops
from devtools.demo_media import FILES, seed_library
from devtools.mail_catcher import MailCatcher
from store import activity, db, users

# The first simulated tablet's storage runs low this long after it starts: its low_storage
# incident reaches the fleet owner's e-mail subscription (devtools/demo_ops.py).
LOW_STORAGE_AFTER_S = 30
LOW_STORAGE = ("--low-storage-after", f"{LOW_STORAGE_AFTER_S}s")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def up(settings: Settings, simulate: int, console: Console) -> None:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    logs = settings.var_dir / "logs"
    since = datetime.now(UTC)
    # SIGTERM/SIGHUP stop everything as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    with ExitStack() as stack:
        database_url = settings.database_url or _start_store(settings, stack, console)
        db.migrate(database_url)
        key = demo.secret(settings.var_dir)
        with console.status("seeding the demo (fleet, users, media library, earnings)…"):
            ids, driver_token = asyncio.run(_seed(database_url, simulate, settings, key))
        tablets = {i: demo.password(key, i) for i in ids}
        target = settings.mqtt_target() or _start_broker(settings, stack, console, tablets)
        env = {
            **os.environ,
            "FLEETHUB_DATABASE_URL": database_url,
            "FLEETHUB_MQTT_URL": target.url(),
        }
        mailbox = None
        if settings.smtp_url is None:  # alert e-mails go to the demo's own mail catcher
            catcher = MailCatcher().start()
            stack.callback(catcher.stop)
            mailbox = catcher.url
            env |= {"FLEETHUB_SMTP_URL": catcher.smtp_url, "FLEETHUB_SMTP_STARTTLS": "false"}
            env["FLEETHUB_DEMO_MAILBOX_URL"] = mailbox
        web_env = dict(env)  # only the panel provisions tablets (pairing, revocation)
        if not settings.mqtt_url:
            web_env["FLEETHUB_PROVISION_MQTT_URL"] = (
                embedded_broker(settings).provision_target().url()
            )
        exe = [sys.executable, "-m", "cli.main"]
        children = [
            Child("hub", [*exe, "run"], logs / "hub.log", env=env),
            Child("web", [*exe, "web"], logs / "web.log", env=web_env),
        ]
        if simulate:
            children.append(
                Child(
                    "simulator",
                    [*exe, "simulate", "--count", str(simulate), "--churn", *LOW_STORAGE],
                    logs / "simulator.log",
                    env=env,
                )
            )
        stack.callback(_stop_all, children, console)
        _wait_web(settings, children[1])
        logins = demo.panel_logins(key)
        _banner(console, settings, database_url, target, simulate, logins, driver_token, mailbox)
        _watch(console, database_url, children, since)


async def _seed(
    database_url: str, simulate: int, settings: Settings, key: bytes
) -> tuple[list[str], str]:
    """The demo (devtools/demo.py), its media library (devtools/demo_media.py), its campaigns
    (devtools/demo_campaigns.py) and its earnings (devtools/demo_billing.py); the tablets and
    a driver's sign-in token."""
    async with db.connect(database_url) as conn:
        await users.add_tenant(conn, demo.DEMO_TENANT, "Demo tenant", "fleethub up")
        library = await seed_library(conn, settings, demo.DEMO_TENANT)
        ids = await demo.seed(conn, simulate, settings.playlist_refresh_interval_s, key, library)
        await demo_campaigns.seed(
            conn, settings, demo.DEMO_TENANT, demo.DEMO_FLEET, demo.ADVERTISER_EMAIL
        )
        agent = await users.agent_id(conn, demo.AGENT_EMAIL)
        assert agent is not None
        token = await demo_billing.seed(
            conn, demo.DEMO_TENANT, demo.DEMO_FLEET, ids, agent, demo.qr_code(key)
        )
    await demo_ops.seed_alerts(database_url)
    return ids, token


def _stop_all(children: list[Child], console: Console, timeout: float = 15.0) -> None:
    """Interrupt every child at once, then wait; a child that hangs is killed and named."""
    for child in children:
        child.interrupt(signal.SIGINT)
    deadline = time.monotonic() + timeout
    for child in children:
        if not child.finish(deadline - time.monotonic()):
            console.print(
                f"[yellow]{child.name} did not stop in {timeout:.0f} s: killed[/]"
                f" (see {child.log_path})"
            )


def _start_store(settings: Settings, stack: ExitStack, console: Console) -> str:
    from devtools.embedded_db import EmbeddedPostgres

    server = EmbeddedPostgres(settings.pgdata_dir, port=settings.db_port)
    with console.status("starting PostgreSQL (embedded)…"):
        url = server.start()
    stack.callback(server.stop)
    return url


def _start_broker(
    settings: Settings, stack: ExitStack, console: Console, tablets: dict[str, str]
) -> MqttTarget:
    broker = embedded_broker(settings)
    with console.status("starting Mosquitto…"):
        # The seeded tablets go into the dynsec file before the broker starts (thousands
        # of $CONTROL commands would each rewrite it); later ones are added at runtime.
        asyncio.run(broker.set_credentials(tablets))
        broker.start()
    stack.callback(broker.stop)
    return broker.hub_target()


def _wait_web(settings: Settings, web: Child) -> None:
    deadline = time.monotonic() + 30
    while not port_open(settings.web_host, settings.web_port):
        if not web.alive() or time.monotonic() > deadline:
            raise HubError(f"the panel did not start; see {web.log_path}")
        time.sleep(0.1)


def _metrics_addresses(settings: Settings) -> str:
    """Where Prometheus scrapes the panel and the hub (docs/operations.md, "Metrics")."""
    panel = f"panel http://{settings.web_host}:{settings.web_port}/metrics"
    if not settings.hub_metrics_port:
        return f"{panel} · hub off (set FLEETHUB_HUB_METRICS_PORT)"
    return f"{panel} · hub http://{settings.hub_metrics_host}:{settings.hub_metrics_port}/metrics"


def _banner(
    console: Console,
    settings: Settings,
    database_url: str,
    target: MqttTarget,
    simulate: int,
    logins: list[demo.PanelLogin],
    driver_token: str,
    mailbox: str | None = None,
) -> None:
    console.rule("[bold]fleethub is up")
    console.print(f"panel     http://{settings.web_host}:{settings.web_port}/")
    for login in logins:
        role = login.role.replace("_", " ")
        console.print(f"  sign in as {role:<12} {login.email}  password {login.password}")
    console.print(
        f"lead form http://{settings.web_host}:{settings.web_port}/l/"
        f"{demo.qr_code(demo.secret(settings.var_dir))}  (leads go to the agent's"
        " inbox)"
    )
    console.print(
        f"driver    http://{settings.web_host}:{settings.web_port}/signin/{driver_token}"
        "  (one-time sign-in link of a demo driver: their earnings and tablet)"
    )
    console.print(
        f"broker    mqtt://{target.host}:{target.port}  (hub accounts "
        f"{settings.hub_client_id}-0 and -0-out, panel {settings.web_client_id})"
    )
    console.print(f"store     {_without_password(database_url)}")
    console.print(
        f"library   {len(FILES)} demo media in {settings.media_store_url()} (the tablets"
        f" download, verify and play them: see {_panel(settings)}/library and"
        f" {_panel(settings)}/reports/plays)"
    )
    console.print(
        f"tablets   {simulate} simulated in fleet '{demo.DEMO_FLEET}'"
        " (heartbeat 10 s, some drop out and come back; the cars drive loops through Singapore)"
    )
    console.print(
        f"campaigns {', '.join(d.campaign_id for d in demo_campaigns.CAMPAIGNS)}: each plays"
        f" only in its zone (the CBD, Changi Airport); the advertiser sees where at"
        f" {_panel(settings)}/campaigns"
    )
    if mailbox:
        first = demo.tablet_ids(1)[0] if simulate else "a tablet"
        console.print(
            f"mailbox   {mailbox}  (alert e-mails: the fleet owner is subscribed; {first}"
            f" runs low on storage {LOW_STORAGE_AFTER_S} s in; {_panel(settings)}/alerts/channels)"
        )
    console.print(
        f"commands  {_panel(settings)}/commands (screenshots, reboots, volume: the simulated"
        f" tablets run them)  ·  app rollouts {_panel(settings)}/rollouts"
    )
    console.print(f"logs      {settings.var_dir / 'logs'}/")
    console.print(f"metrics   {_metrics_addresses(settings)}")
    console.print("try       .venv/bin/fleethub status --fleet demo   ·   Ctrl-C stops everything")
    console.rule()


def _panel(settings: Settings) -> str:
    return f"http://{settings.web_host}:{settings.web_port}"


def _without_password(url: str) -> str:
    """The store's URL as printed: its password (the embedded one's is in var/) masked."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _watch(console: Console, database_url: str, children: list[Child], since: datetime) -> None:
    try:
        asyncio.run(_follow(console, database_url, children, since))
    except KeyboardInterrupt:
        console.print("\nstopping…")


async def _follow(
    console: Console, database_url: str, children: list[Child], since: datetime
) -> None:
    """Print what changes in the store every 2 s until a child exits or Ctrl-C."""
    moved_since: object = since  # the last row printed of each kind
    acked_since: object = since
    last_line, last_at = "", 0.0
    async with db.connect(database_url) as conn:
        while True:
            for child in children:
                if not child.alive():
                    raise HubError(f"{child.name} exited; see {child.log_path}")
            for at, tablet_id, to_state, reason in await activity.recent_transitions(
                conn, moved_since
            ):
                colour = "green" if to_state == "online" else "red"
                console.print(f"{at:%H:%M:%S} {tablet_id} [{colour}]{to_state}[/] ({reason})")
                moved_since = at
            for at, tablet_id, status, etag in await activity.recent_deliveries(conn, acked_since):
                console.print(f"{at:%H:%M:%S} {tablet_id} {status} playlist {str(etag)[:8]}")
                acked_since = at
            counts = await activity.state_counts(conn)
            applied = await activity.playing_desired(conn)
            line = (
                f"[bold]{counts.get('online', 0)} online[/] · {counts.get('offline', 0)} "
                f"offline · {counts.get('unknown', 0)} never seen · "
                f"{applied} playing the desired playlist"
            )
            if line != last_line or time.monotonic() - last_at > 60:
                console.print(line, style="dim")  # on change, else once a minute
                last_line, last_at = line, time.monotonic()
            await asyncio.sleep(2)
