-- Each hub process's counters (received, rejected by reason, dropped, …), refreshed every 10 s,
-- so operators see them without reading logs (status page, SQL).
-- depends: 0002_timeseries

CREATE TABLE hub_metrics (
    shard       text PRIMARY KEY,
    updated_at  timestamptz NOT NULL,
    started_at  timestamptz NOT NULL,
    counters    jsonb NOT NULL
);
