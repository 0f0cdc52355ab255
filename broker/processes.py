"""Child processes that fleethub starts and stops by PID (never by name)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _primary_group(user: str) -> int:
    import pwd  # POSIX only

    return pwd.getpwnam(user).pw_gid


def as_user(user: str | None) -> dict[str, object]:
    """``subprocess`` arguments that run a command as ``user`` with only its own group."""
    if user is None:
        return {}
    return {"user": user, "group": _primary_group(user), "extra_groups": []}


class Child:
    """A started child process with a name for messages and a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
        user: str | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._log: IO[bytes] | None = None
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log if self._log else None,
            stderr=subprocess.STDOUT if self._log else None,
            env=env,
            user=user,
            # Drop root's groups too, or group bits of root-owned parents would apply.
            group=_primary_group(user) if user else None,
            extra_groups=[] if user else None,
            cwd=cwd,
            start_new_session=True,  # Ctrl-C reaches the parent only; it stops us in order
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_port(self, host: str, port: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}{self._tail()}")
            if port_open(host, port):
                return
            time.sleep(0.05)
        raise RuntimeError(
            f"{self.name} did not listen on {host}:{port} in {timeout} s{self._tail()}"
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        self.interrupt(sig)
        self.finish(timeout)
        return self.proc.returncode

    def interrupt(self, sig: int = signal.SIGTERM) -> None:
        if self.alive():
            os.kill(self.proc.pid, sig)

    def finish(self, timeout: float) -> bool:
        """Wait for the exit; kill it past ``timeout``. True when it ended on its own."""
        clean = True
        if self.alive():
            try:
                self.proc.wait(max(0.0, timeout))
            except subprocess.TimeoutExpired:
                clean = False
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None
        return clean

    def _tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        lines = self.log_path.read_text(errors="replace").splitlines()[-15:]
        return "\n  " + "\n  ".join(lines) if lines else ""
