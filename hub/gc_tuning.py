"""The garbage collector tuned for a hub process.

A hub holds one session per tablet (tens of thousands of long-lived objects) and allocates a
few short-lived ones per message. With CPython's default thresholds (700, 10, 10) the young
generation is collected every 700 allocations and the older ones, scanned often, dominate:
``fleethub bench --actors`` measured the actor path of 19,000 tablets at 32–34 µs per
heartbeat and 47–52 µs per pushed tablet with the defaults, 24–25 and 39 µs with the
thresholds below (docs/performance.md). Reference counting still frees everything that is
not in a cycle at once; cycles wait a little longer.
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 20)


def tune_gc() -> None:
    """Collect less often: for the hub's own process (``fleethub run``)."""
    gc.set_threshold(*THRESHOLDS)
