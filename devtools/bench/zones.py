"""``fleethub bench --zones N``: campaign zones at the full heartbeat rate (docs/campaigns.md).

The heartbeat phase of :mod:`devtools.bench.run` twice on fresh stores: without campaigns,
then with one running campaign on the bench fleet targeting ``N`` zones — a grid of squares
over the area the simulated cars drift in (:func:`grid`), with gaps between them so the cars
keep entering and leaving. The report compares committed throughput, published → committed
p99 and the hub's CPU per heartbeat. During the second run every worker replays the fixes of
every 10th tablet (following them costs CPU on the hub's cores) through the actors' own
hysteresis (:class:`ZoneWatch`) and measures, from the heartbeat that entered (the one the
hub's actor decides on), when the manifest with the campaign arrives: entering a zone → the
changed manifest.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from actors.rules.geo import ZoneIndex, parse_zone
from actors.rules.targeting import Hysteresis, Place
from config.settings import Settings
from devtools import media_samples
from devtools.simulator import TabletConfig

CAMPAIGN = "bench-zones"
ADVERTISER = "bench"
CELL = 0.005  # degrees: each zone is a square of 80 % of its cell, so cars cross gaps too
HOME = TabletConfig().home


def grid(n: int, home: tuple[float, float] = HOME) -> list[tuple[str, str]]:
    """``n`` zones (name, GeoJSON) in rows of 20 around ``home``, the same in every process."""
    cols = min(20, n)
    rows = -(-n // cols)
    lat0 = home[0] - rows * CELL / 2
    lon0 = home[1] - cols * CELL / 2
    out = []
    for k in range(n):
        r, c = divmod(k, cols)
        south, west = lat0 + r * CELL, lon0 + c * CELL
        north, east = south + CELL * 0.8, west + CELL * 0.8
        ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
        out.append((f"bench zone {k:03d}", json.dumps({"type": "Polygon", "coordinates": [ring]})))
    return out


def index(n: int) -> ZoneIndex:
    return ZoneIndex.of([(name, parse_zone(text).geometry) for name, text in grid(n)])


@dataclass
class ZoneWatch:
    """One worker's tablets as the hub's actors see them: each fix moves the tablet's place
    (the actors' hysteresis, default settings); an entry waits for the manifest that adds
    the campaign."""

    zones: ZoneIndex
    rule: Hysteresis = field(default_factory=Hysteresis)
    places: dict[str, Place] = field(default_factory=dict)
    entered: dict[str, float] = field(default_factory=dict)  # tablet → wall time of the entry
    playing: dict[str, bool] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    entries: int = 0

    def fix(self, tablet_id: str, lat: float, lon: float, sent_wall: float) -> None:
        before = self.places.get(tablet_id, Place())
        now = datetime.now(UTC)
        after = before.moved(self.zones.zones_at(lat, lon), now, self.rule)
        self.places[tablet_id] = after
        if after.inside and not before.inside:
            self.entries += 1
            self.entered[tablet_id] = sent_wall
        elif before.inside and not after.inside:
            self.entered.pop(tablet_id, None)  # left before the manifest came: not counted

    def manifest(self, tablet_id: str, campaigns: set[str], received_wall: float) -> None:
        """A manifest arrived; one adding the campaign after an entry measures it (one that
        arrived before the entry was sent answers an earlier one: an overloaded hub's)."""
        has = CAMPAIGN in campaigns
        sent = self.entered.get(tablet_id)
        added = has and not self.playing.get(tablet_id)
        if added and sent is not None and received_wall >= sent:
            self.latencies.append(received_wall - sent)
            del self.entered[tablet_id]
        self.playing[tablet_id] = has


async def seed(url: str, zones: int, work_dir: Path) -> None:
    """The bench fleet's running campaign over ``zones`` zones, with one generated creative
    (in a media store under ``work_dir``: the hubs sign links, they never read the file)."""
    from media.blobs import open_blobs
    from media.ingest import Upload, from_file, ingest
    from store import advertisers, db
    from store import campaigns as campaign_store
    from store import zones as zone_store

    settings = Settings(var_dir=work_dir)
    async with db.connect(url) as conn:
        await advertisers.add(conn, "default", ADVERTISER, "Bench advertiser", "bench")
        ids = []
        for name, text in grid(zones):
            ids.append(await zone_store.add(conn, "default", name, parse_zone(text), "upload", "b"))
        blobs = open_blobs(settings)
        path = work_dir / "bench-creative.png"
        path.write_bytes(media_samples.image((320, 180), (200, 40, 40), "bench", "PNG"))
        received = await from_file(path, blobs, settings.media_max_bytes)
        upload = Upload("default", "bench", "Bench creative", ["bench"], CAMPAIGN)
        media_id = (await ingest(conn, blobs, received, upload)).media.media_id
        now = datetime.now(UTC)
        spec = campaign_store.Spec(
            campaign_id=CAMPAIGN,
            advertiser_id=ADVERTISER,
            name="Bench zones",
            timezone="UTC",
            flight_start=now - timedelta(hours=1),
            flight_end=now + timedelta(days=1),
            fleets=("bench",),
            zones=tuple(ids),
            creatives=(media_id,),
        )
        scope = campaign_store.Scope("default")
        await campaign_store.save(conn, scope, spec, "bench", create=True)
        await campaign_store.act(conn, "default", CAMPAIGN, "approve", "bench", now)


def run_zones_bench(cfg: Any, zones: int, console: Console) -> dict[str, Any]:
    """Both runs and their comparison."""
    from devtools.bench.run import run_bench

    runs = {}
    for label, n in (("without_zones", 0), ("with_zones", zones)):
        console.rule(f"heartbeats {label.replace('_', ' ')}")
        one = replace(cfg, zones=n, work_dir=cfg.work_dir / label, resident_actors=0)
        runs[label] = run_bench(one, console)
        time.sleep(2)
    plain, zoned = runs["without_zones"]["heartbeats"], runs["with_zones"]["heartbeats"]
    return {
        "started_at": f"zones-{runs['with_zones']['started_at']}",
        "machine": runs["with_zones"]["machine"],
        "zones": zones,
        **runs,
        "comparison": {
            "committed_rate_ratio": _ratio(
                zoned["committed_rate_per_s"], plain["committed_rate_per_s"]
            ),
            "p99_ratio": _ratio(zoned["latency_s"]["p99"], plain["latency_s"]["p99"]),
            "hub_cpu_us_per_heartbeat": {
                "without_zones": _per_heartbeat(plain),
                "with_zones": _per_heartbeat(zoned),
            },
        },
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 3)


def _per_heartbeat(hb: dict[str, Any]) -> float | None:
    rate = hb["offered_rate_per_s"]
    cpu = hb["hub_cpu_percent_of_one_core"]
    return None if not rate else round(cpu / 100 / rate * 1e6, 1)


def print_zones_summary(report: dict[str, Any], console: Console) -> None:
    c = report["comparison"]
    for label in ("without_zones", "with_zones"):
        hb = report[label]["heartbeats"]
        console.print(
            f"{label.replace('_', ' '):<14} committed {hb['committed_rate_per_s']}/s of"
            f" {hb['offered_rate_per_s']}/s offered · p50 {hb['latency_s']['p50']} s"
            f" · p99 {hb['latency_s']['p99']} s · hub CPU {hb['hub_cpu_percent_of_one_core']} %"
        )
    console.print(
        f"with {report['zones']} zones: throughput ×{c['committed_rate_ratio']},"
        f" p99 ×{c['p99_ratio']}, hub CPU per heartbeat"
        f" {c['hub_cpu_us_per_heartbeat']['without_zones']} →"
        f" {c['hub_cpu_us_per_heartbeat']['with_zones']} µs"
    )
    enter = report["with_zones"].get("zone_entries", {})
    if enter:
        lat = enter["latency_s"]
        console.print(
            f"entering a zone → manifest: {lat['count']} of {enter['entries']} entries measured,"
            f" p50 {lat['p50']} s · p99 {lat['p99']} s · max {lat['max']} s"
        )
