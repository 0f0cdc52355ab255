"""Sign-in throttling: growing delays per (account, address), and a cap per address.

Wrong passwords for one account from one address make that pair wait, longer after each
further failure (the first few are free: people mistype); a success forgets the pair. Nobody
elsewhere is affected, so typing wrong passwords for an owner's e-mail cannot lock the owner
out: from their own address they sign in at once. Each address also has a cap on failures
per window whatever the accounts (a password spray from one address). IPv6 clients count
per /64, the block one subscriber usually holds.

Both are counted in the store (store/rate_limits.py), so every panel process shares
them: the cap is a moving window of ``limits`` (web/rate_limits.py); the growing delay,
which ``limits`` has no strategy for, keeps its failures and ``not_before`` in the same
table, its policy being :class:`GrowingDelay`.

Fail open: while the store cannot count (or refuses to), sign-in goes on unthrottled, the
error logged. The password check needs the same store, so during an outage sign-in answers
503 anyway; a fault of the counts alone must not lock everyone out of the panel.
"""

from __future__ import annotations

import ipaddress
import logging
import math

import psycopg
from fastapi import Request
from limits import RateLimitItemPerSecond
from psycopg_pool import PoolTimeout

from config.settings import Settings
from hub.log_limit import LogLimiter
from web.rate_limits import limiter_of, store_of, wait_s

log = logging.getLogger(__name__)
limited = LogLimiter(log, interval_s=10.0)

STORE_ERRORS = (psycopg.Error, PoolTimeout)
CLIENT_WINDOW_S = 300


class GrowingDelay:
    """After ``free`` failures, each failure delays the next try by twice the last.

    The delays run ``base_s``, 2·``base_s``, 4·``base_s``, … up to ``max_s``; a key quiet for
    ``forget_s`` starts again from zero.
    """

    def __init__(
        self, *, free: int = 3, base_s: float = 1.0, max_s: float = 300.0, forget_s: float = 3600.0
    ) -> None:
        self.free, self.base_s, self.max_s, self.forget_s = free, base_s, max_s, forget_s

    def delay_for(self, failures: int) -> float:
        """The wait imposed by the ``failures``-th failure in a row."""
        over = failures - self.free
        return 0.0 if over <= 0 else min(self.max_s, self.base_s * 2 ** min(over - 1, 60))


def address_key(host: str) -> str:
    """The client's address as counted: IPv4 as is, IPv6 by its /64."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _not_counted(what: str, exc: Exception) -> None:
    limited.log(
        logging.ERROR,
        what,
        "sign-in throttle could not %s (%s: %s); not throttled",
        what,
        type(exc).__name__,
        exc,
    )


class Throttles:
    """The sign-in limits: the login form and the API token route share them."""

    def __init__(self, settings: Settings) -> None:
        self.by_pair = GrowingDelay(max_s=settings.login_delay_max_s)
        self.by_client = RateLimitItemPerSecond(settings.login_failures_per_client, CLIENT_WINDOW_S)

    @staticmethod
    def _keys(request: Request, email: str) -> tuple[str, str]:
        client = address_key(request.client.host if request.client else "?")
        # The address never holds a space, so the first space ends it.
        return f"sign-in {client} {email.strip().lower()}", client

    async def retry_after(self, request: Request, email: str) -> int:
        """Whole seconds this sign-in must wait (0: go ahead and check the password)."""
        pair, client = self._keys(request, email)
        try:
            wait = max(
                await store_of(request).delay_left(pair),
                await wait_s(limiter_of(request), self.by_client, "sign-in", client),
            )
        except STORE_ERRORS as exc:
            _not_counted("read", exc)
            return 0
        return math.ceil(wait)

    async def failed(self, request: Request, email: str) -> None:
        pair, client = self._keys(request, email)
        try:
            await store_of(request).failed(pair, self.by_pair.delay_for, self.by_pair.forget_s)
            await limiter_of(request).hit(self.by_client, "sign-in", client)
        except STORE_ERRORS as exc:
            _not_counted("count", exc)

    async def succeeded(self, request: Request, email: str) -> None:
        try:
            await store_of(request).clear(self._keys(request, email)[0])
        except STORE_ERRORS as exc:
            _not_counted("forget", exc)
