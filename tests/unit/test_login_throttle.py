"""The sign-in delay grows with each failure of one (account, address) pair (its policy; the
counts in the store are tested in tests/hub/test_rate_limits_store.py)."""

from __future__ import annotations

from web.auth.throttle import GrowingDelay, address_key


def test_delays_double_after_the_free_failures_up_to_the_cap() -> None:
    delay = GrowingDelay(free=3, base_s=1.0, max_s=60.0)
    imposed = [delay.delay_for(failures) for failures in range(1, 13)]
    assert imposed == [0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert delay.delay_for(10_000) == 60  # no overflow however long it goes on


def test_ipv6_clients_count_per_64() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2")
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("192.0.2.1") == "192.0.2.1"
    assert address_key("testclient") == "testclient"
