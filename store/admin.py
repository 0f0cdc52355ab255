"""Server administration on a superuser connection: the superuser's password, databases, and
the one server setting the plays benchmark needs (``track_commit_timestamp``)."""

from __future__ import annotations

import psycopg
from psycopg import sql

Conn = psycopg.AsyncConnection[tuple[object, ...]]


async def set_password(conn: Conn, role: str, password: str) -> None:
    await conn.execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
    )


async def create_database(conn: Conn, name: str) -> None:
    """A new database (the connection must be in autocommit mode)."""
    await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


async def ensure_database(conn: Conn, name: str) -> None:
    """Create the database unless it exists."""
    found = await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
    if await found.fetchone() is None:
        await create_database(conn, name)


async def commit_timestamps_kept(conn: Conn) -> bool:
    """Whether the server records each transaction's commit time (``pg_xact_commit_timestamp``)."""
    row = await (await conn.execute("SHOW track_commit_timestamp")).fetchone()
    return bool(row and row[0] == "on")


async def keep_commit_timestamps(conn: Conn) -> None:
    """Turn ``track_commit_timestamp`` on; it takes effect when the server restarts."""
    await conn.execute("ALTER SYSTEM SET track_commit_timestamp = on")
