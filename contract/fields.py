"""Field types of the device contract, each bounded to what its store column holds.

The store's columns (store/migrations) are bigint, integer, smallint, and text, which
refuses U+0000. A value outside them is rejected when the payload is parsed, never by
the writer.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field

INT8_MAX = 2**63 - 1
INT4_MAX = 2**31 - 1
EXTRA_DEPTH = 16  # nesting of the unknown heartbeat fields kept as jsonb


def no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain U+0000")
    return text


def _in_utc_range(at: datetime) -> datetime:
    """A device time that is a valid instant (``9999-12-31T23:59-05:00`` is past year 9999 in
    UTC: the store would take it, Python could not read it back)."""
    try:
        at.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range in UTC") from None
    return at


Id = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(no_nul)]
ShortText = Annotated[str, Field(max_length=256), AfterValidator(no_nul)]
LongText = Annotated[str, Field(max_length=1024), AfterValidator(no_nul)]
DeviceTime = Annotated[AwareDatetime, AfterValidator(_in_utc_range)]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]


def check_json_value(value: Any, depth: int = 0) -> None:
    """A parsed JSON value the store's ``jsonb`` holds: no U+0000 in keys or strings, finite
    numbers (``NaN``/``Infinity`` and ``1e400`` are not JSON), nesting ≤ ``EXTRA_DEPTH``."""
    if depth > EXTRA_DEPTH:
        raise ValueError(f"nested deeper than {EXTRA_DEPTH}")
    if isinstance(value, str):
        no_nul(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            no_nul(key)
            check_json_value(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json_value(item, depth + 1)
