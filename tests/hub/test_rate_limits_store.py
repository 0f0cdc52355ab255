"""Rate limits in the store (store/rate_limits.py): one budget for every panel process.

Two pools stand for two panel processes: ``limits``' moving windows and sign-in's growing
delay count on the same rows, the cap holds under concurrent hits, and quiet keys expire.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from limits import RateLimitItemPerSecond
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from store.db import open_pool
from store.rate_limits import RateLimitStore
from web.auth.throttle import GrowingDelay


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[tuple[RateLimitStore, RateLimitStore]]:
    """Two stores, each on a pool of its own (two panel processes)."""
    pools = [open_pool(database_url, max_size=4) for _ in range(2)]
    for pool in pools:
        await pool.open(wait=True, timeout=30)
    try:
        yield RateLimitStore(pools[0]), RateLimitStore(pools[1])
    finally:
        for pool in pools:
            await pool.close()


def key() -> str:
    return uuid.uuid4().hex


async def test_a_moving_window_is_one_budget_for_two_processes(
    stores: tuple[RateLimitStore, RateLimitStore],
) -> None:
    one, two = (MovingWindowRateLimiter(s) for s in stores)
    item, k = RateLimitItemPerSecond(3, 2), key()
    started = time.time()
    assert await one.hit(item, k)
    assert await two.hit(item, k)
    assert await one.hit(item, k)
    assert not await two.hit(item, k)  # the third hit was the other process's
    assert not await one.test(item, k)
    stats = await two.get_window_stats(item, k)
    assert stats.remaining == 0
    assert started <= stats.reset_time <= time.time() + 2.5  # the oldest hit + the window
    assert await one.hit(item, key())  # another key has its own budget
    await asyncio.sleep(max(0.0, stats.reset_time - time.time()) + 0.1)
    assert await two.hit(item, k)  # the window moved on


async def test_the_cap_holds_under_concurrent_hits(
    stores: tuple[RateLimitStore, RateLimitStore],
) -> None:
    limiters = [MovingWindowRateLimiter(s) for s in stores]
    item, k = RateLimitItemPerSecond(5, 60), key()
    results = await asyncio.gather(*(limiters[n % 2].hit(item, k) for n in range(20)))
    assert results.count(True) == 5


async def test_a_growing_delay_is_shared_reset_by_success_and_forgotten_when_quiet(
    stores: tuple[RateLimitStore, RateLimitStore],
) -> None:
    one, two = stores
    policy, k = GrowingDelay(free=1, base_s=0.5, max_s=60.0, forget_s=1.0), key()
    assert await one.failed(k, policy.delay_for, policy.forget_s) == 0
    assert await two.delay_left(k) == 0
    assert await two.failed(k, policy.delay_for, policy.forget_s) == 0.5
    assert 0.3 < await one.delay_left(k) <= 0.5
    assert await one.failed(k, policy.delay_for, policy.forget_s) == 1.0  # doubled
    await two.clear(k)  # a success
    assert await one.delay_left(k) == 0
    assert await one.failed(k, policy.delay_for, policy.forget_s) == 0  # from zero again
    assert await one.failed(k, policy.delay_for, policy.forget_s) == 0.5
    await asyncio.sleep(1.1)  # quiet for forget_s
    assert await two.delay_left(k) == 0
    assert await two.failed(k, policy.delay_for, policy.forget_s) == 0


async def test_fixed_window_counters_and_the_storage_basics(
    stores: tuple[RateLimitStore, RateLimitStore],
) -> None:
    one, two = stores
    fixed, item, k = FixedWindowRateLimiter(one), RateLimitItemPerSecond(2, 60), key()
    assert await fixed.hit(item, k)
    assert await FixedWindowRateLimiter(two).hit(item, k)
    assert not await fixed.hit(item, k)
    assert (await fixed.get_window_stats(item, k)).remaining == 0
    await fixed.clear(item, k)
    assert await fixed.hit(item, k)
    assert await one.check()
    assert await two.get(key()) == 0
