"""Durations as operators write them."""

from __future__ import annotations

import pytest

from config.durations import format_duration, parse_duration
from config.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("2h", 7200),
        ("1d", 86_400),
        ("1h30m", 5400),
        ("1d2h3m4s", 93_784),
        (" 5M ", 300),
        ("90s", 90),
        ("01m", 60),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "   ", "5", "m", "5x", "1.5h", "-5m", "5 m", "1h 30m", "5m junk", "h5", "5mm"]
)
def test_parse_duration_rejects_bad_input_with_an_example(text: str) -> None:
    with pytest.raises(ConfigError, match="write it like 30s, 5m, 2h, 1d or 1h30m") as info:
        parse_duration(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize("text", ["0s", "0m0s", "00h"])
def test_parse_duration_rejects_zero(text: str) -> None:
    with pytest.raises(ConfigError, match="must be greater than zero"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (1, "1s"),
        (60, "1m"),
        (90, "1m30s"),
        (3600, "1h"),
        (5400, "1h30m"),
        (86_400, "1d"),
        (90_061, "1d1h1m1s"),
        (172_800, "2d"),
    ],
)
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [1, 59, 60, 61, 3599, 3600, 3601, 86_399, 86_401, 10**7])
def test_format_then_parse_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds
