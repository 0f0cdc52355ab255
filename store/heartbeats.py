"""Heartbeats: one ``COPY`` of a flush's rows into ``heartbeats``.

The columns are those the heartbeat's declaration names (contract/heartbeat.py), sent in
binary with their declared types.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import set_json_dumps

from actors.effects import HeartbeatRow
from contract.heartbeat import COLUMNS as HEARTBEAT_COLUMNS

COPY_HEARTBEATS = sql.SQL("COPY heartbeats ({}) FROM STDIN (FORMAT BINARY)").format(
    sql.SQL(", ").join(sql.Identifier(c.name) for c in HEARTBEAT_COLUMNS)
)
HEARTBEAT_TYPES = [c.pg for c in HEARTBEAT_COLUMNS]
HEARTBEAT_ROW = attrgetter(*(c.attr for c in HEARTBEAT_COLUMNS))  # a heartbeat → its row


async def copy_heartbeats(conn: psycopg.AsyncConnection[Any], rows: Iterable[HeartbeatRow]) -> None:
    """``COPY`` the rows in the caller's transaction, on a cursor of their own."""
    cur = conn.cursor()
    set_json_dumps(_identity, cur)  # the jsonb column gets JSON text as it is
    async with cur.copy(COPY_HEARTBEATS) as copy:
        copy.set_types(HEARTBEAT_TYPES)
        for h in rows:
            await copy.write_row(HEARTBEAT_ROW(h))


def _identity(text: str) -> str:
    """A heartbeat's ``extra_json`` is JSON already: sent without parsing it again."""
    return text
