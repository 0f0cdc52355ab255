"""Two tenants with identical playlists through a real hub: A's changes never reach B."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from broker.runner import EmbeddedBroker
from contract.manifest import EMPTY_PLAYLIST_ID
from store.fleets import FleetSpec, TabletSpec, add_fleet, add_tablet
from store.playlists import Target, push
from store.users import add_tenant
from tests.conftest import RunningHub
from tests.helpers import Conn as AsyncConn
from tests.helpers import TestFleet, blocking, eventually, store
from tests.hub.test_playlists_e2e import ITEMS, manifests

Conn = psycopg.Connection[tuple[Any, ...]]


def tenant_fleet(conn: Conn, broker: EmbeddedBroker) -> tuple[str, TestFleet]:
    tag = uuid.uuid4().hex[:8]
    tenant_id, fleet_id = f"tn-{tag}", f"fl-{tag}"
    store(conn, lambda aconn: add_tenant(aconn, tenant_id, f"Tenant {tag}", "test"))
    store(conn, lambda aconn: add_fleet(aconn, FleetSpec(fleet_id, tenant_id=tenant_id), "test"))
    tablet_id = f"{fleet_id}-t0"
    store(
        conn, lambda aconn: add_tablet(aconn, TabletSpec(tablet_id, fleet_id, None, 30, 90), "test")
    )
    passwords = {tablet_id: f"pw-{tablet_id}"}
    blocking(broker.set_credentials(passwords))
    return tenant_id, TestFleet(fleet_id, [tablet_id], passwords, broker.host, broker.port)


def desired(conn: Conn, tablet_id: str) -> object:
    row = conn.execute(
        "SELECT desired_etag FROM tablet_state WHERE tablet_id = %s", (tablet_id,)
    ).fetchone()
    return row[0] if row else None


async def test_a_revoke_by_one_tenant_never_reaches_the_others_tablets(
    running_hub: RunningHub, broker: EmbeddedBroker, conn: Conn, aconn: AsyncConn
) -> None:
    (tenant_a, fleet_a), (tenant_b, fleet_b) = (
        tenant_fleet(conn, broker),
        tenant_fleet(conn, broker),
    )
    tablet_a, tablet_b = fleet_a.tablet(0).connect(), fleet_b.tablet(0).connect()
    try:
        pushed = {
            tenant: await push(
                aconn,
                Target("fleet", fleet.fleet_id),
                ITEMS,
                emergency=False,
                expires_s=None,
                reason=tenant,
                actor="test",
                refresh_s=300,
                tenant_id=tenant,
                name=f"Loop of {tenant}",
            )
            for tenant, fleet in ((tenant_a, fleet_a), (tenant_b, fleet_b))
        }
        a, b = pushed[tenant_a], pushed[tenant_b]
        assert (a.playlist_id, a.etag) == (b.playlist_id, b.etag)  # the same content address
        for tablet in (tablet_a, tablet_b):
            assert [m["etag"] for m in await manifests(tablet)] == [a.etag]
        # Other tests' tenants may hold the same items too: look at these two only.
        owners = conn.execute(
            "SELECT tenant_id FROM playlists WHERE playlist_id = %s"
            " AND tenant_id = ANY(%s) ORDER BY 1",
            (a.playlist_id, [tenant_a, tenant_b]),
        ).fetchall()
        assert owners == sorted([(tenant_a,), (tenant_b,)])

        # A revokes its assignment (as the panel does) and drops the playlist from its library.
        with conn.transaction():
            conn.execute(
                "UPDATE playlist_assignments SET revoked_at = now() WHERE assignment_id = %s",
                (a.assignment_id,),
            )
            conn.execute("DELETE FROM tenant_playlists WHERE tenant_id = %s", (tenant_a,))
            conn.execute("SELECT pg_notify('fleethub_playlists', %s)", (str(a.assignment_id),))
        got = await manifests(tablet_a, empty=True)
        assert [m["playlist_id"] for m in got] == [EMPTY_PLAYLIST_ID]
        # B's hears nothing new (its own manifest again is allowed: the contract lets the hub
        # publish every manifest anew after a lost broker session).
        heard = await manifests(tablet_b, timeout=1.5, empty=True)
        assert [m["etag"] for m in heard if m["etag"] != b.etag] == []
        await eventually(lambda: desired(conn, fleet_a.tablet_ids[0]) == got[0]["etag"])
        assert desired(conn, fleet_b.tablet_ids[0]) == b.etag
        row = conn.execute(
            "SELECT count(*) FROM playlist_items WHERE tenant_id = %s AND playlist_id = %s",
            (tenant_b, b.playlist_id),
        ).fetchone()
        assert row == (len(ITEMS),)
    finally:
        tablet_a.close()
        tablet_b.close()
