"""The ``fleethub`` command line (typer). Names and flags are a contract: keep them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import psycopg
import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.table import Table

from actors.rules.dayparts import Daypart
from broker import dynsec, dynsec_file
from broker.runner import embedded_broker
from cli.bench import bench_command
from cli.campaigns import advertiser_app, zone_app
from cli.commands import command_app
from cli.media import media_app
from config.durations import parse_duration
from config.errors import ConfigError, HubError
from config.settings import Settings
from contract.payloads import PlaylistItem
from devtools.local import database_url, mqtt_target, provision_target
from store import claims, db, device_tokens, fleets, media, playlists, revocation, users

app = typer.Typer(
    help="fleethub: realtime control plane for in-car ad tablets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
fleet_app = typer.Typer(help="Fleets.", no_args_is_help=True)
tablet_app = typer.Typer(help="Tablets.", no_args_is_help=True)
playlist_app = typer.Typer(help="Playlists.", no_args_is_help=True)
app.add_typer(fleet_app, name="fleet")
app.add_typer(tablet_app, name="tablet")
app.add_typer(playlist_app, name="playlist")
claim_app = typer.Typer(help="Claim codes: how new tablets pair themselves.", no_args_is_help=True)
app.add_typer(claim_app, name="claim")
tenant_app = typer.Typer(help="Tenants (the companies sharing one fleethub).", no_args_is_help=True)
user_app = typer.Typer(help="Panel users.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(user_app, name="user")
agent_app = typer.Typer(help="Lead agents' apps (MQTT credentials).", no_args_is_help=True)
app.add_typer(agent_app, name="agent")
app.add_typer(media_app, name="media")
app.add_typer(advertiser_app, name="advertiser")
app.add_typer(zone_app, name="zone")
app.add_typer(command_app, name="command")

console = Console()
err = Console(stderr=True)
ACTOR = "cli"
T = TypeVar("T")
Conn = psycopg.AsyncConnection[tuple[object, ...]]


def _on_store(url: str, work: Callable[[Conn], Awaitable[T]]) -> T:
    """Run one command's store work on a connection of its own (the store is async only)."""

    async def run() -> T:
        async with db.connect(url) as conn:
            return await work(conn)

    return asyncio.run(run())


def _settings() -> Settings:
    return Settings()


def _logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )


def _duration(text: str | None) -> int | None:
    return parse_duration(text) if text is not None else None


@app.command()
def migrate() -> None:
    """Create or upgrade the schema (safe to run twice)."""
    with database_url(_settings()) as url:
        applied = db.migrate(url)
    console.print(
        f"applied {len(applied)} migration(s)"
        + (f": {', '.join(applied)}" if applied else "; the schema is up to date")
    )


@fleet_app.command("add")
def fleet_add(
    fleet_id: Annotated[str, typer.Argument(help="The fleet's slug, e.g. grab-sg.")],
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. Asia/Singapore.")] = "UTC",
    alert_after: Annotated[str, typer.Option(help="Offline this long → incident.")] = "5m",
    hours: Annotated[str, typer.Option(help='e.g. "mon-fri 07:00-22:00,sat 09:00-18:00"')] = "",
    flap_limit: Annotated[int, typer.Option(min=1, help="Transitions per hour.")] = 6,
    tenant: Annotated[str, typer.Option(help="The tenant that owns the fleet.")] = "default",
) -> None:
    """Create (or update) a fleet."""
    spec = fleets.FleetSpec(
        fleet_id, timezone, parse_duration(alert_after), hours, flap_limit, tenant_id=tenant
    )
    with database_url(_settings()) as url:
        created = _on_store(url, lambda conn: fleets.add_fleet(conn, spec, ACTOR))
    console.print(f"fleet {fleet_id} {'added' if created else 'updated'}")


@tenant_app.command("add")
def tenant_add(
    tenant_id: Annotated[str, typer.Argument(help="The tenant's slug, e.g. acme-ads.")],
    name: Annotated[str | None, typer.Option(help="Display name (default: the slug).")] = None,
) -> None:
    """Create (or rename) a tenant."""
    with database_url(_settings()) as url:
        created = _on_store(
            url, lambda conn: users.add_tenant(conn, tenant_id, name or tenant_id, ACTOR)
        )
    console.print(f"tenant {tenant_id} {'added' if created else 'updated'}")


@user_app.command("add")
def user_add(
    email: Annotated[str, typer.Argument(help="Sign-in e-mail.")],
    tenant: Annotated[str, typer.Option(help="The tenant the user belongs to.")],
    role: Annotated[str, typer.Option(help="admin, fleet_owner, agent or advertiser.")],
    name: Annotated[str | None, typer.Option(help="Display name (default: the e-mail).")] = None,
    fleet_ids: Annotated[
        list[str] | None, typer.Option("--fleet", help="A fleet a fleet owner sees (repeat).")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(help="Default: asked for (not echoed).", envvar="FLEETHUB_USER_PASSWORD"),
    ] = None,
    campaigns: Annotated[
        list[str] | None,
        typer.Option("--campaign", help="A campaign an advertiser uploads media for (repeat)."),
    ] = None,
) -> None:
    """Create a panel user (or reset their role, fleets and password)."""
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with database_url(_settings()) as url:

        async def save(conn: Conn) -> int:
            user_id = await users.add_user(
                conn,
                tenant_id=tenant,
                email=email,
                name=name or email,
                role=role,
                password=password,
                fleets=fleet_ids or [],
                actor=ACTOR,
            )
            await media.grant_campaigns(conn, user_id, campaigns or [])
            return user_id

        user_id = _on_store(url, save)
    console.print(f"user {email} ({role}, tenant {tenant}) saved as #{user_id}")


@tablet_app.command("add")
def tablet_add(
    tablet_id: Annotated[str, typer.Argument(help="The tablet's id (its MQTT user name).")],
    fleet_id: Annotated[str, typer.Option("--fleet", help="The fleet it belongs to.")],
    car: Annotated[str | None, typer.Option(help="The car it is mounted in.")] = None,
    heartbeat_interval: Annotated[str, typer.Option(help="How often it reports.")] = "60s",
    offline_after: Annotated[str | None, typer.Option(help="Default 3 × interval.")] = None,
    password: Annotated[str | None, typer.Option(help="Its broker password.")] = None,
) -> None:
    """Register (or update) a tablet, and its broker credentials when fleethub runs the broker."""
    settings = _settings()
    spec = fleets.TabletSpec(
        tablet_id, fleet_id, car, parse_duration(heartbeat_interval), _duration(offline_after)
    )
    with database_url(settings) as url:
        created = _on_store(url, lambda conn: fleets.add_tablet(conn, spec, ACTOR))
    console.print(f"tablet {tablet_id} {'added' if created else 'updated'} in fleet {fleet_id}")
    if password is not None:
        if settings.provision_mqtt_url:
            asyncio.run(dynsec.provision_tablets(provision_target(settings), {tablet_id: password}))
            console.print("broker credentials set")
        elif settings.mqtt_url:
            err.print(
                "note: FLEETHUB_MQTT_URL is set without FLEETHUB_PROVISION_MQTT_URL; "
                "add the tablet's credentials to your broker."
            )
        else:
            asyncio.run(embedded_broker(settings).set_credentials({tablet_id: password}))
            console.print("broker credentials set")


@tablet_app.command("revoke")
def tablet_revoke(
    tablet_id: Annotated[str, typer.Argument(help="The tablet's id.")],
    no_broker: Annotated[
        bool,
        typer.Option(
            "--no-broker",
            help="The broker's accounts are managed outside fleethub (a broker without the "
            "dynamic-security plugin): revoke in fleethub only, remove its account yourself.",
        ),
    ] = False,
) -> None:
    """Revoke a tablet: device tokens end, broker credentials go (disconnecting it)."""
    settings = _settings()
    # Before the store changes: without the provisioning account the broker step would fail
    # after the revocation, which cannot be repeated to retry it.
    target = provision_target(settings) if settings.mqtt_url and not no_broker else None
    if target is not None:  # a broker without the plugin: said now, nothing changed
        asyncio.run(dynsec.check_plugin(target))
    with database_url(settings) as url:
        done = _on_store(url, lambda conn: revocation.revoke(conn, tablet_id, ACTOR))
    if done is None:
        raise ConfigError(f"no active tablet {tablet_id!r} (unknown or already revoked)")
    console.print(f"tablet {tablet_id} revoked ({done.tokens} device token(s) ended)")
    if no_broker:
        err.print(f"remove the broker account {tablet_id!r} in your broker: fleethub did not")
        return
    if target is not None:
        asyncio.run(dynsec.revoke_tablet(target, tablet_id))
    else:
        asyncio.run(embedded_broker(settings).remove_credentials(tablet_id))
    console.print("broker credentials removed")


@agent_app.command("credentials")
def agent_credentials(
    email: Annotated[str, typer.Argument(help="The agent's sign-in e-mail.")],
) -> None:
    """Create (or replace) an agent app's broker login; the password is printed once."""
    settings = _settings()
    with database_url(settings) as url:
        user_id = _on_store(url, lambda conn: users.agent_id(conn, email))
    if user_id is None:
        err.print(f"no enabled agent with e-mail {email}")
        raise typer.Exit(1)
    password = secrets.token_urlsafe(24)
    broker = embedded_broker(settings)
    if settings.mqtt_url:
        asyncio.run(dynsec.provision_agent(provision_target(settings), user_id, password))
    elif broker.running():
        asyncio.run(dynsec.provision_agent(broker.provision_target(), user_id, password))
    else:  # a stopped embedded broker reads its file at start
        broker.dynsec_path.parent.mkdir(parents=True, exist_ok=True)
        config = dynsec_file.read(broker.dynsec_path)
        dynsec_file.put_agent(config, user_id, password)
        dynsec_file.write(broker.dynsec_path, config)
    err.print(
        f"MQTT login of agent {email} (shown once; subscribe agents/{user_id}/leads, "
        "QoS 1, clean_session false):"
    )
    sys.stdout.write(f"username: {dynsec_file.agent_username(user_id)}\npassword: {password}\n")


@claim_app.command("create")
def claim_create(
    fleet_id: Annotated[str, typer.Option("--fleet", help="The fleet the tablet joins.")],
    car: Annotated[str | None, typer.Option(help="The car it will be mounted in.")] = None,
    ttl: Annotated[str, typer.Option(help="How long the code stays valid.")] = "24h",
) -> None:
    """Print a single-use claim code for a new tablet of the fleet."""
    lifetime = timedelta(seconds=parse_duration(ttl))
    with database_url(_settings()) as url:
        new = _on_store(url, lambda conn: claims.create(conn, fleet_id, ACTOR, lifetime, car))
    err.print(
        f"claim code for fleet {fleet_id}, valid until "
        f"{new.expires_at:%Y-%m-%d %H:%M %Z} (shown once):"
    )
    sys.stdout.write(new.code + "\n")


@tablet_app.command("token")
def tablet_token(
    tablet_id: Annotated[str, typer.Argument(help="The tablet's id.")],
    revoke: Annotated[
        bool, typer.Option("--revoke", help="Revoke every token of the tablet instead.")
    ] = False,
) -> None:
    """Print a new device token for the HTTP device API (shown once), or revoke them all."""
    with database_url(_settings()) as url:
        if revoke:
            count = _on_store(url, lambda conn: device_tokens.revoke(conn, tablet_id, ACTOR))
            console.print(f"revoked {count} device token(s) of tablet {tablet_id}")
            return
        token = _on_store(url, lambda conn: device_tokens.issue(conn, tablet_id, ACTOR))
    err.print(f"device token of tablet {tablet_id} (shown once; the store keeps only its hash):")
    sys.stdout.write(token + "\n")


@playlist_app.command("push")
def playlist_push(
    to: Annotated[str, typer.Option("--to", help="tablet:ID, car:ID, fleet:ID or all.")],
    items: Annotated[Path, typer.Option(help="JSON file holding the items array.")],
    emergency: Annotated[bool, typer.Option("--emergency", help="Override schedules.")] = False,
    expires: Annotated[str | None, typer.Option(help="Revert after this long.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit log).")] = None,
    days: Annotated[
        str | None,
        typer.Option("--days", help="Only on these ISO weekdays, fleet local time (1-5, 1,3,6-7)."),
    ] = None,
    between: Annotated[
        str | None,
        typer.Option(
            "--between",
            help="Only between these fleet local times (06:00-10:00; 22:00-02:00 runs overnight).",
        ),
    ] = None,
    tenant: Annotated[
        str | None,
        typer.Option(
            help="The tenant whose playlist it is: the target's own by default; "
            "needed with --to all when there are several tenants."
        ),
    ] = None,
) -> None:
    """Assign a playlist; prints its etag and how many tablets it targets."""
    settings = _settings()
    target = playlists.Target.parse(to)
    daypart = Daypart.parse(days, between)
    parsed = _read_items(items)

    async def push(conn: Conn) -> playlists.PushResult:
        return await playlists.push(
            conn,
            target,
            parsed,
            emergency=emergency,
            expires_s=_duration(expires),
            reason=reason,
            actor=ACTOR,
            refresh_s=settings.playlist_refresh_interval_s,
            daypart=daypart,
            tenant_id=await playlists.target_tenant(conn, target, tenant),
        )

    with database_url(settings) as url:
        result = _on_store(url, push)
    console.print(f"etag {result.etag}")
    console.print(f"targeted {result.targeted} tablet(s)")


def _read_items(path: Path) -> list[PlaylistItem]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise HubError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return TypeAdapter(list[PlaylistItem]).validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise HubError(f"{path}: {where}: {first['msg']}") from None


@app.command()
def status(
    fleet_id: Annotated[str | None, typer.Option("--fleet", help="Only this fleet.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON array.")] = False,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's fleets.")] = None,
) -> None:
    """One row per tablet: state, last heartbeat, playlist desired vs applied, open incident."""
    with database_url(_settings()) as url:
        rows = _on_store(url, lambda conn: fleets.status(conn, fleet_id, tenant))
    if as_json:
        out = [
            {
                "tablet_id": r.tablet_id,
                "fleet_id": r.fleet_id,
                "state": r.state,
                "last_heartbeat_at": r.last_heartbeat_at.isoformat()
                if r.last_heartbeat_at
                else None,
                "desired_etag": r.desired_etag,
                "applied_etag": r.applied_etag,
                "open_incident": r.open_incident,
            }
            for r in rows
        ]
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    table = Table(
        "tablet_id",
        "fleet_id",
        "state",
        "last_heartbeat_at",
        "desired_etag",
        "applied_etag",
        "open_incident",
    )
    for r in rows:
        colour = {"online": "green", "offline": "red"}.get(r.state, "yellow")
        table.add_row(
            r.tablet_id,
            r.fleet_id,
            f"[{colour}]{r.state}[/]",
            r.last_heartbeat_at.isoformat(timespec="seconds") if r.last_heartbeat_at else "-",
            (r.desired_etag or "-")[:12],
            (r.applied_etag or "-")[:12],
            r.open_incident or "-",
        )
    console.print(table)


@app.command()
def run(verbose: Annotated[bool, typer.Option("-v")] = False) -> None:
    """Run the hub alone (MQTT ↔ tablet actors ↔ store)."""
    from hub.gc_tuning import tune_gc
    from hub.runtime import Hub  # keeps short commands fast

    _logging(verbose)
    settings = _settings()
    tune_gc()
    with database_url(settings) as url:
        db.migrate(url)
        hub = Hub(settings, url, mqtt_target(settings))
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(hub.run())


@app.command()
def web() -> None:
    """Run the web panel alone."""
    import uvicorn

    from web.app import create_app

    settings = _settings()
    with database_url(settings) as url:
        # proxy_headers off: the app believes X-Forwarded-For only from FLEETHUB_TRUSTED_PROXIES.
        uvicorn.run(
            create_app(settings, url),
            host=settings.web_host,
            port=settings.web_port,
            log_level="info",
            proxy_headers=False,
        )


@app.command()
def up(
    simulate: Annotated[int, typer.Option(min=0, max=19_000, help="Simulated tablets.")] = 50,
) -> None:
    """Run everything on loopback: broker, store, hub, panel and simulated tablets."""
    from devtools.up import up as run_up

    with contextlib.suppress(KeyboardInterrupt):
        run_up(_settings(), simulate, console)
    console.print("stopped")


@app.command("simulate")
def simulate_cmd(
    count: Annotated[int, typer.Option(min=1, max=19_000, help="How many tablets.")] = 50,
    prefix: Annotated[str, typer.Option(help="Tablet ids are PREFIX0001, …")] = "demo-tab-",
    heartbeat_interval: Annotated[str, typer.Option(help="Per tablet.")] = "10s",
    duration: Annotated[str, typer.Option(help="Stop after this long.")] = "1h",
    churn: Annotated[bool, typer.Option("--churn", help="Drop a few now and then.")] = False,
    media: Annotated[
        bool, typer.Option(help="Download library media, play the loop, send proof of play.")
    ] = True,
    routes: Annotated[
        bool, typer.Option(help="Cars drive loops through Singapore (else drift near home).")
    ] = True,
    low_storage_after: Annotated[
        str | None,
        typer.Option(help="The first tablet reports 120 MB free storage after this long."),
    ] = None,
) -> None:
    """Run simulated tablets against the broker (passwords derived from var/simulator.secret)."""
    from devtools import demo
    from devtools.simulate import simulate
    from devtools.simulator import ChurnConfig, ContentConfig
    from devtools.simulator.routes import SINGAPORE

    _logging()
    settings = _settings()
    target = mqtt_target(settings)
    key = demo.secret(settings.var_dir)
    creds: list[tuple[str, str | None]] = [
        (i, demo.password(key, i)) for i in demo.tablet_ids(count, prefix)
    ]
    churn_cfg = ChurnConfig(interval_s=20, fraction=0.05, downtime_s=(5, 45)) if churn else None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            simulate(
                creds,
                target.host,
                target.port,
                parse_duration(heartbeat_interval),
                parse_duration(duration),
                churn_cfg,
                console,
                ContentConfig() if media else None,
                routes=SINGAPORE if routes else (),
                low_storage_after_s=(
                    parse_duration(low_storage_after) if low_storage_after else None
                ),
            )
        )


app.command("bench")(bench_command)


def main() -> None:
    # Ctrl-C must work even when the parent started us with SIGINT ignored (a background
    # job of a non-interactive shell, as CI does): Python then keeps SIG_IGN.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        app()
    except HubError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
