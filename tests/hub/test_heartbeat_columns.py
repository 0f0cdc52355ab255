"""The store's ``heartbeats`` table is the heartbeat's declaration (contract/heartbeat.py):
every column the migrations made but the store's own is declared, with the type the writer's
COPY sends."""

from __future__ import annotations

from typing import Any

import psycopg

from contract.heartbeat import COLUMNS
from store.presence import STATE_CASTS, STATE_COLUMNS

Conn = psycopg.Connection[tuple[Any, ...]]


def test_heartbeats_table_has_the_declared_columns(conn: Conn) -> None:
    rows = conn.execute(
        "SELECT column_name, udt_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = 'heartbeats'"
    ).fetchall()
    by_store = {"stored_at": "timestamptz"}  # its default: the writer's transaction time
    assert dict(rows) == {c.name: c.pg for c in COLUMNS} | by_store


def test_the_state_rows_staging_holds_every_column_of_tablet_state(conn: Conn) -> None:
    """The writer stages state rows (store/presence.py ``STATE_COLUMNS``) and casts them into
    ``tablet_state``: the two keep the same columns (the stored type where no cast is named)."""
    rows = conn.execute(
        "SELECT column_name, udt_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = 'tablet_state'"
    ).fetchall()
    by_store = {"updated_at": "timestamptz"}  # the writer's transaction time
    staged = {name: STATE_CASTS.get(name, pg) for name, pg in STATE_COLUMNS}
    assert dict(rows) == staged | by_store
