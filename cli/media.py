"""``fleethub media``: the media library from the command line (docs/media.md)."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TransferSpeedColumn

from config.settings import Settings
from devtools.local import database_url
from media.blobs import open_blobs
from media.ingest import Upload, from_file, ingest
from media.probe import MediaRefused
from store import db

media_app = typer.Typer(
    help="The media library (videos and images tablets play).", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)
ACTOR = "cli"


def _advance(bar: Progress, task: TaskID, done: int) -> None:
    bar.update(task, completed=done)


async def _add(
    settings: Settings, url: str, files: list[Path], name: str | None, upload: Upload
) -> int:
    """Upload each file; the number refused."""
    blobs = open_blobs(settings)
    refused = 0
    columns = ("[progress.description]{task.description}", BarColumn(), DownloadColumn())
    async with db.connect(url) as conn:
        for path in files:
            wanted = Upload(
                upload.tenant_id, upload.actor, name or path.name, upload.tags, upload.campaign_id
            )
            with Progress(*columns, TransferSpeedColumn(), console=console, transient=True) as bar:
                task = bar.add_task(path.name, total=path.stat().st_size)
                try:
                    received = await from_file(
                        path,
                        blobs,
                        settings.media_max_bytes,
                        functools.partial(_advance, bar, task),
                    )
                    bar.update(task, completed=received.bytes, description=f"{path.name}: checking")
                    done = await ingest(conn, blobs, received, wanted)
                except MediaRefused as exc:
                    err.print(f"[red]refused[/] {path}: {exc}")
                    refused += 1
                    continue
            m = done.media
            what = "added" if done.created else "already in the library as"
            length = f"{m.play_ms / 1000:.1f} s"
            console.print(
                f"{what} {m.media_id} {m.name!r}: {m.kind} {m.content_type} {m.width}×{m.height}"
                f" {length} v{m.version} sha256 {m.sha256[:12]}…"
            )
    return refused


@media_app.command("add")
def media_add(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Videos (MP4/H.264, WebM) and images.", exists=True, dir_okay=False, readable=True
        ),
    ],
    name: Annotated[
        str | None, typer.Option(help="Its name in the library (default: the file's).")
    ] = None,
    tags: Annotated[str, typer.Option(help="Comma-separated tags.")] = "",
    tenant: Annotated[str, typer.Option(help="The tenant whose library it joins.")] = "default",
    campaign: Annotated[str | None, typer.Option(help="The campaign it belongs to.")] = None,
) -> None:
    """Upload files into a tenant's media library (the type is read from each file)."""
    settings = Settings()
    tag_list = list(dict.fromkeys(t.strip() for t in tags.split(",") if t.strip()))
    upload = Upload(tenant, ACTOR, "", tag_list, campaign)
    with database_url(settings) as url:
        refused = asyncio.run(_add(settings, url, files, name, upload))
    if refused:
        raise typer.Exit(1)
