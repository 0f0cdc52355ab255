"""Hypothesis strategies for hostile device payloads (issue #18: poison input).

Values sit on and beyond every bound the store's columns set (bigint, integer, smallint,
text without U+0000, jsonb without NaN), around otherwise well-formed contract messages,
so that the decoders' accept/reject line is crossed often.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

EDGE_INTS = [
    0,
    -1,
    1,
    100,
    101,
    2**15,
    2**31 - 1,
    2**31,
    2**63 - 1,
    2**63,
    2**64,
    -(2**63),
    10**300,
]
EDGE_TEXT = [
    "",
    "\x00",
    "a\x00",
    "\ud800",
    "\udfff",
    "\U0010ffff",
    "é",
    "x" * 129,
    "x" * 257,
    "\\u0000",
    "'; DROP TABLE heartbeats; --",
]

# Controls (U+0000 among them) too; lone surrogates come from EDGE_TEXT (any one of them
# makes the whole payload invalid JSON, so they are kept rare).
any_char = st.characters()  # every code point but surrogates


def often(usual: st.SearchStrategy[Any], edge: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``usual`` 9 times in 10, else ``edge``."""
    return st.integers(0, 9).flatmap(lambda n: edge if n == 9 else usual)


texts = often(st.text(any_char, max_size=40), st.sampled_from(EDGE_TEXT))
ints = often(st.integers(), st.sampled_from(EDGE_INTS))
floats = st.floats(allow_nan=True, allow_infinity=True)
json_scalars = st.one_of(st.none(), st.booleans(), ints, floats, texts)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=16,
)


def _iso(at: datetime) -> str:
    return at.isoformat()


def times() -> st.SearchStrategy[Any]:
    now = datetime.now(UTC)
    edge = [
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-05:00",
        "2026-01-01T00:00:00",
        "not a time",
        "2026-01-01T00:00:00\x00Z",
    ]
    near = st.timedeltas(timedelta(days=-100), timedelta(days=1)).map(lambda d: _iso(now + d))
    return often(near, st.one_of(st.sampled_from(edge), json_values))


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly (9 in 10) a valid value, else anything."""
    return often(valid, json_values)


def deep(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


@st.composite
def heartbeats(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {
        "v": draw(maybe(st.just(1))),
        "seq": draw(maybe(often(st.integers(0, 2**63 - 1), st.sampled_from(EDGE_INTS)))),
        "boot_id": draw(maybe(often(st.text(any_char, min_size=1, max_size=12), texts))),
    }
    ident = often(st.text(any_char, min_size=1, max_size=12), texts)
    optional = {
        "ts": times(),
        "playlist_etag": maybe(texts),
        "now_playing": maybe(st.fixed_dictionaries({"ad_id": ident, "campaign_id": ident})),
        "battery": maybe(often(st.integers(0, 100), ints)),
        "charging": maybe(st.booleans()),
        "disk_free_mb": maybe(often(st.integers(0, 2**31 - 1), ints)),
        "app_version": maybe(texts),
        "lat": maybe(often(st.floats(-90, 90), floats)),
        "lon": maybe(often(st.floats(-180, 180), floats)),
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            body[name] = draw(strategy)
    extras = draw(st.dictionaries(texts, json_values, max_size=3))
    if draw(st.integers(0, 9)) == 0:
        extras["deep"] = deep(draw(st.integers(10, 40)))
    for key, value in extras.items():
        body.setdefault(key, value)
    return body


@st.composite
def play_events(draw: st.DrawFn) -> dict[str, Any]:
    now = datetime.now(UTC)
    started = st.timedeltas(timedelta(days=-89), timedelta(seconds=200)).map(
        lambda d: _iso(now + d)
    )
    return {
        "event_id": draw(maybe(st.uuids().map(str) | st.just(str(uuid.uuid4())))),
        "ad_id": draw(maybe(st.text(min_size=1, max_size=8) | texts)),
        "campaign_id": draw(maybe(st.text(min_size=1, max_size=8))),
        "playlist_id": draw(maybe(st.text(min_size=1, max_size=8))),
        "playlist_etag": draw(maybe(texts)),
        "started_at": draw(maybe(started)),
        "duration_ms": draw(maybe(st.integers(0, 3_600_000) | ints)),
        "result": draw(maybe(st.sampled_from(["completed", "skipped", "error", "interrupted"]))),
        "lat": draw(maybe(st.floats(-90, 90) | floats)),
        "lon": draw(maybe(st.floats(-180, 180) | floats)),
    }


@st.composite
def play_batches(draw: st.DrawFn) -> Any:
    events = draw(st.lists(maybe(play_events()), min_size=0, max_size=5))
    body: Any = {"events": events}
    if draw(st.booleans()):
        body["batch_id"] = draw(maybe(texts))
    return draw(maybe(st.just(body)))


@st.composite
def acks(draw: st.DrawFn) -> Any:
    return {
        "etag": draw(maybe(texts)),
        "status": draw(maybe(st.sampled_from(["applied", "failed"]))),
        "detail": draw(maybe(st.none() | texts)),
    }


@st.composite
def statuses(draw: st.DrawFn) -> Any:
    body: dict[str, Any] = {"state": draw(maybe(st.sampled_from(["online", "offline"])))}
    if draw(st.booleans()):
        body["ts"] = draw(times())
    return body


def encode(value: Any) -> bytes:
    """JSON as a hostile tablet would send it: ``NaN``, lone surrogates and all."""
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")
