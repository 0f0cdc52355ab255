"""The store writer never loses a good row for a bad one (issue #18, item 1).

Rows are handed to a real :class:`StoreWriter` on the test PostgreSQL as the actors would
hand them, with poison the validation now refuses (so it can only come from a hub bug):
the refused rows are isolated by bisection and dropped alone, counted by group.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from actors.effects import DeliveryRow, Effect, HeartbeatRow, TabletStateRow
from tests.conftest import LiveWriter, TestFleetFactory

pytestmark = pytest.mark.faults
Conn = psycopg.Connection[tuple[Any, ...]]


def heartbeat(tablet_id: str, seq: int, **fields: Any) -> HeartbeatRow:
    row: dict[str, Any] = {
        "received_at": datetime.now(UTC),
        "tablet_id": tablet_id,
        "device_ts": None,
        "seq": seq,
        "boot_id": "boot",
        "playlist_etag": None,
        "ad_id": None,
        "campaign_id": None,
        "battery": 50,
        "charging": None,
        "disk_free_mb": None,
        "app_version": None,
        "lat": None,
        "lon": None,
        "extra_json": None,
    }
    row.update(fields)
    return HeartbeatRow(**row)


def state(tablet_id: str, seq: int, etag: str | None = None) -> TabletStateRow:
    now = datetime.now(UTC)
    return TabletStateRow(
        tablet_id, "online", now, now, "boot", seq, None, etag, now, None, 50, None, None, None
    )


def stored(conn: Conn, table: str, tablet_ids: list[str]) -> int:
    query = f"SELECT count(*) FROM {table} WHERE tablet_id = ANY(%s)"  # noqa: S608  # test's own names
    row = conn.execute(query, (tablet_ids,)).fetchone()
    assert row is not None
    return int(row[0])


async def test_refused_rows_are_dropped_alone_and_the_rest_commits(
    live_writer: LiveWriter, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    store_writer, metrics = live_writer.writer, live_writer.metrics
    ids = (await fleet_factory(tablets=20)).tablet_ids
    good: list[Effect] = [heartbeat(t, 1) for t in ids]
    poison: list[Effect] = [
        heartbeat(ids[3], 2**63),  # int8 overflow: OverflowError in the dumper, not psycopg
        heartbeat(ids[4], 2, boot_id="nul\x00"),  # text refuses U+0000
        heartbeat(ids[5], 2, extra_json='{"x": NaN}'),  # not JSON
        # (disk_free_mb 2**31 is no poison here: it is stored silently as -2**31, so only
        # validation can refuse it; see tests/unit/test_payload_bounds.py)
    ]
    states: list[Effect] = [state(t, 1) for t in ids[1:]]
    states.append(state(ids[0], 1, "etag\x00"))
    deliveries: list[Effect] = [
        DeliveryRow(t, "e1", "applied", datetime.now(UTC), None) for t in ids[:10]
    ]
    deliveries.insert(5, DeliveryRow(ids[10], "e\x00", "applied", datetime.now(UTC), None))
    store_writer.add(good[:10] + poison + good[10:] + states + deliveries)
    await store_writer.flush_now(timeout=20)

    assert stored(conn, "heartbeats", ids) == 20
    seqs = conn.execute(
        "SELECT tablet_id, last_seq FROM tablet_state WHERE tablet_id = ANY(%s)", (ids,)
    ).fetchall()
    assert sorted(seqs) == sorted([(ids[0], None)] + [(t, 1) for t in ids[1:]])
    assert stored(conn, "deliveries", ids) == 10
    assert metrics.dropped == {
        "heartbeats_rejected_by_store": 3,
        "states_rejected_by_store": 1,
        "deliveries_rejected_by_store": 1,
    }
    assert metrics.heartbeats_committed == 20
    assert metrics.write_errors == 5

    # The next batch (the tablet now reports a clean etag) is written whole, at once.
    later: list[Effect] = [heartbeat(t, 3) for t in ids]
    later.append(state(ids[0], 3, "clean"))
    store_writer.add(later)
    await store_writer.flush_now(timeout=20)
    assert stored(conn, "heartbeats", ids) == 40
    row = conn.execute(
        "SELECT applied_etag FROM tablet_state WHERE tablet_id = %s", (ids[0],)
    ).fetchone()
    assert row == ("clean",)
    assert metrics.write_errors == 5


async def test_a_refused_row_in_a_large_batch_costs_a_few_transactions(
    live_writer: LiveWriter, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    store_writer, metrics = live_writer.writer, live_writer.metrics
    ids = (await fleet_factory(tablets=2)).tablet_ids
    base = datetime.now(UTC)
    rows: list[Effect] = [
        heartbeat(ids[0], n, received_at=base + timedelta(microseconds=n)) for n in range(5000)
    ]
    rows[4321] = heartbeat(ids[1], 1, app_version="\x00")
    store_writer.add(rows)
    await store_writer.flush_now(timeout=20)
    assert stored(conn, "heartbeats", ids) == 4999
    assert metrics.dropped == {"heartbeats_rejected_by_store": 1}
