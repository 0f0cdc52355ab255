"""Zones: GeoJSON validated with a clear refusal, the zone index on prepared geometries."""

from __future__ import annotations

import json
import pickle

import pytest

from actors.rules.geo import MAX_BYTES, ZoneError, ZoneIndex, cell_of, parse_zone

SQUARE = [[103.80, 1.27], [103.86, 1.27], [103.86, 1.31], [103.80, 1.31], [103.80, 1.27]]
HOLE = [[103.82, 1.28], [103.84, 1.28], [103.84, 1.30], [103.82, 1.30], [103.82, 1.28]]
FAR = [[103.97, 1.33], [104.00, 1.33], [104.00, 1.37], [103.97, 1.37], [103.97, 1.33]]


def text(value: object) -> str:
    return json.dumps(value)


def test_a_polygon_a_feature_and_a_collection_are_zones() -> None:
    polygon = {"type": "Polygon", "coordinates": [SQUARE]}
    assert parse_zone(text(polygon)).geometry["type"] == "Polygon"
    feature = {"type": "Feature", "properties": {}, "geometry": polygon}
    assert parse_zone(text(feature)).vertices == 5
    collection = {
        "type": "FeatureCollection",
        "features": [
            feature,
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [FAR]}},
        ],
    }
    zone = parse_zone(text(collection))
    assert zone.geometry["type"] == "MultiPolygon"
    assert zone.area_km2 > 0


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ("not json", "not JSON"),
        (text({"type": "Point", "coordinates": [103.8, 1.3]}), "is a Point"),
        (text({"type": "Polygon", "coordinates": [SQUARE[:-1]]}), "is not closed"),
        (text({"type": "Polygon", "coordinates": [SQUARE[:3]]}), "at least 4"),
        (
            text({"type": "Polygon", "coordinates": [[[1.3, 103.8], *SQUARE[1:-1], [1.3, 103.8]]]}),
            "latitude 103.8 is outside",
        ),
        (
            text({"type": "Polygon", "coordinates": [[[200, 1], [201, 1], [201, 2], [200, 1]]]}),
            "longitude 200.0 is outside",
        ),
        (
            text({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}),
            "Self-intersection",
        ),
        (text({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [2, 2], [0, 0]]]}), "not valid"),
        (
            text({"type": "Polygon", "coordinates": [[["a", 0], [1, 1], [1, 0], ["a", 0]]]}),
            "number",
        ),
        (text({"type": "FeatureCollection", "features": []}), "no features"),
        ("", "no GeoJSON"),
        (" " * (MAX_BYTES + 1), "at most"),
    ],
)
def test_what_is_not_a_zone_is_refused_saying_why(document: str, says: str) -> None:
    with pytest.raises(ZoneError, match=says):
        parse_zone(document)


def test_a_ring_not_closed_is_named() -> None:
    open_hole = [*HOLE[:-1], [103.821, 1.281]]
    with pytest.raises(ZoneError) as refused:
        parse_zone(text({"type": "Polygon", "coordinates": [SQUARE, open_hole]}))
    assert "hole 1 is not closed" in str(refused.value)


def test_the_index_knows_holes_multipolygons_and_borders() -> None:
    donut = parse_zone(text({"type": "Polygon", "coordinates": [SQUARE, HOLE]}))
    multi = parse_zone(text({"type": "MultiPolygon", "coordinates": [[HOLE], [FAR]]}))
    index = ZoneIndex.of([("z-donut", donut.geometry), ("z-multi", multi.geometry)])
    assert index.zones_at(1.275, 103.81) == {"z-donut"}  # in the ring, outside the hole
    assert index.zones_at(1.29, 103.83) == {"z-multi"}  # in the hole: the other zone's part
    assert index.zones_at(1.35, 103.98) == {"z-multi"}  # the multipolygon's far part
    assert index.zones_at(1.27, 103.83) == {"z-donut"}  # on the border: inside
    assert index.zones_at(1.0, 103.0) == frozenset()
    again = pickle.loads(pickle.dumps(index))  # noqa: S301 - our own object
    assert again.zones_at(1.275, 103.81) == {"z-donut"}


def test_h3_cells_group_nearby_positions() -> None:
    assert cell_of(1.2800, 103.8500) == cell_of(1.2801, 103.8501)
    assert cell_of(1.28, 103.85) != cell_of(1.36, 103.99)
