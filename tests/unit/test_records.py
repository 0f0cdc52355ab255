"""``@record`` (contract/records.py): frozen for the type checker, cheap to build."""

from __future__ import annotations

from pathlib import Path

from mypy import api

from contract.records import record


@record
class Point:
    x: int
    y: int


def test_records_compare_and_hash_by_their_fields() -> None:
    assert Point(1, 2) == Point(1, 2)
    assert Point(1, 2) != Point(2, 1)
    assert len({Point(1, 2), Point(1, 2), Point(2, 1)}) == 2
    assert not hasattr(Point(1, 2), "__dict__")  # slotted


def test_mypy_refuses_assigning_a_records_field(tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        "from contract.records import record\n"
        "@record\n"
        "class Point:\n"
        "    x: int\n"
        "p = Point(1)\n"
        "p.x = 2\n"
    )
    out, _, status = api.run(["--strict", "--no-incremental", str(snippet)])
    assert status == 1
    assert 'Property "x" defined in "Point" is read-only' in out
