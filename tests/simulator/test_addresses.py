"""The simulator reaches loopback only, and spreads its sockets over source addresses."""

from __future__ import annotations

from collections import Counter

import pytest

from devtools.simulator import SimFleet
from devtools.simulator.addresses import loopback_host, source_addresses, spread


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1", "127.0.0.1"), ("localhost", "127.0.0.1"), ("127.4.5.6", "127.4.5.6")],
)
def test_loopback_hosts_are_accepted(host: str, expected: str) -> None:
    assert loopback_host(host) == expected


@pytest.mark.parametrize(
    "host", ["10.0.0.1", "192.168.1.20", "0.0.0.0", "::1", "example.com", "128.0.0.1", ""]
)
def test_other_hosts_are_refused(host: str) -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.0/8"):
        loopback_host(host)


def test_fleet_refuses_a_broker_off_loopback() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.0/8"):
        SimFleet([("t1", None)], host="192.168.1.20")
    with pytest.raises(ValueError, match=r"127\.0\.0\.0/8"):
        SimFleet([("t1", None)], first_source="10.0.0.2")


@pytest.mark.parametrize(
    ("count", "per_address", "expected"),
    [
        (1, 5_000, ["127.0.0.2"]),
        (5_000, 5_000, ["127.0.0.2"]),
        (5_001, 5_000, ["127.0.0.2", "127.0.0.3"]),
        (19_000, 5_000, ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]),
    ],
)
def test_source_addresses_hold_at_most_per_address(
    count: int, per_address: int, expected: list[str]
) -> None:
    addresses = source_addresses(count, per_address)
    assert addresses == expected
    load = Counter(spread(index, addresses) for index in range(count))
    assert max(load.values()) <= per_address
    assert max(load.values()) - min(load.values()) <= 1


def test_source_addresses_cannot_leave_loopback() -> None:
    with pytest.raises(ValueError, match="leave"):
        source_addresses(10, 1, first="127.255.255.250")


@pytest.mark.parametrize(
    "credentials",
    [[], [("same", None), ("same", None)], [("a/b", None)], [("a+", None)]],
)
def test_fleet_refuses_bad_tablet_lists(credentials: list[tuple[str, str | None]]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - several distinct messages
        SimFleet(credentials)
