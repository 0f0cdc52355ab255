"""Time-series tables: hypertables when TimescaleDB is available, BRIN otherwise.

Detected at migrate time so a plain PostgreSQL (the embedded one) and a
TimescaleDB production store share one schema and one set of queries
(``date_bin`` works on both).
"""

from typing import Any

from yoyo import step

__depends__ = {"0001_core"}

TABLES = """
CREATE TABLE heartbeats (
    time           timestamptz NOT NULL,
    tablet_id      text NOT NULL,
    device_ts      timestamptz,
    seq            bigint NOT NULL,
    boot_id        text NOT NULL,
    playlist_etag  text,
    ad_id          text,
    campaign_id    text,
    battery        smallint,
    charging       boolean,
    disk_free_mb   integer,
    app_version    text,
    lat            double precision,
    lon            double precision,
    extra          jsonb,
    -- When the hub's writer committed it (transaction start): ingest lag = stored_at - time.
    stored_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE presence_transitions (
    time        timestamptz NOT NULL,
    tablet_id   text NOT NULL,
    from_state  text NOT NULL,
    to_state    text NOT NULL,
    reason      text NOT NULL CHECK (reason IN ('will', 'timeout', 'status', 'heartbeat'))
);
CREATE INDEX heartbeats_tablet_time_idx ON heartbeats (tablet_id, time DESC);
CREATE INDEX presence_transitions_tablet_time_idx ON presence_transitions (tablet_id, time DESC);
CREATE TABLE store_meta (key text PRIMARY KEY, value text NOT NULL);
"""

HYPERTABLES = """
CREATE EXTENSION IF NOT EXISTS timescaledb;
SELECT create_hypertable('heartbeats', 'time', chunk_time_interval => interval '1 day');
SELECT create_hypertable('presence_transitions', 'time', chunk_time_interval => interval '7 days');
INSERT INTO store_meta VALUES ('timescaledb', 'true');
"""

BRIN = """
CREATE INDEX heartbeats_time_brin ON heartbeats USING brin (time);
CREATE INDEX presence_transitions_time_brin ON presence_transitions USING brin (time);
INSERT INTO store_meta VALUES ('timescaledb', 'false');
"""


def _execute(conn: Any, script: str) -> None:
    cursor = conn.cursor()
    for statement in (s.strip() for s in script.split(";")):
        if statement:
            cursor.execute(statement)


def apply(conn: Any) -> None:
    _execute(conn, TABLES)
    cursor = conn.cursor()
    cursor.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
        " AND current_setting('shared_preload_libraries') LIKE '%timescaledb%'"
    )
    _execute(conn, HYPERTABLES if cursor.fetchone() else BRIN)


def rollback(conn: Any) -> None:
    _execute(conn, "DROP TABLE heartbeats; DROP TABLE presence_transitions; DROP TABLE store_meta")


steps = [step(apply, rollback)]
