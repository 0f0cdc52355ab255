"""docs/mqtt-contract.md, "Playlist manifest": what a tablet on paho receives and acks."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from contract.payloads import PlaylistItem
from store.playlists import PushResult, Target, push
from tests.conftest import RunningHub
from tests.contract.conftest import Conn, Tablets, one
from tests.helpers import Conn as AsyncConn
from tests.helpers import eventually

ITEMS = [
    PlaylistItem(
        ad_id="ad-1",
        campaign_id="c-1",
        url="https://cdn.example/ad-1.mp4",
        sha256="a" * 64,
        duration_ms=15000,
    ),
    PlaylistItem(
        ad_id="ad-2",
        campaign_id="c-2",
        url="https://cdn.example/ad-2.mp4",
        sha256="b" * 64,
        duration_ms=30000,
    ),
]


async def push_to(
    aconn: AsyncConn,
    target: str,
    items: list[PlaylistItem] = ITEMS,
    *,
    emergency: bool = False,
    expires_s: int | None = None,
) -> PushResult:
    return await push(
        aconn,
        Target.parse(target),
        items,
        emergency=emergency,
        expires_s=expires_s,
        reason="contract" if emergency else None,
        actor="test",
        refresh_s=300,
    )


def etag_of(manifest: dict[str, Any]) -> str:
    """The contract's etag: SHA-256 of the canonical JSON of all but ``etag``/``issued_at``."""
    body = {k: v for k, v in manifest.items() if k not in ("etag", "issued_at")}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def desired(conn: Conn, tablet_id: str) -> Any:
    return one(conn, "SELECT desired_etag FROM tablet_state WHERE tablet_id = %s", tablet_id)


def delivery(conn: Conn, tablet_id: str, etag: str) -> Any:
    sql = "SELECT status FROM deliveries WHERE tablet_id = %s AND etag = %s"
    return one(conn, sql, tablet_id, etag)


async def test_a_tablet_never_assigned_a_playlist_reads_pl_none(
    running_hub: RunningHub, tablets: Tablets
) -> None:
    """Issue 17, defect 1: no assignment → ``pl-none`` on MQTT too, as the HTTP plan says."""
    fleet = await tablets.fleet()
    tablet = tablets.of(fleet)
    assert tablet.connect() == 0
    manifest = await tablet.manifest()
    assert (manifest["playlist_id"], manifest["items"]) == ("pl-none", [])
    assert manifest["priority"] == "normal"
    assert manifest["etag"] == etag_of(manifest)


async def test_the_manifest_is_retained_and_its_etag_is_the_documented_hash(
    running_hub: RunningHub, tablets: Tablets, aconn: AsyncConn, conn: Conn
) -> None:
    fleet = await tablets.fleet()
    tid = fleet.tablet_ids[0]
    pushed = await push_to(aconn, f"tablet:{tid}")
    await eventually(lambda: desired(conn, tid) == pushed.etag)
    tablet = tablets.of(fleet)
    assert tablet.connect() == 0  # after the publish: the retained copy arrives
    msg = await tablet.next("playlist")
    assert msg.retain
    assert msg.qos == 1
    manifest = json.loads(msg.payload)
    assert manifest["etag"] == pushed.etag == etag_of(manifest)
    assert manifest["v"] == 1
    assert manifest["version"] == 1
    assert manifest["priority"] == "normal"
    assert manifest["valid_until"] is None
    assert manifest["refresh_interval_s"] == 300
    assert [(i["ad_id"], i["position"]) for i in manifest["items"]] == [("ad-1", 0), ("ad-2", 1)]
    # The same items again: the same etag, nothing new is published.
    assert (await push_to(aconn, f"tablet:{tid}")).etag == pushed.etag
    # Any change of items, priority or validity changes the etag.
    other = {
        (await push_to(aconn, f"tablet:{tid}", ITEMS[:1])).etag,
        (await push_to(aconn, f"tablet:{tid}", emergency=True)).etag,
        (await push_to(aconn, f"tablet:{tid}", emergency=True, expires_s=3600)).etag,
    }
    assert len(other | {pushed.etag}) == 4


async def test_an_ack_records_the_delivery_applied_or_failed(
    running_hub: RunningHub, tablets: Tablets, aconn: AsyncConn, conn: Conn
) -> None:
    fleet = await tablets.fleet(2)
    first, second = tablets.of(fleet, 0), tablets.of(fleet, 1)
    assert first.connect() == 0
    assert second.connect() == 0
    await first.manifest()  # pl-none
    await second.manifest()
    pushed = await push_to(aconn, f"fleet:{fleet.fleet_id}")
    for tablet in (first, second):
        got = await tablet.manifest(where=lambda m: m["etag"] == pushed.etag)
    published = "SELECT count(*) FROM deliveries WHERE etag = %s AND tablet_id = ANY(%s)"
    await eventually(lambda: one(conn, published, pushed.etag, fleet.tablet_ids) == 2)
    first.ack(got, "applied")
    second.ack(got, "failed", "download failed: 404")
    await eventually(lambda: delivery(conn, first.tablet_id, pushed.etag) == "applied")
    await eventually(lambda: delivery(conn, second.tablet_id, pushed.etag) == "failed")
    sql = "SELECT detail FROM deliveries WHERE tablet_id = %s AND etag = %s"
    assert one(conn, sql, second.tablet_id, pushed.etag) == "download failed: 404"
    # Acking the same manifest again is harmless.
    first.ack(got, "applied")
    first.heartbeat()
    await eventually(
        lambda: one(conn, "SELECT count(*) FROM heartbeats WHERE tablet_id = %s", first.tablet_id)
    )
    assert delivery(conn, first.tablet_id, pushed.etag) == "applied"


async def test_an_expired_emergency_does_not_stay_retained(
    running_hub: RunningHub, tablets: Tablets, aconn: AsyncConn, conn: Conn
) -> None:
    """Issue 17, defect 1: a tablet that connects after the emergency's ``valid_until``
    reads the scheduled manifest, not the expired emergency (it missed the emergency)."""
    fleet = await tablets.fleet()
    tid = fleet.tablet_ids[0]
    tablet = tablets.of(fleet)
    assert tablet.connect() == 0
    normal = await push_to(aconn, f"tablet:{tid}")
    tablet.ack(await tablet.manifest(where=lambda m: m["etag"] == normal.etag))
    await eventually(lambda: delivery(conn, tid, normal.etag) == "applied")
    tablet.close()  # away while the emergency comes and goes
    urgent = await push_to(aconn, f"tablet:{tid}", ITEMS[:1], emergency=True, expires_s=1)
    await eventually(lambda: desired(conn, tid) == urgent.etag)
    await eventually(lambda: desired(conn, tid) == normal.etag)
    back = tablets.of(fleet)
    assert back.connect() == 0
    assert (await back.manifest())["etag"] == normal.etag


async def test_an_expired_emergency_unacked_by_a_tablet_heartbeating_the_old_etag(
    running_hub: RunningHub, tablets: Tablets, aconn: AsyncConn, conn: Conn
) -> None:
    """The tablet heartbeats with the scheduled etag while the emergency was out: the
    retained manifest after the expiry is still the scheduled one."""
    fleet = await tablets.fleet()
    tid = fleet.tablet_ids[0]
    tablet = tablets.of(fleet)
    assert tablet.connect() == 0
    normal = await push_to(aconn, f"tablet:{tid}")
    tablet.ack(await tablet.manifest(where=lambda m: m["etag"] == normal.etag))
    await eventually(lambda: delivery(conn, tid, normal.etag) == "applied")
    urgent = await push_to(aconn, f"tablet:{tid}", ITEMS[:1], emergency=True, expires_s=1)
    await tablet.manifest(where=lambda m: m["etag"] == urgent.etag)  # not applied (yet)
    tablet.heartbeat(playlist_etag=normal.etag)
    reverted = await tablet.manifest(where=lambda m: m["etag"] == normal.etag)
    assert reverted["priority"] == "normal"
    tablet.close()
    back = tablets.of(fleet)
    assert back.connect() == 0
    assert (await back.manifest())["etag"] == normal.etag


async def test_with_no_assignment_left_the_tablet_reads_pl_none(
    running_hub: RunningHub, tablets: Tablets, aconn: AsyncConn, conn: Conn
) -> None:
    fleet = await tablets.fleet()
    tid = fleet.tablet_ids[0]
    tablet = tablets.of(fleet)
    assert tablet.connect() == 0
    await tablet.manifest(where=lambda m: m["playlist_id"] == "pl-none")
    urgent = await push_to(aconn, f"tablet:{tid}", emergency=True, expires_s=1)
    got = await tablet.manifest(where=lambda m: m["etag"] == urgent.etag)
    assert got["priority"] == "emergency"
    assert got["valid_until"] is not None
    tablet.ack(got)
    after = await tablet.manifest(where=lambda m: m["etag"] != urgent.etag)
    assert (after["playlist_id"], after["items"]) == ("pl-none", [])


async def test_a_heartbeat_etag_the_hub_never_published_changes_no_delivery(
    running_hub: RunningHub, tablets: Tablets, aconn: AsyncConn, conn: Conn
) -> None:
    """Issue 17, defect 5: ``playlist_etag`` counts as applied only for the manifest the hub
    last published to the tablet; any other value is only stored with the heartbeat."""
    fleet = await tablets.fleet()
    tid = fleet.tablet_ids[0]
    tablet = tablets.of(fleet)
    assert tablet.connect() == 0
    pushed = await push_to(aconn, f"tablet:{tid}")
    await tablet.manifest(where=lambda m: m["etag"] == pushed.etag)
    tablet.heartbeat(playlist_etag="not-a-manifest")
    tablet.heartbeat(playlist_etag=None)
    sql = "SELECT count(*) FROM heartbeats WHERE tablet_id = %s"
    await eventually(lambda: one(conn, sql, tid) == 2)
    applied = "SELECT applied_etag FROM tablet_state WHERE tablet_id = %s"
    assert one(conn, applied, tid) is None
    # The manifest it was sent, reported by a heartbeat (a tablet that cannot ack): applied.
    tablet.heartbeat(playlist_etag=pushed.etag)
    await eventually(lambda: one(conn, applied, tid) == pushed.etag)
    await eventually(lambda: delivery(conn, tid, pushed.etag) == "applied")
