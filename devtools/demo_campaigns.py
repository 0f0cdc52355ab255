"""The demo's campaigns (``fleethub up``): the example zones (devtools/example_zones/, a rough
Singapore CBD and Changi Airport, drawn by hand), an advertiser account with its advertiser
user, two creatives generated into the library, and two running campaigns — one targeted at
the CBD, one at the airport — so the simulated cars (which drive loops through Singapore,
devtools/simulator/routes.py) play each only inside its zone, and the advertiser's delivery
page and map fill up.

Safe to run again: what exists is left as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from actors.rules.geo import parse_zone
from config.settings import Settings
from devtools import media_samples
from media.blobs import open_blobs
from media.ingest import Upload, from_file, ingest
from store import advertisers, zones
from store import campaigns as campaign_store
from store.campaigns import Scope, Spec

Conn = psycopg.AsyncConnection[tuple[object, ...]]
EXAMPLES = Path(__file__).parent / "example_zones"
ADVERTISER = "acme-travel"
TIMEZONE = "Asia/Singapore"


@dataclass(frozen=True, slots=True)
class DemoCampaign:
    campaign_id: str
    name: str
    zone_file: str
    creative: str
    colour: tuple[int, int, int]
    daily_goal: int


CAMPAIGNS = (
    DemoCampaign(
        "acme-cbd-lunch",
        "CBD lunch deals",
        "sg-cbd.geojson",
        "Lunch in the CBD",
        (190, 60, 40),
        2000,
    ),
    DemoCampaign(
        "acme-airport",
        "Fly with Acme",
        "sg-changi-airport.geojson",
        "Fly Acme",
        (30, 110, 170),
        500,
    ),
)


async def example_zones(conn: Conn, tenant_id: str, actor: str) -> dict[str, str]:
    """The example zones in the tenant (file name → zone id)."""
    out = {}
    for path in sorted(EXAMPLES.glob("*.geojson")):
        name = str(json.loads(path.read_text())["properties"]["name"])
        zone_id = await zones.by_name(conn, tenant_id, name)
        if zone_id is None:
            zone_id = await zones.add(
                conn, tenant_id, name, parse_zone(path.read_text()), "example", actor
            )
        out[path.name] = zone_id
    return out


async def _creative(conn: Conn, settings: Settings, tenant_id: str, demo: DemoCampaign) -> str:
    directory = settings.var_dir / "demo-media"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{demo.campaign_id}.png"
    if not path.exists():
        path.write_bytes(media_samples.image((1280, 720), demo.colour, demo.creative, "PNG"))
    blobs = open_blobs(settings)
    received = await from_file(path, blobs, settings.media_max_bytes)
    upload = Upload(tenant_id, "fleethub up", demo.creative, ["demo", "campaign"], demo.campaign_id)
    return (await ingest(conn, blobs, received, upload)).media.media_id


async def seed(
    conn: Conn, settings: Settings, tenant_id: str, fleet_id: str, advertiser_email: str
) -> list[str]:
    """The demo's advertiser, zones and running campaigns; their ids."""
    actor = "fleethub up"
    await advertisers.add(conn, tenant_id, ADVERTISER, "Acme Travel", actor)
    await advertisers.link_user(conn, tenant_id, ADVERTISER, advertiser_email, actor)
    zone_ids = await example_zones(conn, tenant_id, actor)
    today = datetime.now(ZoneInfo(TIMEZONE)).date()
    start = datetime.combine(today, time(0), ZoneInfo(TIMEZONE))
    scope = Scope(tenant_id)
    for demo in CAMPAIGNS:
        if await campaign_store.exists(conn, tenant_id, demo.campaign_id):
            continue
        media_id = await _creative(conn, settings, tenant_id, demo)
        spec = Spec(
            campaign_id=demo.campaign_id,
            advertiser_id=ADVERTISER,
            name=demo.name,
            brand="Acme Travel",
            timezone=TIMEZONE,
            flight_start=start,
            flight_end=start + timedelta(days=30),
            daily_goal=demo.daily_goal,
            priority=3,
            fleets=(fleet_id,),
            zones=(zone_ids[demo.zone_file],),
            creatives=(media_id,),
        )
        await campaign_store.save(conn, scope, spec, actor, create=True)
        await campaign_store.act(
            conn, tenant_id, demo.campaign_id, "approve", actor, datetime.now(UTC)
        )
    return [d.campaign_id for d in CAMPAIGNS]
