"""The demo of ``fleethub up``: simulated tablets with derived broker passwords, panel
users, and a lead campaign with an agent and a QR code."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

import psycopg

from contract.media import LibraryItem
from contract.payloads import PlaylistItem
from store import fleets, lead_seed, playlists, users
from store import media as media_store

DEMO_TENANT = "demo"
DEMO_FLEET = "demo"
ADMIN_EMAIL = "admin@demo.example"
OWNER_EMAIL = "owner@demo.example"
AGENT_EMAIL = "agent@demo.example"
ADVERTISER_EMAIL = "advertiser@demo.example"
LEAD_CAMPAIGN = "camp-sg"  # one of the demo playlist's campaigns
QR_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # the lead form's code alphabet
PREFIX = "demo-tab-"
HEARTBEAT_S = 10
OFFLINE_AFTER_S = 30
ALERT_AFTER_S = 60


def tablet_ids(count: int, prefix: str = PREFIX) -> list[str]:
    return [f"{prefix}{n:04d}" for n in range(1, count + 1)]


def secret(var_dir: Path) -> bytes:
    """Kept in ``var/``; the simulator derives each tablet's password from it."""
    path = var_dir / "simulator.secret"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(os.urandom(16).hex())
        path.chmod(0o600)
    return path.read_text().strip().encode()


def password(key: bytes, tablet_id: str) -> str:
    return hmac.new(key, tablet_id.encode(), hashlib.sha256).hexdigest()[:24]


def demo_items() -> list[PlaylistItem]:
    ads = [("ad-coffee", "camp-morning"), ("ad-bank", "camp-finance"), ("ad-travel", "camp-sg")]
    return [
        PlaylistItem(
            ad_id=ad,
            campaign_id=campaign,
            url=f"https://ads.invalid/{ad}.mp4",
            sha256=hashlib.sha256(ad.encode()).hexdigest(),
            duration_ms=15_000,
            position=n,
        )
        for n, (ad, campaign) in enumerate(ads)
    ]


@dataclass(frozen=True, slots=True)
class PanelLogin:
    email: str
    password: str
    role: str


def panel_logins(key: bytes) -> list[PanelLogin]:
    """The demo tenant's admin, fleet owner, agent and advertiser; passwords derived from the
    kept secret."""
    return [
        PanelLogin(ADMIN_EMAIL, password(key, "panel:admin"), "admin"),
        PanelLogin(OWNER_EMAIL, password(key, "panel:owner"), "fleet_owner"),
        PanelLogin(AGENT_EMAIL, password(key, "panel:agent"), "agent"),
        PanelLogin(ADVERTISER_EMAIL, password(key, "panel:advertiser"), "advertiser"),
    ]


def qr_code(key: bytes) -> str:
    """The demo's lead QR code (shown on the first demo tablet), the same on every run."""
    digest = hmac.new(key, b"qr:demo", hashlib.sha256).digest()
    return "".join(QR_ALPHABET[b % len(QR_ALPHABET)] for b in digest[:10])


async def _seed_leads(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    key: bytes,
    agent_id: int,
    tablet_id: str | None,
) -> None:
    """A lead campaign with the demo agent subscribed and one QR code: try ``/l/{code}``."""
    await lead_seed.add_campaign(conn, DEMO_TENANT, LEAD_CAMPAIGN, "Travel insurance")
    await lead_seed.add_agent(conn, DEMO_TENANT, LEAD_CAMPAIGN, agent_id, 0)
    await lead_seed.add_qr_code(
        conn, qr_code(key), DEMO_TENANT, LEAD_CAMPAIGN, DEMO_FLEET, tablet_id, "fleethub up"
    )


async def seed(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    count: int,
    refresh_s: int,
    key: bytes,
    library: list[LibraryItem] | None = None,
) -> list[str]:
    """The demo tenant and its users, the demo fleet, ``count`` tablets in cars, a playlist
    (of the ``library`` media when given, else of externally hosted ads)."""
    await users.add_tenant(conn, DEMO_TENANT, "Demo tenant", "fleethub up")
    fleet = fleets.FleetSpec(
        DEMO_FLEET, "Asia/Singapore", ALERT_AFTER_S, "", 6, "Demo fleet", DEMO_TENANT
    )
    await fleets.add_fleet(conn, fleet, "fleethub up")
    names = {
        "admin": "Demo admin",
        "fleet_owner": "Demo fleet owner",
        "agent": "Demo agent",
        "advertiser": "Demo advertiser",
    }
    user_ids = {}
    for login in panel_logins(key):
        fleet_ids = [DEMO_FLEET] if login.role == "fleet_owner" else []
        user_ids[login.role] = await users.add_user(
            conn,
            tenant_id=DEMO_TENANT,
            email=login.email,
            name=names[login.role],
            role=login.role,
            password=login.password,
            fleets=fleet_ids,
            actor="fleethub up",
        )
    ids = tablet_ids(count)
    existing = await fleets.tablet_ids(conn, DEMO_FLEET)
    for n, tablet_id in enumerate(ids, start=1):
        if tablet_id not in existing:
            spec = fleets.TabletSpec(
                tablet_id, DEMO_FLEET, f"demo-car-{n:04d}", HEARTBEAT_S, OFFLINE_AFTER_S
            )
            await fleets.add_tablet(conn, spec, "fleethub up")
    # The demo schedule needs a tablet to target: with none yet (``--simulate 0`` on a
    # fresh var dir) a later run that adds tablets pushes it.
    target = playlists.Target("fleet", DEMO_FLEET)
    has_tablets = await playlists.target_count(conn, DEMO_TENANT, target) > 0
    scheduled = await playlists.fleet_has_assignment(conn, DEMO_FLEET)
    if not has_tablets:
        pass
    elif library and not await media_store.fleet_plays_library(conn, DEMO_FLEET):
        await playlists.push(
            conn,
            target,
            list(library),
            emergency=False,
            expires_s=None,
            reason="demo schedule",
            actor="fleethub up",
            refresh_s=refresh_s,
            tenant_id=DEMO_TENANT,
            name="Demo schedule (library)",
        )
    elif not library and not scheduled:
        await playlists.push(
            conn,
            target,
            demo_items(),
            emergency=False,
            expires_s=None,
            reason="demo schedule",
            actor="fleethub up",
            refresh_s=refresh_s,
            tenant_id=DEMO_TENANT,
            name="Demo schedule",
        )
    await _seed_leads(conn, key, user_ids["agent"], ids[0] if ids else None)
    return ids


def items_json() -> str:
    return json.dumps([i.model_dump() for i in demo_items()], indent=2)
