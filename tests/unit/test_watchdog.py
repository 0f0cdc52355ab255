"""Deadlines: the watchdog's heap with lazy re-arming, against a naive dict model."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from actors.messages import TimerKind
from actors.system.watchdog import Deadlines

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_fires_once_at_the_deadline() -> None:
    d = Deadlines()
    d.arm("t1", "offline", at(90))
    assert d.due(at(89)) == []
    assert d.due(at(90)) == [("t1", "offline", at(90))]
    assert d.due(at(91)) == []
    assert d.due(at(10_000)) == []
    assert len(d) == 0


def test_a_cleared_timer_never_fires() -> None:
    d = Deadlines()
    d.arm("t1", "offline", at(90))
    d.arm("t1", "offline", None)
    assert len(d) == 0
    assert d.due(at(1000)) == []


def test_clearing_an_unknown_timer_is_harmless() -> None:
    d = Deadlines()
    d.arm("t1", "incident", None)
    assert len(d) == 0
    assert d.due(at(1)) == []


def test_an_extended_timer_fires_at_the_new_deadline_only() -> None:
    d = Deadlines()
    d.arm("t1", "offline", at(90))
    d.arm("t1", "offline", at(150))
    assert d.due(at(90)) == []
    assert d.due(at(149)) == []
    assert d.due(at(150)) == [("t1", "offline", at(150))]
    assert d.due(at(500)) == []


def test_a_shortened_timer_fires_at_the_new_deadline_only() -> None:
    d = Deadlines()
    d.arm("t1", "incident", at(300))
    d.arm("t1", "incident", at(100))
    assert d.due(at(100)) == [("t1", "incident", at(100))]
    assert d.due(at(300)) == []


def test_extend_then_shorten_fires_once_at_the_current_deadline() -> None:
    d = Deadlines()
    d.arm("t1", "offline", at(10))
    d.arm("t1", "offline", at(30))
    d.arm("t1", "offline", at(20))
    assert d.due(at(15)) == []
    assert d.due(at(20)) == [("t1", "offline", at(20))]
    assert d.due(at(100)) == []


def test_rearming_after_a_clear_or_a_fire_works() -> None:
    d = Deadlines()
    d.arm("t1", "offline", at(10))
    d.arm("t1", "offline", None)
    d.arm("t1", "offline", at(10))
    assert d.due(at(10)) == [("t1", "offline", at(10))]
    d.arm("t1", "offline", at(10))  # the same deadline once more, after it fired
    assert d.due(at(10)) == [("t1", "offline", at(10))]
    assert d.due(at(10)) == []


def test_kinds_and_tablets_are_separate_keys() -> None:
    d = Deadlines()
    d.arm("t1", "offline", at(10))
    d.arm("t1", "incident", at(20))
    d.arm("t2", "offline", at(10))
    d.arm("t1", "offline", None)
    assert len(d) == 2
    assert d.due(at(30)) == [("t2", "offline", at(10)), ("t1", "incident", at(20))]


def test_due_returns_timers_in_deadline_order() -> None:
    d = Deadlines()
    for n in (5, 3, 9, 1, 7):
        d.arm(f"t{n}", "offline", at(n))
    assert [deadline for _, _, deadline in d.due(at(100))] == [at(n) for n in (1, 3, 5, 7, 9)]


def test_heap_stays_small_over_10000_extensions_of_one_key() -> None:
    d = Deadlines()
    for n in range(10_000):  # a heartbeat every 30 s, each pushing the deadline out
        d.arm("t1", "offline", at(30 * n + 90))
        assert len(d._heap) <= 2
    assert len(d) == 1
    assert d.due(at(30 * 9_999 + 89)) == []
    assert d.due(at(30 * 9_999 + 90)) == [("t1", "offline", at(30 * 9_999 + 90))]
    assert d._heap == []


def test_heap_stays_small_when_ticks_interleave_with_extensions() -> None:
    d = Deadlines()
    for n in range(10_000):
        d.arm("t1", "offline", at(n + 90))
        assert d.due(at(n)) == []
        assert len(d._heap) <= 2


def test_heap_stays_small_over_10000_clear_and_rearm_cycles() -> None:
    d = Deadlines()
    monday_open = at(3 * 86_400)
    for _ in range(10_000):  # a flapping tablet at night: offline arms, online clears
        d.arm("t1", "incident", monday_open)
        d.arm("t1", "incident", None)
    assert len(d._heap) <= 64


@pytest.mark.parametrize("seed", range(20))
def test_matches_a_naive_model(seed: int) -> None:
    rng = random.Random(seed)
    d = Deadlines()
    model: dict[tuple[str, TimerKind], datetime] = {}
    tablets = [f"t{n}" for n in range(5)]
    kinds: list[TimerKind] = ["offline", "incident"]
    now = 0
    for _ in range(2_000):
        roll = rng.random()
        if roll < 0.6:
            key = (rng.choice(tablets), rng.choice(kinds))
            deadline = at(now + rng.randint(-5, 50))  # some already due
            d.arm(*key, deadline)
            model[key] = deadline
        elif roll < 0.75:
            key = (rng.choice(tablets), rng.choice(kinds))
            d.arm(*key, None)
            model.pop(key, None)
        else:
            now += rng.randint(0, 20)
            expected = sorted(
                (tablet_id, kind, deadline)
                for (tablet_id, kind), deadline in model.items()
                if deadline <= at(now)
            )
            for tablet_id, kind, _ in expected:
                del model[(tablet_id, kind)]
            fired = d.due(at(now))
            assert sorted(fired) == expected
            assert [f[2] for f in fired] == sorted(f[2] for f in fired)
        assert len(d) == len(model)
    assert sorted(d.due(at(now + 1_000))) == sorted((t, k, v) for (t, k), v in model.items())
