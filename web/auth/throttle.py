"""Sign-in throttling: growing delays per (account, address), and a cap per address.

Wrong passwords for one account from one address make that pair wait, longer after each
further failure (the first few are free: people mistype); a success forgets the pair. Nobody
elsewhere is affected, so typing wrong passwords for an owner's e-mail cannot lock the owner
out: from their own address they sign in at once. Each address also has a cap on failures
per window whatever the accounts (a password spray from one address). IPv6 clients count
per /64, the block one subscriber usually holds.

The counts live in the web process (one set per process), like the lead form's limits. A
moving-window rate limiter (such as the ``limits`` package) caps counts per window but has
no per-key delay that grows with each failure, so the delay is kept here; the per-address
cap is :class:`web.security.LoginThrottle`.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from config.settings import Settings
from web.security import LoginThrottle


@dataclass(slots=True)
class _Backoff:
    failures: int
    not_before: float
    last: float


class GrowingDelay:
    """Per key: after ``free`` failures, each failure delays the next try by twice the last.

    The delays run ``base_s``, 2·``base_s``, 4·``base_s``, … up to ``max_s``; a key quiet for
    ``forget_s`` starts again from zero. At most ``max_keys`` keys are kept (the oldest go).
    """

    def __init__(self, *, free: int = 3, base_s: float = 1.0, max_s: float = 300.0,
                 forget_s: float = 3600.0, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.free, self.base_s, self.max_s = free, base_s, max_s
        self.forget_s, self.max_keys, self.clock = forget_s, max_keys, clock
        self._keys: dict[str, _Backoff] = {}

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""
        entry = self._keys.get(key)
        if entry is None:
            return 0.0
        now = self.clock()
        if now - entry.last > self.forget_s:
            del self._keys[key]
            return 0.0
        return max(0.0, entry.not_before - now)

    def failed(self, key: str) -> float:
        """Count a failure; returns the delay it imposes on the next try."""
        now = self.clock()
        entry = self._keys.pop(key, None)
        if entry is None or now - entry.last > self.forget_s:
            entry = _Backoff(0, now, now)
        entry.failures += 1
        over = entry.failures - self.free
        delay = 0.0 if over <= 0 else min(self.max_s, self.base_s * 2 ** min(over - 1, 60))
        entry.not_before, entry.last = now + delay, now
        if len(self._keys) >= self.max_keys:  # bounded: forget the oldest keys first
            self._keys.pop(next(iter(self._keys)))
        self._keys[key] = entry  # re-inserted: the dict stays in order of last failure
        return delay

    def succeeded(self, key: str) -> None:
        self._keys.pop(key, None)


def address_key(host: str) -> str:
    """The client's address as counted: IPv4 as is, IPv6 by its /64."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class Throttles:
    """The sign-in limits of one web process: the login form and the API token route share them."""

    def __init__(self, settings: Settings) -> None:
        self.by_pair = GrowingDelay(max_s=settings.login_delay_max_s)
        self.by_client = LoginThrottle(limit=settings.login_failures_per_client, window_s=300)

    @staticmethod
    def _keys(request: Request, email: str) -> tuple[str, str]:
        client = address_key(request.client.host if request.client else "?")
        return f"{email.strip().lower()}\x00{client}", client

    def retry_after(self, request: Request, email: str) -> int:
        """Whole seconds this sign-in must wait (0: go ahead and check the password)."""
        pair, client = self._keys(request, email)
        wait = max(self.by_pair.retry_after(pair), self.by_client.retry_after(client))
        return math.ceil(wait)

    def failed(self, request: Request, email: str) -> None:
        pair, client = self._keys(request, email)
        self.by_pair.failed(pair)
        self.by_client.failed(client)

    def succeeded(self, request: Request, email: str) -> None:
        self.by_pair.succeeded(self._keys(request, email)[0])
