"""``fleethub command``: remote commands from the command line (docs/device-ops.md)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

import typer
from rich.console import Console

from config.durations import parse_duration
from config.errors import ConfigError
from config.settings import Settings
from devtools.local import database_url
from store import commands, db
from store.users import User

command_app = typer.Typer(help="Remote commands to tablets.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)
ACTOR = "cli"
FINAL = ("succeeded", "failed", "expired")


def _progress(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    done = sum(counts.get(s, 0) for s in FINAL)
    parts = ", ".join(f"{counts[s]} {s}" for s in (*FINAL, "delivered", "queued") if counts.get(s))
    return f"{done} of {total} done: {parts}"


async def _send(
    url: str, user: User, name: str, args: dict[str, Any], wait: bool, **where: Any
) -> int:
    async with db.connect(url) as conn:
        issued = await commands.issue(conn, user, name, args, **where)
    console.print(f"command {issued.command_id}: {name} to {issued.targets} tablets")
    return await _wait(url, issued.command_id) if wait else 0


async def _wait(url: str, command_id: uuid.UUID) -> int:
    """Print the progress until every target is done; 1 when any failed or expired."""
    last = ""
    while True:
        async with db.connect(url) as conn:
            counts = await commands.states(conn, command_id)
        line = _progress(counts)
        if line != last:
            console.print(line)
            last = line
        if not counts.get("queued") and not counts.get("delivered"):
            return 1 if counts.get("failed") or counts.get("expired") else 0
        await asyncio.sleep(1)


@command_app.command("send")
def command_send(
    name: Annotated[
        str,
        typer.Argument(
            help="reboot, restart_app, screenshot, refresh_manifest, clear_cache, set_volume,"
            " set_brightness"
        ),
    ],
    tablet: Annotated[
        list[str] | None, typer.Option("--tablet", help="A tablet to send it to (repeat).")
    ] = None,
    fleet: Annotated[
        str | None, typer.Option(help="Send it to every tablet of this fleet.")
    ] = None,
    level: Annotated[
        int | None, typer.Option(help="set_volume / set_brightness: 0 to 100.")
    ] = None,
    expires: Annotated[str, typer.Option(help="How long tablets may get it: 10m, 1h, 1d.")] = "1h",
    tenant: Annotated[str, typer.Option(help="The tenant of the tablets.")] = "default",
    wait: Annotated[
        bool, typer.Option(help="Follow the progress until every tablet is done.")
    ] = False,
) -> None:
    """Queue a command for tablets (audited as "cli"); with --wait, exit 1 if any failed or
    expired."""
    if name not in commands.PANEL_COMMANDS:
        err.print(f"[red]refused[/]: no command {name!r}")
        raise typer.Exit(2)
    settings = Settings()
    user = User(0, tenant, ACTOR, ACTOR, "admin", None)
    args: dict[str, Any] = {} if level is None else {"level": level}
    try:
        seconds = parse_duration(expires)
        where: dict[str, Any] = {"tablets": tablet or None, "fleet": fleet, "expires_s": seconds}
        with database_url(settings) as url:
            code = asyncio.run(_send(url, user, name, args, wait, **where))
    except ConfigError as exc:
        err.print(f"[red]refused[/]: {exc}")
        raise typer.Exit(2) from None
    if code:
        raise typer.Exit(code)
