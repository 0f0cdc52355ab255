"""Zones: GeoJSON polygons validated into shapely geometries, the index that finds the zones a
position is in, and H3 cells; pure (no I/O), shared by the panel, the store and the actors.

A zone is a GeoJSON ``Polygon`` or ``MultiPolygon`` in WGS84 (longitude, latitude), given as
a geometry, a ``Feature`` or a ``FeatureCollection`` of polygon features (merged into one
multipolygon). :func:`parse_zone` refuses, with a message that says where, what is not such a
zone: text over :data:`MAX_BYTES`, not JSON, another type, a ring with fewer than four
positions or not closed (its last position must repeat its first), a coordinate that is not a
finite number or out of WGS84's ranges, more than :data:`MAX_VERTICES` positions, a
self-intersecting or otherwise invalid polygon (shapely's ``explain_validity``) and one without
area. Holes are kept: a position in a hole is outside the zone.

:class:`ZoneIndex` holds the zones in a shapely ``STRtree`` (bounding boxes) and answers
:meth:`ZoneIndex.zones_at` with ``intersects_xy`` on prepared geometries: a position on a
border is inside.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import h3
import numpy as np
import shapely
from shapely.geometry import mapping, shape
from shapely.validation import explain_validity

from config.errors import ConfigError

MAX_BYTES = 1024 * 1024  # a zone's GeoJSON text
MAX_VERTICES = 20_000  # positions in all its rings
H3_RESOLUTION = 8  # cells of about 0.7 km² (the advertiser's map)
KM_PER_DEGREE = 111.32


class ZoneError(ConfigError):
    """A zone refused: the message says what and where."""


@dataclass(frozen=True, slots=True)
class ZoneShape:
    """A validated zone: its normalised GeoJSON geometry and its measures."""

    geometry: dict[str, Any]
    vertices: int
    area_km2: float

    @property
    def polygon(self) -> Any:
        return shape(self.geometry)


def parse_zone(text: str | bytes) -> ZoneShape:
    """The zone in ``text`` (GeoJSON), or :class:`ZoneError` saying why it is refused."""
    if len(text) > MAX_BYTES:
        raise ZoneError(
            f"the GeoJSON is {len(text):,} bytes; a zone is at most {MAX_BYTES:,} bytes"
        )
    if not text.strip():
        raise ZoneError("no GeoJSON given: draw the zone or paste a Polygon or MultiPolygon")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ZoneError(f"not JSON: {exc}") from None
    return zone_of(document)


def zone_of(document: Any) -> ZoneShape:
    """A parsed GeoJSON value as a zone (see :func:`parse_zone`)."""
    polygons = _polygons(document, "the GeoJSON")
    vertices = sum(len(ring) for rings in polygons for ring in rings)
    if vertices > MAX_VERTICES:
        raise ZoneError(f"the zone has {vertices:,} positions; at most {MAX_VERTICES:,}")
    for p, rings in enumerate(polygons, start=1):
        for r, ring in enumerate(rings, start=1):
            _check_ring(ring, _where(p, r, len(polygons)))
    if len(polygons) == 1:
        geometry: dict[str, Any] = {"type": "Polygon", "coordinates": polygons[0]}
    else:
        geometry = {"type": "MultiPolygon", "coordinates": polygons}
    geom = shape(geometry)
    if not geom.is_valid:
        raise ZoneError(f"the polygon is not valid: {explain_validity(geom)}")
    if geom.area <= 0:
        raise ZoneError("the zone has no area")
    return ZoneShape(_normalised(geom), vertices, _area_km2(geom))


def _polygons(document: Any, what: str) -> list[list[list[list[float]]]]:
    """The polygons (each a list of rings) of a GeoJSON value."""
    if not isinstance(document, dict):
        raise ZoneError(f"{what} is not a GeoJSON object")
    kind = document.get("type")
    if kind == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list) or not features:
            raise ZoneError("the FeatureCollection has no features")
        found: list[list[list[list[float]]]] = []
        for n, feature in enumerate(features, start=1):
            if not isinstance(feature, dict) or feature.get("type") != "Feature":
                raise ZoneError(f"feature {n} of the FeatureCollection is not a Feature")
            found += _polygons(feature.get("geometry"), f"the geometry of feature {n}")
        return found
    if kind == "Feature":
        return _polygons(document.get("geometry"), "the Feature's geometry")
    coordinates = document.get("coordinates")
    if kind == "Polygon":
        return [_rings(coordinates, "the Polygon")]
    if kind == "MultiPolygon":
        if not isinstance(coordinates, list) or not coordinates:
            raise ZoneError("the MultiPolygon has no polygons")
        return [_rings(c, f"polygon {n}") for n, c in enumerate(coordinates, start=1)]
    raise ZoneError(
        f"{what} is a {kind or 'value without a type'}: a zone is a Polygon or MultiPolygon"
        " (or a Feature or FeatureCollection of them)"
    )


def _rings(value: Any, what: str) -> list[list[list[float]]]:
    if not isinstance(value, list) or not value:
        raise ZoneError(f"{what} has no rings")
    rings = []
    for r, ring in enumerate(value, start=1):
        if not isinstance(ring, list):
            raise ZoneError(f"ring {r} of {what} is not a list of positions")
        rings.append(
            [_position(p, f"position {n} of ring {r} of {what}") for n, p in enumerate(ring, 1)]
        )
    return rings


def _position(value: Any, what: str) -> list[float]:
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise ZoneError(f"{what} is not [longitude, latitude]")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        raise ZoneError(f"{what} holds something that is not a number")
    lon, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise ZoneError(f"{what} is not a finite number")
    if not -180 <= lon <= 180:
        raise ZoneError(f"{what}: longitude {lon} is outside WGS84's -180..180")
    if not -90 <= lat <= 90:
        raise ZoneError(f"{what}: latitude {lat} is outside WGS84's -90..90 (is it [lon, lat]?)")
    return [lon, lat]


def _check_ring(ring: list[list[float]], where: str) -> None:
    if len(ring) < 4:
        raise ZoneError(f"{where} has {len(ring)} positions; a closed ring needs at least 4")
    if ring[0] != ring[-1]:
        raise ZoneError(
            f"{where} is not closed: its last position {ring[-1]} must repeat its first {ring[0]}"
        )


def _where(polygon: int, ring: int, polygons: int) -> str:
    kind = "the outer ring" if ring == 1 else f"hole {ring - 1}"
    return kind if polygons == 1 else f"{kind} of polygon {polygon}"


def _normalised(geom: Any) -> dict[str, Any]:
    """GeoJSON of the geometry, coordinates as lists (shapely gives tuples)."""
    text = json.dumps(mapping(geom))
    value: dict[str, Any] = json.loads(text)
    return value


def _area_km2(geom: Any) -> float:
    """The area, approximately (degrees scaled at the zone's mean latitude)."""
    lat = (geom.bounds[1] + geom.bounds[3]) / 2
    scale = KM_PER_DEGREE * KM_PER_DEGREE * math.cos(math.radians(lat))
    return round(float(geom.area) * scale, 4)


class ZoneIndex:
    """The zones a position is in, among many: an STRtree of bounding boxes, then an exact
    test on prepared geometries. Immutable once built; pickles by its zones."""

    def __init__(self, zones: Mapping[str, Any]) -> None:
        self._zones = dict(zones)  # zone id -> shapely geometry
        self._ids = np.array(list(self._zones), dtype=object)
        geoms = list(self._zones.values())
        self._geoms = np.array(geoms, dtype=object)
        shapely.prepare(self._geoms)
        self._tree = shapely.STRtree(geoms)

    @classmethod
    def of(cls, shapes: Iterable[tuple[str, Mapping[str, Any]]]) -> ZoneIndex:
        """From (zone id, GeoJSON geometry) pairs as stored."""
        return cls({zone_id: shape(geometry) for zone_id, geometry in shapes})

    def __reduce__(self) -> tuple[Any, ...]:
        return (ZoneIndex, (self._zones,))

    def __len__(self) -> int:
        return len(self._zones)

    def __contains__(self, zone_id: object) -> bool:
        return zone_id in self._zones

    def zones_at(self, lat: float, lon: float) -> frozenset[str]:
        """The ids of the zones holding the position (its border included)."""
        if not self._zones:
            return frozenset()
        near = self._tree.query(shapely.Point(lon, lat))
        if len(near) == 0:
            return frozenset()
        hits = shapely.intersects_xy(self._geoms[near], lon, lat)
        return frozenset(str(z) for z in self._ids[near][hits])


def cell_of(lat: float, lon: float, resolution: int = H3_RESOLUTION) -> str:
    """The H3 cell of a position."""
    return str(h3.latlng_to_cell(lat, lon, resolution))


def cell_boundary(cell: str) -> list[list[float]]:
    """The cell's corners as [lat, lon] pairs (Leaflet's order)."""
    return [[lat, lon] for lat, lon in h3.cell_to_boundary(cell)]
