"""Remote commands in the hub: queued in the store, handed to the tablet actors to publish.

On ``NOTIFY fleethub_commands`` (a new command) and whenever the store listener connects
(start, reconnect), each shard reads the queued targets it owns that were never published
and are not expired (store/commands.py :func:`~store.commands.unsent`) and gives each tablet
actor its :class:`~actors.messages.CommandIn`, with this tablet's arguments: a screenshot's
signed single-use upload URL (media/screenshot_tokens.py). The actor publishes it once; its
writer records ``sent_at``, so a restarted hub does not publish it again (the broker holds it
in the tablet's persistent session until it expires). Shard 0 also ends what expired
(:func:`~store.commands.expire`) every second, and audits the result counts of each command
whose targets are all final (:func:`~store.commands.finish`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Collection
from datetime import UTC, datetime

from psycopg_pool import AsyncConnectionPool

from actors.messages import CommandIn
from config.settings import Settings
from hub.metrics import HubMetrics
from hub.supervise import STORE_ERRORS
from media.screenshot_tokens import upload_url
from media.tokens import media_key
from store import commands

log = logging.getLogger(__name__)
EXPIRE_EVERY_S = 1.0


class HubCommands:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        settings: Settings,
        metrics: HubMetrics,
        to_actors: Callable[[object], None],
        owned: Collection[str],
    ) -> None:
        self.pool, self.settings, self.metrics = pool, settings, metrics
        self._to_actors = to_actors
        self._owned = owned
        self._key = media_key(settings)
        self._upload_base = settings.media_origin()

    async def load(self, command_id: str | None = None) -> int:
        """Hand the actors every owned target of ``command_id`` (None: of every command) that
        was never published; returns how many."""
        async with self.pool.connection() as conn:
            rows = await commands.unsent(conn, command_id)
        now = datetime.now(UTC)
        handed = 0
        for row in rows:
            if row.tablet_id not in self._owned:
                continue
            args = dict(row.args)
            if row.name == "screenshot":
                args["upload_url"] = upload_url(
                    self._key, self._upload_base, str(row.command_id), row.tablet_id, row.expires_at
                )
            self._to_actors(
                CommandIn(
                    row.tablet_id,
                    str(row.command_id),
                    row.name,
                    json.dumps(args, separators=(",", ":")),
                    row.issued_at,
                    row.expires_at,
                    now,
                )
            )
            handed += 1
        return handed

    async def on_notify(self, payload: str) -> None:
        await self.load(payload[:64])

    async def expire_loop(self) -> None:
        while True:
            await asyncio.sleep(EXPIRE_EVERY_S)
            try:
                async with self.pool.connection() as conn:
                    ended = await commands.expire(conn)
                    finished = await commands.finish(conn)
                if ended:
                    log.info("%d command targets expired", ended)
                if finished:
                    log.info("%d commands finished", finished)
            except STORE_ERRORS as exc:
                self.metrics.loop_errors["hub.commands.expire"] += 1
                log.warning("expiring commands skipped: %s", exc)
