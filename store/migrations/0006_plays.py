"""Proof of play: raw plays, the event ids that make ingestion idempotent, a daily rollup.

``plays`` is a hypertable on ``started_at`` when the store runs TimescaleDB (the mode
0002 recorded in ``store_meta``), else a plain table with a BRIN index. A hypertable
cannot carry a unique key without its time column, so exactly-once rests on
``play_event_ids`` (primary key ``event_id``). ``plays_daily.day`` is the UTC date of
``started_at``; the hub adds only newly stored plays to it, so it stays exact.
"""

from typing import Any

from yoyo import step

__depends__ = {"0005_pushes"}

TABLES = """
CREATE TABLE plays (
    started_at     timestamptz NOT NULL,
    event_id       uuid NOT NULL,
    tablet_id      text NOT NULL,
    fleet_id       text NOT NULL,
    ad_id          text NOT NULL,
    campaign_id    text NOT NULL,
    playlist_id    text NOT NULL,
    playlist_etag  text NOT NULL,
    duration_ms    integer NOT NULL CHECK (duration_ms BETWEEN 0 AND 3600000),
    result         text NOT NULL
                   CHECK (result IN ('completed', 'skipped', 'error', 'interrupted')),
    lat            double precision,
    lon            double precision,
    received_at    timestamptz NOT NULL,
    stored_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX plays_tablet_time_idx ON plays (tablet_id, started_at DESC);
CREATE INDEX plays_campaign_time_idx ON plays (campaign_id, started_at DESC);
CREATE TABLE play_event_ids (
    event_id    uuid PRIMARY KEY,
    started_at  timestamptz NOT NULL
);
CREATE INDEX play_event_ids_started_at_brin ON play_event_ids USING brin (started_at);
CREATE TABLE plays_daily (
    day          date NOT NULL,
    campaign_id  text NOT NULL,
    tablet_id    text NOT NULL,
    fleet_id     text NOT NULL,
    plays        bigint NOT NULL,
    completed    bigint NOT NULL,
    duration_ms  bigint NOT NULL,
    PRIMARY KEY (day, campaign_id, tablet_id)
);
CREATE INDEX plays_daily_fleet_idx ON plays_daily (fleet_id, day)
"""

HYPERTABLE = """
SELECT create_hypertable('plays', 'started_at', chunk_time_interval => interval '1 day')
"""

BRIN = """
CREATE INDEX plays_started_at_brin ON plays USING brin (started_at)
"""


def _execute(conn: Any, script: str) -> None:
    cursor = conn.cursor()
    for statement in (s.strip() for s in script.split(";")):
        if statement:
            cursor.execute(statement)


def apply(conn: Any) -> None:
    _execute(conn, TABLES)
    cursor = conn.cursor()
    # The same choice 0002 made (it detected a preloaded timescaledb and recorded it).
    cursor.execute("SELECT 1 FROM store_meta WHERE key = 'timescaledb' AND value = 'true'")
    _execute(conn, HYPERTABLE if cursor.fetchone() else BRIN)


def rollback(conn: Any) -> None:
    _execute(conn, "DROP TABLE plays_daily; DROP TABLE play_event_ids; DROP TABLE plays")


steps = [step(apply, rollback)]
