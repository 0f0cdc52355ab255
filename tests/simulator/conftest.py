"""Fixtures of the simulator tests: a real Mosquitto per test and a paho observer."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Literal

import pytest

from tests.simulator.observer import Observe, Observer, SimBroker

BROKER_START_TIMEOUT_S = 5.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_listening(port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + BROKER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mosquitto exited: {log_path.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"mosquitto not listening on {port}: {log_path.read_text()}")


@pytest.fixture
def sim_broker(tmp_path: Path) -> Iterator[SimBroker]:
    """A Mosquitto child process on a free loopback port, stopped by its PID afterwards."""
    port = _free_port()
    config = tmp_path / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous true\n"
        "persistence false\n"
        "log_dest stderr\n"
        "log_type error\n"
        "log_type warning\n"
    )
    # Started as root, mosquitto drops to the `mosquitto` user.
    tmp_path.chmod(0o755)
    config.chmod(0o644)
    log_path = tmp_path / "mosquitto.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            ["mosquitto", "-c", str(config)], stdout=log_file, stderr=subprocess.STDOUT
        )
    try:
        _wait_listening(port, process, log_path)
        yield SimBroker("127.0.0.1", port, process.pid)
    finally:
        os.kill(process.pid, 15)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, 9)
            process.wait(timeout=5)


@pytest.fixture
async def observe(sim_broker: SimBroker) -> AsyncIterator[Observe]:
    """``await observe([topic filter, ...])`` gives a subscribed :class:`Observer`."""
    observers: list[Observer] = []

    async def start(topics: list[str]) -> Observer:
        observer = Observer(sim_broker, topics)
        observers.append(observer)
        await observer.start()
        return observer

    yield start
    for observer in observers:
        observer.stop()


@pytest.fixture(autouse=True)
def _fail_on_logged_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A logged error or exception (a handler that blew up) fails the test."""
    yield
    phases: tuple[Literal["setup", "call"], ...] = ("setup", "call")
    errors = [
        record
        for phase in phases
        for record in caplog.get_records(phase)
        if record.levelno >= logging.ERROR
    ]
    assert not errors, [record.getMessage() for record in errors]
