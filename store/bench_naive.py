"""The statement of ``fleethub bench --compare``'s naive baseline (devtools/bench/naive.py).

The baseline is written the way a typical team would write a heartbeat subscriber: a paho
callback that parses each message, and a loop that inserts what arrived every 100 ms with
``executemany`` on a synchronous connection. It is the one synchronous writer in the store
room, on purpose: the hub and the panel never run it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

NaiveRow = tuple[
    datetime,  # time (received)
    str,  # tablet_id
    datetime,  # device_ts
    int,  # seq
    str,  # boot_id
    str | None,  # playlist_etag
    str | None,  # ad_id
    str | None,  # campaign_id
    int | None,  # battery
    bool | None,  # charging
    int | None,  # disk_free_mb
    str | None,  # app_version
    float | None,  # lat
    float | None,  # lon
]

INSERT_HEARTBEAT = """
INSERT INTO heartbeats (time, tablet_id, device_ts, seq, boot_id, playlist_etag, ad_id,
                        campaign_id, battery, charging, disk_free_mb, app_version, lat, lon)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""


def insert_heartbeats(conn: psycopg.Connection[Any], rows: Sequence[NaiveRow]) -> None:
    """Insert the rows and commit (``stored_at`` is the transaction's start, as the hub's)."""
    with conn.cursor() as cur:
        cur.executemany(INSERT_HEARTBEAT, rows)
    conn.commit()
