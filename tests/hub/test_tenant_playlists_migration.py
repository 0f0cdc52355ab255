"""Migration 0012 on a store holding shared playlists: each tenant gets its own copy."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from yoyo import get_backend, read_migrations

from store import db

SHA = "ab" * 32


@pytest.fixture
def scratch_url(database_url: str) -> Iterator[str]:
    """A new, empty database on the suite's server (PostgreSQL or TimescaleDB)."""
    name = f"fh_migration_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    parts = urlsplit(database_url)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(
            psycopg.sql.SQL("DROP DATABASE {} WITH (FORCE)").format(psycopg.sql.Identifier(name))
        )


def migrate_until(url: str, last: str) -> None:
    backend = get_backend(db._yoyo_url(url))  # the URL yoyo wants, as migrate builds it
    try:
        with backend.lock():
            wanted = read_migrations(str(db.MIGRATIONS)).filter(lambda m: m.id <= last)
            backend.apply_migrations(backend.to_apply(wanted))
    finally:
        backend.connection.close()


def test_shared_playlists_are_copied_to_each_tenant_holding_them(scratch_url: str) -> None:
    migrate_until(scratch_url, "0011_lead_offers")
    with psycopg.connect(scratch_url, autocommit=True) as conn:
        for tenant in ("ta", "tb"):
            conn.execute("INSERT INTO tenants (tenant_id, name) VALUES (%s, %s)", (tenant, tenant))
        conn.execute(
            "INSERT INTO playlists (playlist_id, name) VALUES ('pl-shared', 'first'),"
            " ('pl-assigned', 'x'), ('pl-orphan', 'y')"
        )
        for playlist in ("pl-shared", "pl-assigned", "pl-orphan"):
            conn.execute(
                "INSERT INTO playlist_items (playlist_id, position, ad_id, campaign_id,"
                " url, sha256, duration_ms) VALUES (%s, 0, 'ad', 'c',"
                " 'https://cdn.example/a.mp4', %s, 1000)",
                (playlist, SHA),
            )
        conn.execute(
            "INSERT INTO tenant_playlists (tenant_id, playlist_id, name) VALUES"
            " ('ta', 'pl-shared', 'A loop'), ('tb', 'pl-shared', 'B loop')"
        )
        conn.execute(
            "INSERT INTO playlist_assignments (tenant_id, playlist_id, target_kind,"
            " priority, created_by) VALUES ('ta', 'pl-assigned', 'all', 'normal', 't'),"
            " ('tb', 'pl-shared', 'all', 'normal', 't')"
        )
    assert db.migrate(scratch_url)  # 0012 and whatever follows
    with psycopg.connect(scratch_url, autocommit=True) as conn:
        playlists = conn.execute(
            "SELECT tenant_id, playlist_id, name FROM playlists ORDER BY 1, 2"
        ).fetchall()
        assert playlists == [
            ("ta", "pl-assigned", "x"),
            ("ta", "pl-shared", "A loop"),
            ("tb", "pl-shared", "B loop"),
        ]
        items = conn.execute(
            "SELECT tenant_id, playlist_id, position FROM playlist_items ORDER BY 1, 2"
        ).fetchall()
        assert items == [("ta", "pl-assigned", 0), ("ta", "pl-shared", 0), ("tb", "pl-shared", 0)]
        # A tenant can only assign its own playlists (the key is the tenant's).
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(
                "INSERT INTO playlist_assignments (tenant_id, playlist_id, target_kind,"
                " priority, created_by) VALUES ('tb', 'pl-assigned', 'all', 'normal',"
                " 't')"
            )
