"""The panel's moving-window rate limits (``limits``), counted in the store for every process.

The counts are in store/rate_limits.py (one table, shared by every panel process on the
store); web/auth/throttle.py and web/leads/form_limits.py say what is limited and whether a
limit fails open or closed while the store cannot count.
"""

from __future__ import annotations

import time

from fastapi import Request
from limits import RateLimitItem
from limits.aio.strategies import MovingWindowRateLimiter

from store.rate_limits import RateLimitStore


def store_of(request: Request) -> RateLimitStore:
    """The app's rate-limit store, made in the lifespan on the app's pool."""
    store: RateLimitStore = request.app.state.rate_limits
    return store


def limiter_of(request: Request) -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(store_of(request))


async def wait_s(limiter: MovingWindowRateLimiter, item: RateLimitItem, *key: str) -> float:
    """Seconds until ``key`` may be counted again under ``item``; 0 when it may now.

    The window is on the store's clock, the wait on this host's: a skew between them
    (NTP keeps it in milliseconds) only shifts ``Retry-After``, never the count."""
    stats = await limiter.get_window_stats(item, *key)
    return 0.0 if stats.remaining > 0 else max(0.0, stats.reset_time - time.time())
