"""Loopback addresses: the only hosts the simulator talks to, and how it spreads its sockets.

One source address gives about 28,000 ephemeral ports, so a large fleet binds
its connections to 127.0.0.2, 127.0.0.3, ... (Linux routes all of
127.0.0.0/8 to ``lo``), at most ``per_address`` connections on each.
"""

from __future__ import annotations

import ipaddress
import math

LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
FIRST_SOURCE = "127.0.0.2"


def loopback_host(host: str) -> str:
    """Return ``host`` as an IPv4 literal in 127.0.0.0/8, or raise ValueError.

    ``localhost`` is taken as 127.0.0.1; names are not resolved, so a
    benchmark can never reach a machine other than this one.
    """
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"the simulator only talks to 127.0.0.0/8, not {host!r}") from None
    if address.version != 4 or address not in LOOPBACK:
        raise ValueError(f"the simulator only talks to 127.0.0.0/8, not {host!r}")
    canonical = str(address)
    return host if canonical == host else canonical  # keep one shared string per address


def source_addresses(count: int, per_address: int, first: str = FIRST_SOURCE) -> list[str]:
    """The consecutive loopback addresses from ``first`` that hold ``count`` sockets."""
    if count < 0 or per_address < 1:
        raise ValueError("count must be >= 0 and per_address >= 1")
    start = ipaddress.IPv4Address(loopback_host(first))
    needed = max(1, math.ceil(count / per_address))
    last = start + (needed - 1)
    if last not in LOOPBACK or last == LOOPBACK.broadcast_address:
        raise ValueError(f"{needed} source addresses from {first} leave 127.0.0.0/8")
    return [str(start + index) for index in range(needed)]


def spread(index: int, addresses: list[str]) -> str:
    """The source address of connection ``index``: round-robin, so each holds an even share."""
    return addresses[index % len(addresses)]
