"""A campaign in the store for hub and panel tests: an advertiser, a library creative, a zone,
and the campaign itself, approved (running) or left a draft."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from actors.rules.dayparts import Daypart
from actors.rules.geo import parse_zone
from config.settings import Settings
from devtools import media_samples
from media.blobs import open_blobs
from media.ingest import Upload, from_file, ingest
from store import advertisers, zones
from store import campaigns as campaign_store
from tests.helpers import Conn

# A rough square over Singapore's CBD, and one over Changi Airport.
CBD_RING = [
    [103.845, 1.275],
    [103.860, 1.275],
    [103.860, 1.290],
    [103.845, 1.290],
    [103.845, 1.275],
]
AIRPORT_RING = [
    [103.975, 1.330],
    [104.000, 1.330],
    [104.000, 1.370],
    [103.975, 1.370],
    [103.975, 1.330],
]
IN_CBD, OUTSIDE, IN_AIRPORT = (1.282, 103.852), (1.320, 103.900), (1.350, 103.988)


def polygon(ring: list[list[float]]) -> str:
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


@dataclass
class Made:
    tenant_id: str
    advertiser_id: str
    campaign_id: str
    media_id: str
    sha256: str
    zone_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


async def creative(conn: Conn, settings: Settings, tenant_id: str, label: str) -> tuple[str, str]:
    """A generated image in the tenant's library: (media id, SHA-256)."""
    blobs = open_blobs(settings)
    path = settings.var_dir / f"{uuid.uuid4().hex}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(media_samples.image(label=label, fmt="PNG"))
    received = await from_file(path, blobs, settings.media_max_bytes)
    media = (await ingest(conn, blobs, received, Upload(tenant_id, "test", label, []))).media
    return media.media_id, media.sha256


async def make_campaign(
    conn: Conn,
    settings: Settings,
    tenant_id: str,
    *,
    fleets: tuple[str, ...] = (),
    zone_ring: list[list[float]] | None = None,
    approve: bool = True,
    advertiser_id: str | None = None,
    dayparts: tuple[Daypart, ...] = (),
    daily_goal: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Made:
    tag = uuid.uuid4().hex[:8]
    advertiser_id = advertiser_id or f"adv-{tag}"
    await advertisers.add(conn, tenant_id, advertiser_id, f"Advertiser {tag}", "test")
    media_id, sha = await creative(conn, settings, tenant_id, f"creative {tag}")
    zone_id = None
    if zone_ring is not None:
        zone = parse_zone(polygon(zone_ring))
        zone_id = await zones.add(conn, tenant_id, f"Zone {tag}", zone, "upload", "test")
    now = datetime.now(UTC)
    spec = campaign_store.Spec(
        campaign_id=f"camp-{tag}",
        advertiser_id=advertiser_id,
        name=f"Campaign {tag}",
        timezone="Asia/Singapore",
        flight_start=start or now - timedelta(hours=1),
        flight_end=end or now + timedelta(days=7),
        fleets=fleets,
        zones=(zone_id,) if zone_id else (),
        dayparts=dayparts,
        creatives=(media_id,),
        daily_goal=daily_goal,
    )
    scope = campaign_store.Scope(tenant_id)
    await campaign_store.save(conn, scope, spec, "test", create=True)
    if approve:
        await campaign_store.act(conn, tenant_id, spec.campaign_id, "approve", "test", now)
    return Made(tenant_id, advertiser_id, spec.campaign_id, media_id, sha, zone_id)
