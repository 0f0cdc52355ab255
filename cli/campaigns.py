"""``fleethub advertiser`` and ``fleethub zone``: advertiser accounts and zones from the command
line (docs/campaigns.md); campaigns themselves are drafted and approved in the panel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import psycopg
import typer
from rich.console import Console

from actors.rules.geo import parse_zone
from config.settings import Settings
from devtools.local import database_url
from store import advertisers, db, zones

advertiser_app = typer.Typer(help="Advertiser accounts (campaigns).", no_args_is_help=True)
zone_app = typer.Typer(help="Zones: named polygons campaigns target.", no_args_is_help=True)
console = Console()
ACTOR = "cli"
T = TypeVar("T")
Conn = psycopg.AsyncConnection[tuple[object, ...]]
Tenant = Annotated[str, typer.Option(help="The tenant.")]


def _on_store(work: Callable[[Conn], Awaitable[T]]) -> T:
    async def run(url: str) -> T:
        async with db.connect(url) as conn:
            return await work(conn)

    with database_url(Settings()) as url:
        return asyncio.run(run(url))


@advertiser_app.command("add")
def advertiser_add(
    advertiser_id: Annotated[str, typer.Argument(help="A slug, e.g. acme-travel.")],
    name: Annotated[str, typer.Option(help="Its name.")],
    tenant: Tenant = "default",
) -> None:
    """Create (or rename) an advertiser account."""
    created = _on_store(lambda conn: advertisers.add(conn, tenant, advertiser_id, name, ACTOR))
    console.print(f"advertiser {advertiser_id} {'added' if created else 'renamed'}")


@advertiser_app.command("link")
def advertiser_link(
    advertiser_id: Annotated[str, typer.Argument(help="The account.")],
    email: Annotated[str, typer.Argument(help="An advertiser user of the tenant.")],
    tenant: Tenant = "default",
) -> None:
    """Make an advertiser user act for the account (it sees the account's campaigns)."""
    _on_store(lambda conn: advertisers.link_user(conn, tenant, advertiser_id, email, ACTOR))
    console.print(f"{email} acts for {advertiser_id}")


@zone_app.command("add")
def zone_add(
    file: Annotated[
        Path,
        typer.Argument(
            help="A GeoJSON Polygon, MultiPolygon or Feature.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    name: Annotated[str, typer.Option(help="Its name, unique in the tenant.")],
    tenant: Tenant = "default",
) -> None:
    """Add a zone from a GeoJSON file (refused with the reason when it is not a valid zone)."""
    shape = parse_zone(file.read_bytes())
    zone_id = _on_store(lambda conn: zones.add(conn, tenant, name, shape, "upload", ACTOR))
    console.print(f"zone {zone_id} ({name}): {shape.vertices} positions, {shape.area_km2} km²")
