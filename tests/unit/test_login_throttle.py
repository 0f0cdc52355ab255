"""The sign-in delay grows with each failure of one (account, address) pair, and resets."""

from __future__ import annotations

from web.auth.throttle import GrowingDelay, address_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_delays_double_after_the_free_failures_up_to_the_cap() -> None:
    clock = Clock()
    delay = GrowingDelay(free=3, base_s=1.0, max_s=60.0, clock=clock)
    imposed = []
    for _ in range(12):
        clock.now += delay.retry_after("k")  # wait out each delay, then fail again
        imposed.append(delay.failed("k"))
    assert imposed == [0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert delay.retry_after("k") == 60
    assert delay.retry_after("other") == 0
    delay.succeeded("k")
    assert delay.retry_after("k") == 0


def test_a_quiet_key_is_forgotten_and_keys_are_bounded() -> None:
    clock = Clock()
    delay = GrowingDelay(free=0, base_s=1.0, forget_s=600, max_keys=3, clock=clock)
    assert delay.failed("a") == 1
    clock.now += 601
    assert delay.retry_after("a") == 0
    assert delay.failed("a") == 1  # from the start again
    for key in ("b", "c", "d"):
        delay.failed(key)
    assert delay.retry_after("a") == 0  # the oldest went when "d" came
    assert delay.retry_after("d") == 1


def test_ipv6_clients_count_per_64() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2")
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("192.0.2.1") == "192.0.2.1"
    assert address_key("testclient") == "testclient"
