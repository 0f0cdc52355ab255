"""Simulated cars drive their routes: positions along the loop, wrapping, one route per
tablet, the same on every run, and through the demo's zones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from actors.rules.geo import ZoneIndex, parse_zone
from devtools.simulator.routes import SINGAPORE, Route, route_for

ZONES = Path(__file__).resolve().parents[2] / "devtools" / "example_zones"


def test_a_position_is_along_the_loop_and_wraps() -> None:
    square = Route("square", ((0.0, 0.0), (0.0, 0.01), (0.01, 0.01), (0.01, 0.0)))
    side = square.length_m / 4
    assert square.length_m == pytest.approx(4 * 1112, rel=0.01)
    assert square.at(0) == (0.0, 0.0)
    lat, lon = square.at(side / 2)
    assert lat == 0.0
    assert lon == pytest.approx(0.005)
    assert square.at(square.length_m + side) == pytest.approx(square.at(side))


def test_each_tablet_keeps_its_route() -> None:
    assert route_for("demo-tab-0001", SINGAPORE) is route_for("demo-tab-0001", SINGAPORE)
    assert len({route_for(f"demo-tab-{n:04d}", SINGAPORE).name for n in range(50)}) == 4


def test_the_demo_routes_cross_the_example_zones() -> None:
    shapes = [(p.stem, parse_zone(p.read_text()).geometry) for p in ZONES.glob("*.geojson")]
    index = ZoneIndex.of(shapes)
    crossed: set[str] = set()
    for route in SINGAPORE:
        for n in range(200):
            crossed |= index.zones_at(*route.at(route.length_m * n / 200))
    assert crossed == {"sg-cbd", "sg-changi-airport"}
    names = {json.loads(p.read_text())["properties"]["name"] for p in ZONES.glob("*.geojson")}
    assert names == {"Singapore CBD", "Changi Airport"}
