"""The embedded PostgreSQL of `fleethub up` lets no loopback connection in without its password."""

from __future__ import annotations

import stat
from pathlib import Path

import psycopg
import pytest

from broker.processes import free_port
from devtools.embedded_db import EmbeddedPostgres


def _refused_without_password(server: EmbeddedPostgres) -> None:
    for user in ("postgres", "fleethub"):
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(
                host=server.host, port=server.port, user=user, dbname="postgres", connect_timeout=5
            )
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host=server.host,
            port=server.port,
            user="postgres",
            dbname="postgres",
            password="wrong-password",
            connect_timeout=5,
        )


def test_tcp_needs_the_generated_password_kept_private(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pgdata", port=free_port())
    url = server.start()
    try:
        assert server.password_file == tmp_path / "pgdata.password"
        assert stat.S_IMODE(server.password_file.stat().st_mode) == 0o600
        assert len(server.password()) >= 32
        _refused_without_password(server)
        with psycopg.connect(url, connect_timeout=5) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    finally:
        server.stop()


def test_a_data_directory_made_open_is_closed_on_the_next_start(tmp_path: Path) -> None:
    """A cluster from before (trust for every loopback connection, no password) is fixed."""
    server = EmbeddedPostgres(tmp_path / "pgdata", port=free_port())
    server.start()
    server.stop()
    (server.pgdata / "pg_hba.conf").write_text(
        "host all all 127.0.0.1/32 trust\nlocal all all trust\n"
    )
    server.password_file.unlink()
    url = server.start()
    try:
        _refused_without_password(server)
        with psycopg.connect(url, connect_timeout=5) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.stop()
