"""docs/mqtt-contract.md, "Heartbeat": every rule, as a tablet on paho sees it.

The hub handles one tablet's messages in the order sent, so once a later heartbeat (a
marker of a boot of its own) is stored, everything sent before it was handled:
:func:`stored` waits for that, then reads what the store holds.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.conftest import RunningHub
from tests.contract.conftest import Conn, Tablets, one, rows
from tests.contract.tablet import ContractTablet
from tests.helpers import eventually

INT8_MAX = 2**63 - 1


MARK = "marker-"


async def stored(
    conn: Conn, tablet: ContractTablet, same_boot: bool = False
) -> list[tuple[Any, ...]]:
    """The tablet's stored heartbeats (boot_id, seq), once all it sent was handled.

    ``same_boot``: the marker is the next heartbeat of the tablet's boot (and is returned),
    not one of a boot of its own."""
    if same_boot:
        marker = (tablet.boot_id, tablet.seq)
        tablet.heartbeat()
    else:
        marker = (MARK + uuid.uuid4().hex, 0)
        tablet.publish("heartbeat", {"v": 1, "seq": 0, "boot_id": marker[0]})
    sql = "SELECT boot_id, seq FROM heartbeats WHERE tablet_id = %s ORDER BY time, seq"
    await eventually(lambda: marker in rows(conn, sql, tablet.tablet_id))
    return [r for r in rows(conn, sql, tablet.tablet_id) if not str(r[0]).startswith(MARK)]


def rejected(running_hub: RunningHub, category: str = "invalid_payload") -> int:
    assert running_hub.hub is not None
    return running_hub.hub.metrics.rejected[category]


async def connected(tablets: Tablets) -> ContractTablet:
    fleet = await tablets.fleet()
    tablet = tablets.of(fleet)
    assert tablet.connect(subscribe=()) == 0
    return tablet


async def test_a_heartbeat_is_stored_before_its_puback(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    tablet = await connected(tablets)
    body = tablet.heartbeat(
        playlist_etag=None,
        now_playing={"ad_id": "ad-1", "campaign_id": "c-1"},
        battery=80,
        charging=False,
        disk_free_mb=2048,
        app_version="3.2.0",
        lat=1.3521,
        lon=103.8198,
    )
    await stored(conn, tablet)
    row = conn.execute(
        "SELECT device_ts, seq, boot_id, ad_id, campaign_id, battery, charging, disk_free_mb,"
        " app_version, lat, lon FROM heartbeats WHERE tablet_id = %s AND boot_id = %s",
        (tablet.tablet_id, tablet.boot_id),
    ).fetchone()
    assert row is not None
    assert row[0].isoformat() == body["ts"]
    assert row[1:] == (0, tablet.boot_id, "ad-1", "c-1", 80, False, 2048, "3.2.0", 1.3521, 103.8198)


async def test_only_v_seq_and_boot_id_are_required(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    tablet = await connected(tablets)
    tablet.publish("heartbeat", {"v": 1, "seq": 0, "boot_id": "b"})
    nulls = dict.fromkeys(
        [
            "ts",
            "playlist_etag",
            "now_playing",
            "battery",
            "charging",
            "disk_free_mb",
            "app_version",
            "lat",
            "lon",
        ]
    )
    tablet.publish("heartbeat", {"v": 1, "seq": 1, "boot_id": "b", **nulls})
    assert await stored(conn, tablet) == [("b", 0), ("b", 1)]
    before = rejected(running_hub)
    for missing in ("v", "seq", "boot_id"):
        body: dict[str, Any] = {"v": 1, "seq": 2, "boot_id": "b"}
        del body[missing]
        tablet.publish("heartbeat", body)
    assert len(await stored(conn, tablet)) == 2
    assert rejected(running_hub) == before + 3


GOOD_VALUES: list[dict[str, Any]] = [
    {"seq": INT8_MAX},
    {"battery": 0},
    {"battery": 100},
    {"disk_free_mb": 2**31 - 1},
    {"lat": -90, "lon": 180},
    {"lat": 90.0, "lon": -180.0},
    {"boot_id": "b" * 128},
    {"app_version": "v" * 256, "playlist_etag": "e" * 256},
    {"now_playing": {"ad_id": "a" * 128, "campaign_id": "c" * 128}},
    {"ts": "2026-11-22T08:00:00Z"},
    {"ts": "2026-11-22T08:00:00.123456-05:30"},
]

BAD_VALUES: list[dict[str, Any]] = [
    {"v": 2},
    {"v": "1"},
    {"seq": -1},
    {"seq": INT8_MAX + 1},
    {"seq": "3"},
    {"seq": 3.0},
    {"charging": "yes"},
    {"battery": 101},
    {"battery": -1},
    {"battery": 50.5},
    {"disk_free_mb": 2**31},
    {"disk_free_mb": -1},
    {"lat": 90.5},
    {"lon": -180.1},
    {"lat": "1.3"},
    {"boot_id": ""},
    {"boot_id": "b" * 129},
    {"boot_id": 7},
    {"app_version": "v" * 257},
    {"playlist_etag": "e" * 257},
    {"now_playing": {"ad_id": "", "campaign_id": "c"}},
    {"now_playing": {"ad_id": "a" * 129, "campaign_id": "c"}},
    {"now_playing": {"ad_id": "a"}},
    {"now_playing": "ad-1"},
    {"app_version": "3.2\u0000"},
    {"boot_id": "b\u0000"},
    {"ts": "2026-11-22T08:00:00"},  # no offset
    {"ts": "9999-12-31T23:59:00-05:00"},  # past year 9999 in UTC
    {"ts": "yesterday"},
    {"ts": 1700000000},
]


@pytest.mark.parametrize("good", GOOD_VALUES, ids=lambda v: json.dumps(v)[:48])
async def test_values_within_the_bounds_are_stored(
    running_hub: RunningHub, tablets: Tablets, conn: Conn, good: dict[str, Any]
) -> None:
    tablet = await connected(tablets)
    before = rejected(running_hub)
    tablet.publish("heartbeat", {"v": 1, "seq": 5, "boot_id": "b", **good})
    assert len(await stored(conn, tablet)) == 1
    assert rejected(running_hub) == before


@pytest.mark.parametrize("bad", BAD_VALUES, ids=lambda v: json.dumps(v)[:48])
async def test_a_value_outside_the_bounds_rejects_the_whole_heartbeat(
    running_hub: RunningHub, tablets: Tablets, conn: Conn, bad: dict[str, Any]
) -> None:
    tablet = await connected(tablets)
    before = rejected(running_hub)
    tablet.publish("heartbeat", {"v": 1, "seq": 5, "boot_id": "b", "battery": 50, **bad})
    assert await stored(conn, tablet) == []
    assert rejected(running_hub) == before + 1


async def test_non_finite_numbers_are_rejected(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    tablet = await connected(tablets)
    before = rejected(running_hub) + rejected(running_hub, "invalid_json")
    for raw in (b"NaN", b"Infinity", b"-Infinity", b"1e400"):
        tablet.publish("heartbeat", b'{"v": 1, "seq": 1, "boot_id": "b", "lat": ' + raw + b"}")
        tablet.publish("heartbeat", b'{"v": 1, "seq": 1, "boot_id": "b", "x": ' + raw + b"}")
    assert await stored(conn, tablet) == []
    assert rejected(running_hub) + rejected(running_hub, "invalid_json") == before + 8


async def test_unknown_fields_are_kept_in_extra(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    tablet = await connected(tablets)
    deep: Any = "leaf"
    for _ in range(15):  # the field's value nests 16 levels deep with the leaf
        deep = [deep]
    tablet.heartbeat(cpu_temp_c=41.5, screen={"on": True, "nits": [300, 450]}, deep=deep)
    await stored(conn, tablet)
    sql = "SELECT extra FROM heartbeats WHERE tablet_id = %s AND boot_id = %s"
    extra = one(conn, sql, tablet.tablet_id, tablet.boot_id)
    assert extra == {"cpu_temp_c": 41.5, "screen": {"on": True, "nits": [300, 450]}, "deep": deep}


async def test_unknown_fields_the_store_cannot_hold_reject_the_heartbeat(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    tablet = await connected(tablets)
    too_deep: Any = "leaf"
    for _ in range(17):
        too_deep = [too_deep]
    before = rejected(running_hub)
    tablet.heartbeat(note="a\u0000b")
    tablet.heartbeat(**{"k\u0000": 1})
    tablet.heartbeat(nested={"k": ["x\u0000"]})
    tablet.heartbeat(deep=too_deep)
    assert await stored(conn, tablet) == []
    assert rejected(running_hub) == before + 4


async def test_over_16_kib_is_too_large(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    tablet = await connected(tablets)
    before = rejected(running_hub, "too_large")
    tablet.heartbeat(pad="x" * (16 * 1024))
    tablet.publish("heartbeat", b"{not json")
    assert await stored(conn, tablet) == []
    assert rejected(running_hub, "too_large") == before + 1
    assert rejected(running_hub, "invalid_json") >= 1


async def test_a_redelivery_stores_no_second_row_but_refreshes_presence(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    tablet = await connected(tablets)
    for seq in (0, 1, 2):
        tablet.seq = seq
        tablet.heartbeat()
    tablet.seq = 1
    tablet.heartbeat(battery=5)  # a redelivery arriving after a newer one
    tablet.seq = 2
    tablet.heartbeat(battery=5)
    b = tablet.boot_id
    tablet.seq = 3
    assert await stored(conn, tablet, same_boot=True) == [(b, 0), (b, 1), (b, 2), (b, 3)]
    assert one(conn, "SELECT state FROM tablet_state WHERE tablet_id = %s", tablet.tablet_id) == (
        "online"
    )


async def test_a_redelivery_of_an_earlier_boot_is_not_stored_twice(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    """Issue 17, defect 3: the window holds the tablet's last 8 boots (hub restarts too)."""
    tablet = await connected(tablets)
    boots: list[str] = []
    for _ in range(8):
        tablet.reboot()
        boots.append(tablet.boot_id)
        tablet.heartbeat()
        tablet.heartbeat()
    assert len(await stored(conn, tablet, same_boot=True)) == 17
    for boot in boots:  # each boot's heartbeats again, after newer ones of later boots
        tablet.publish("heartbeat", {"v": 1, "seq": 1, "boot_id": boot})
        tablet.publish("heartbeat", {"v": 1, "seq": 0, "boot_id": boot})
    assert len(await stored(conn, tablet, same_boot=True)) == 18
    # The window as stored (tablet_state, which a data error elsewhere in a flush can commit
    # after the heartbeats), before the restart that reads it.
    window = "SELECT recent_boots FROM tablet_state WHERE tablet_id = %s"
    await eventually(
        lambda: (
            [b for b, _ in one(conn, window, tablet.tablet_id) or []] == boots
            and one(conn, window, tablet.tablet_id)[-1][1] == tablet.seq - 1
        )
    )
    await running_hub.restart()
    tablet.publish("heartbeat", {"v": 1, "seq": 1, "boot_id": boots[0]})
    tablet.publish("heartbeat", {"v": 1, "seq": 0, "boot_id": boots[4]})
    assert len(await stored(conn, tablet, same_boot=True)) == 19
    # A seq past the last stored one of an earlier boot is new: stored.
    tablet.publish("heartbeat", {"v": 1, "seq": 2, "boot_id": boots[3]})
    assert len(await stored(conn, tablet, same_boot=True)) == 21


async def test_a_new_boot_restarts_seq_at_zero(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    tablet = await connected(tablets)
    tablet.heartbeat()
    tablet.heartbeat()
    first = tablet.boot_id
    tablet.reboot()
    tablet.heartbeat()
    assert await stored(conn, tablet) == [(first, 0), (first, 1), (tablet.boot_id, 0)]


async def test_a_qos_0_heartbeat_counts_too(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    tablet = await connected(tablets)
    tablet.publish("heartbeat", {"v": 1, "seq": 0, "boot_id": uuid.uuid4().hex}, qos=0)
    assert len(await stored(conn, tablet)) == 1


async def test_hostile_boot_ids_keep_their_window_through_a_restart(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    """The dedupe window goes to the store as JSON text built from cached pieces
    (store/presence.py ``boots_json``): boot ids with quotes, backslashes, non-ASCII text,
    JSON of their own, another tablet's id or 128 characters, and a seq of INT8_MAX, are
    stored as sent and still recognised after a hub restart."""
    tablet = await connected(tablets)
    other = tablets.of(await tablets.fleet())
    boots = [
        'a"b\\c',
        "ünï-çødé ✓",
        '[["x",1]]',
        other.tablet_id,
        "b" * 128,
    ]
    for boot in boots:
        tablet.publish("heartbeat", {"v": 1, "seq": INT8_MAX, "boot_id": boot})
    assert len(await stored(conn, tablet)) == len(boots)
    sql = "SELECT recent_boots FROM tablet_state WHERE tablet_id = %s"

    def window() -> list[list[Any]]:  # the stored window, without stored()'s marker boots
        found = one(conn, sql, tablet.tablet_id) or []
        return [b for b in found if not str(b[0]).startswith(MARK)]

    await eventually(lambda: window() == [[b, INT8_MAX] for b in boots])
    await running_hub.restart()
    for boot in boots:  # redelivered after the restart: each already stored
        tablet.publish("heartbeat", {"v": 1, "seq": INT8_MAX, "boot_id": boot})
    assert len(await stored(conn, tablet)) == len(boots)
    others = "SELECT count(*) FROM heartbeats WHERE tablet_id = %s"
    assert one(conn, others, other.tablet_id) == 0  # a boot id names no other tablet
