"""A bounded queue of outgoing MQTT messages: full, it drops the oldest and counts it."""

from __future__ import annotations

import asyncio
from collections import deque

from actors.effects import Publish
from hub.metrics import HubMetrics


class OutQueue:
    def __init__(self, metrics: HubMetrics, bound: int) -> None:
        self._metrics = metrics
        self._bound = bound
        self._items: deque[Publish] = deque()
        self.ready = asyncio.Event()  # set whenever something was put

    def put(self, msg: Publish) -> None:
        if len(self._items) >= self._bound:
            self._items.popleft()
            self._metrics.dropped["publish_queue_overflow"] += 1
        self._items.append(msg)
        self.ready.set()

    def put_back(self, msg: Publish) -> None:
        """A message that was not acknowledged goes to the front again."""
        self._items.appendleft(msg)
        self.ready.set()

    def take(self) -> Publish:
        return self._items.popleft()

    def __len__(self) -> int:
        return len(self._items)
