"""Rate-limited logging of rejects: one line per key and interval, suppressed lines counted."""

from __future__ import annotations

import logging
import time

import pytest

from hub import log_limit
from hub.log_limit import LogLimiter


def test_one_line_per_key_and_interval_then_the_suppressed_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = LogLimiter(logging.getLogger("test.limit"), interval_s=0.2)
    logged = [limiter.log(logging.WARNING, "a", "rejected %s", n) for n in range(1000)]
    assert logged.count(True) == 1
    assert limiter.log(logging.WARNING, "b", "other key") is True  # keys are apart
    time.sleep(0.25)
    assert limiter.log(logging.WARNING, "a", "rejected %s", "again") is True
    messages = [r.getMessage() for r in caplog.records if r.name == "test.limit"]
    assert messages == ["rejected 0", "other key", "rejected again (999 more like it suppressed)"]


def test_the_table_of_keys_stays_bounded() -> None:
    limiter = LogLimiter(logging.getLogger("test.limit.keys"), interval_s=60)
    for n in range(log_limit.KEYS_MAX * 3):
        limiter.log(logging.DEBUG, f"tablet-{n}", "x")
    assert len(limiter._last) == log_limit.KEYS_MAX
