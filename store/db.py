"""Connecting to the store and migrating it (yoyo-migrations, SQL files in store/migrations)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool
from yoyo import get_backend, read_migrations

from config.errors import StoreError

MIGRATIONS = Path(__file__).parent / "migrations"


def _yoyo_url(database_url: str) -> str:
    scheme, rest = database_url.split("://", 1)
    if scheme not in ("postgresql", "postgres"):
        raise StoreError(f"FLEETHUB_DATABASE_URL must be a postgresql:// URL, got {scheme}://")
    return f"postgresql+psycopg://{rest}"


def migrate(database_url: str) -> list[str]:
    """Apply pending migrations; return the ids applied (empty when up to date)."""
    try:
        backend = get_backend(_yoyo_url(database_url))
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to the database: {exc}") from exc
    try:
        migrations = read_migrations(str(MIGRATIONS))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
    except psycopg.Error as exc:
        raise StoreError(f"migration failed: {exc}") from exc
    finally:
        backend.connection.close()
    return [m.id for m in pending]


def pool_options(max_size: int = 8) -> dict[str, Any]:
    """What every fleethub pool shares (web/http/store_gate.py builds the panel's from it)."""
    return {
        "min_size": 1,
        "max_size": max_size,
        "open": False,
        "kwargs": {"autocommit": True},
        "name": "fleethub",
    }


def open_pool(database_url: str, max_size: int = 8) -> AsyncConnectionPool:
    """A pool created closed: the owner opens it inside its lifespan."""
    return AsyncConnectionPool(database_url, **pool_options(max_size))


@asynccontextmanager
async def connect(database_url: str) -> AsyncIterator[psycopg.AsyncConnection[tuple[object, ...]]]:
    """One connection of its own (a CLI command, a seed), closed on the way out."""
    try:
        conn = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
    except psycopg.OperationalError as exc:
        raise StoreError(f"cannot connect to the database: {exc}") from exc
    async with conn:
        yield conn


async def ping(conn: psycopg.AsyncConnection[Any]) -> None:
    """One round trip: the store answers (raises ``psycopg.Error`` when it does not)."""
    await conn.execute("SELECT 1")


async def read_only_snapshot(conn: psycopg.AsyncConnection[Any]) -> None:
    """Make the caller's open transaction one consistent, read-only snapshot (its first
    statement)."""
    await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


async def server_now(conn: psycopg.AsyncConnection[Any]) -> datetime:
    """The server's clock (the watermark changed rows are read against)."""
    row = await (await conn.execute("SELECT now()")).fetchone()
    assert row is not None
    now: datetime = row[0]
    return now
