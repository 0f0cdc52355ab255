"""Staged app rollouts in the hub: shard 0 judges every running rollout whose wave soaked
(store/rollouts.py :func:`~store.rollouts.step`) every few seconds, and logs what became of it.
"""

from __future__ import annotations

import asyncio
import logging

from psycopg_pool import AsyncConnectionPool

from hub.metrics import HubMetrics
from hub.supervise import STORE_ERRORS
from store import rollouts

log = logging.getLogger(__name__)
STEP_EVERY_S = 2.0


async def step_loop(pool: AsyncConnectionPool, metrics: HubMetrics) -> None:
    while True:
        await asyncio.sleep(STEP_EVERY_S)
        try:
            async with pool.connection() as conn:
                done = await rollouts.step(conn)
        except STORE_ERRORS as exc:
            metrics.loop_errors["hub.rollouts.step"] += 1
            log.warning("stepping rollouts skipped: %s", exc)
            continue
        for rollout_id, what in done:
            log.info("rollout %d %s", rollout_id, what)
