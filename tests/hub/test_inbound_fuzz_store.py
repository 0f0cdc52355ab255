"""Every heartbeat, ack, status and play the fuzzed decoders accept is writable to the store.

Hypothesis draws hostile payloads (tests/payload_strategies.py); those the decoders accept
go through a tablet session (as the actors would) and the real :class:`StoreWriter`, and
the plays through the ingest's one statement, into the test PostgreSQL: all must commit,
none be refused or dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.effects import Effect, HeartbeatRow
from actors.messages import AckIn, HeartbeatIn, StatusIn, TabletConfig, TabletSnapshot
from actors.rules.hours import OperatingHours
from actors.rules.tablet_session import TabletSession
from config.errors import PayloadError
from hub.inbound import translate
from store import plays
from tests.conftest import LiveWriter, TestFleetFactory
from tests.payload_strategies import acks, encode, heartbeats, play_batches, statuses

Conn = psycopg.Connection[tuple[Any, ...]]
# Derandomized: the same sample each run (the unit fuzz tests draw afresh).
SAMPLE = settings(
    max_examples=200,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def accepted(
    tablet_id: str, kind: str, bodies: st.SearchStrategy[Any], examples: int = 200
) -> list[Any]:
    """The messages the decoder accepts among ``examples`` hypothesis draws."""
    out: list[Any] = []

    @settings(SAMPLE, max_examples=examples)
    @given(bodies)
    def draw(body: Any) -> None:
        try:
            _, item = translate(
                f"tablets/{tablet_id}/{kind}", encode(body), False, datetime.now(UTC), 16 * 1024
            )
        except PayloadError:
            return
        out.append(item)

    draw()
    return out


async def test_every_accepted_message_commits(
    live_writer: LiveWriter, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(tablets=1)
    tid = fleet.tablet_ids[0]
    messages = (
        accepted(tid, "heartbeat", heartbeats())
        + accepted(tid, "status", statuses())
        + accepted(tid, "playlist/ack", acks())
    )
    assert sum(isinstance(m, HeartbeatIn) for m in messages) >= 20  # the sample is not empty
    assert sum(isinstance(m, AckIn) for m in messages) >= 20
    assert sum(isinstance(m, StatusIn) for m in messages) >= 20

    cfg = TabletConfig(tid, fleet.fleet_id, None, 1, 2, 1, 6, OperatingHours())
    session = TabletSession(TabletSnapshot(cfg))
    effects: list[Effect] = []
    for m in messages:
        if isinstance(m, HeartbeatIn):
            effects += session.on_heartbeat(m).effects
        elif isinstance(m, StatusIn):
            effects += session.on_status(m).effects
        else:
            effects += session.on_ack(m).effects
    rows = [e for e in effects if isinstance(e, HeartbeatRow)]

    writer, metrics, pool = live_writer.writer, live_writer.metrics, live_writer.pool
    writer.add(effects)
    await writer.flush_now(timeout=30)
    assert metrics.write_errors == 0
    assert not metrics.dropped
    assert metrics.heartbeats_committed == len(rows)
    count = conn.execute("SELECT count(*) FROM heartbeats WHERE tablet_id = %s", (tid,))
    assert count.fetchone() == (len(rows),)

    # A valid play needs every one of its fields valid: more draws for as large a sample.
    # (One full-suite run on a loaded machine drew 6 valid plays in 200 batches where a
    # lone run draws 35: not reproduced; 400 draws keep the sample large either way.)
    batches = accepted(tid, "plays", play_batches(), examples=400)
    events = [e for b in batches for e in _events(b.payload)]
    verdicts = plays.judge_all(
        events, tid, fleet.fleet_id, datetime.now(UTC), timedelta(seconds=300), timedelta(days=90)
    )
    valid = plays.distinct_rows(verdicts)
    assert len(valid) >= 20
    async with pool.connection() as c, c.transaction():
        new = await plays.store(c, valid)
    assert len(new) == len(valid)


def _events(payload: bytes) -> list[Any]:
    try:
        return list(plays.parse_batch(payload, 160 * 1024).events)
    except PayloadError:
        return []
