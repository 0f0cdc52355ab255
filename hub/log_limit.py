"""Rate-limited logging: at most one line per key and interval, the rest counted.

A flood of bad input (one rooted tablet can send thousands of messages a second) must not
become a flood of log lines; the counters in :class:`hub.metrics.HubMetrics` stay exact, and
the next line of a key says how many were suppressed since the last. Keys are few (reject
categories, table groups), and the table of keys is bounded anyway.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

KEYS_MAX = 1024


class LogLimiter:
    def __init__(self, logger: logging.Logger, interval_s: float = 1.0) -> None:
        self._log = logger
        self._interval = interval_s
        self._last: OrderedDict[str, tuple[float, int]] = OrderedDict()  # key → (at, suppressed)

    def log(self, level: int, key: str, fmt: str, *args: object, exc_info: bool = False) -> bool:
        """Log unless ``key`` logged within the interval; return whether it did."""
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last[0] < self._interval:
            self._last[key] = (last[0], last[1] + 1)
            return False
        suppressed = last[1] if last is not None else 0
        self._last[key] = (now, 0)
        self._last.move_to_end(key)
        while len(self._last) > KEYS_MAX:
            self._last.popitem(last=False)
        if suppressed:
            fmt += " (%d more like it suppressed)"
            args = (*args, suppressed)
        self._log.log(level, fmt, *args, exc_info=exc_info)
        return True
