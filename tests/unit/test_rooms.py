"""The rooms of the house import only downwards (docs/architecture.md, "Rooms").

Every ``import`` and ``from … import`` in a room's modules, at any depth (function-level
imports included), names only the rooms below it. A move that adds an upward arrow fails here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROOMS = (
    "config",
    "contract",
    "billing",
    "actors",
    "store",
    "media",
    "broker",
    "hub",
    "web",
    "devtools",
    "cli",
)

# Which other rooms each room may import; anything else (stdlib, third party) is free.
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "contract": {"config"},
    "billing": {"config"},
    "actors": {"config", "contract"},
    "store": {"config", "contract", "billing", "actors"},
    "media": {"config", "contract", "store"},
    "broker": {"config"},
    "hub": {"config", "contract", "billing", "actors", "store", "media", "broker"},
    "web": {"config", "contract", "billing", "actors", "store", "media", "broker", "hub"},
    "devtools": {
        "config",
        "contract",
        "billing",
        "actors",
        "store",
        "media",
        "broker",
        "hub",
        "web",
    },
    "cli": {
        "config",
        "contract",
        "billing",
        "actors",
        "store",
        "media",
        "broker",
        "hub",
        "web",
        "devtools",
    },
}


def imported(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def arrows(room: str) -> Iterator[str]:
    for path in sorted((ROOT / room).rglob("*.py")):
        for line, module in imported(path):
            top = module.split(".")[0]
            if top in ROOMS and top != room and top not in ALLOWED[room]:
                yield f"{path.relative_to(ROOT)}:{line} imports {module}"


@pytest.mark.parametrize("room", ROOMS)
def test_room_imports_only_rooms_below(room: str) -> None:
    assert list(arrows(room)) == []


def test_every_package_is_a_room() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages == set(ROOMS)


def test_the_pure_actor_rules_use_no_actor_system() -> None:
    """actors/rules/ is the pure core: no thespian, no I/O, nothing from actors/system/."""
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / "actors" / "rules").rglob("*.py"))
        for line, module in imported(path)
        if module.split(".")[0] in {"thespian", "asyncio", "psycopg", "socket", "aiomqtt"}
        or module.startswith("actors.system")
    ]
    assert found == []


def test_the_billing_rules_are_pure() -> None:
    """billing/ holds the money rules only: no store, no network, no clock of its own."""
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / "billing").rglob("*.py"))
        for line, module in imported(path)
        if module.split(".")[0] in {"asyncio", "psycopg", "psycopg_pool", "socket", "fastapi"}
    ]
    assert found == []


def test_sql_lives_in_the_store() -> None:
    """No module outside store/ runs SQL: a newcomer finds every statement under store/."""
    keywords = ("SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM", "COPY ")
    found = []
    for room in (room for room in ROOMS if room != "store"):
        for path in sorted((ROOT / room).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                text = node.value if isinstance(node, ast.Constant) else None
                if isinstance(text, str) and any(k in text for k in keywords):
                    found.append(f"{path.relative_to(ROOT)}: {text[:40]!r}")
    assert found == []
