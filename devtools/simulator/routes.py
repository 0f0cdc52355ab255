"""Routes the simulated cars drive: closed loops of waypoints, each car somewhere along one (the
same spot on every run: SimTablet seeds it with the tablet id),
moving at a steady speed, so its heartbeats' positions cross the campaigns' zones as a real
car's would (the demo's zones: devtools/example_zones/).

Distances are measured on an equirectangular projection at each leg's latitude: metres
within a city, which is all a route spans.
"""

from __future__ import annotations

import math
import zlib
from bisect import bisect_right
from dataclasses import dataclass, field

EARTH_M = 6_371_000.0


def _leg_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat = math.radians((a[0] + b[0]) / 2)
    dy = math.radians(b[0] - a[0])
    dx = math.radians(b[1] - a[1]) * math.cos(lat)
    return EARTH_M * math.hypot(dx, dy)


@dataclass(frozen=True)
class Route:
    """A loop through ``points`` (lat, lon), driven back to the first after the last."""

    name: str
    points: tuple[tuple[float, float], ...]
    _starts: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.points) < 2:
            raise ValueError("a route needs at least two points")
        starts, total = [], 0.0
        for n, p in enumerate(self.points):
            starts.append(total)
            total += _leg_m(p, self.points[(n + 1) % len(self.points)])
        object.__setattr__(self, "_starts", (*starts, total))

    @property
    def length_m(self) -> float:
        return self._starts[-1]

    def at(self, distance_m: float) -> tuple[float, float]:
        """The position ``distance_m`` along the loop (any distance: it wraps)."""
        d = distance_m % self.length_m
        n = bisect_right(self._starts, d) - 1
        a, b = self.points[n], self.points[(n + 1) % len(self.points)]
        leg = self._starts[n + 1] - self._starts[n]
        t = 0.0 if leg == 0 else (d - self._starts[n]) / leg
        return a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t


def route_for(tablet_id: str, routes: tuple[Route, ...]) -> Route:
    """The route a tablet's car drives (the same on every run)."""
    return routes[zlib.crc32(tablet_id.encode()) % len(routes)]


# Singapore, roughly along its roads: the demo fleet's city. Two loops pass through the CBD
# (devtools/example_zones/sg-cbd.geojson), one runs out to Changi Airport
# (sg-changi-airport.geojson), one stays in the west, in no zone.
SINGAPORE = (
    Route(
        "orchard-cbd-marina",
        (
            (1.3048, 103.8318),  # Orchard
            (1.2990, 103.8420),  # Dhoby Ghaut
            (1.2905, 103.8500),  # City Hall
            (1.2840, 103.8515),  # Raffles Place
            (1.2790, 103.8540),  # Marina Bay
            (1.2750, 103.8455),  # Tanjong Pagar
            (1.2790, 103.8390),  # Outram
            (1.2935, 103.8330),  # River Valley
        ),
    ),
    Route(
        "cbd-ecp-changi",
        (
            (1.2840, 103.8515),  # Raffles Place
            (1.2935, 103.8720),  # Nicoll Highway
            (1.3010, 103.9050),  # East Coast Parkway
            (1.3170, 103.9420),  # Bedok
            (1.3400, 103.9800),  # Changi Airport, Terminal 3
            (1.3560, 103.9880),  # Terminal 1
            (1.3280, 103.9500),  # Tampines Expressway
            (1.3050, 103.8900),  # Geylang
        ),
    ),
    Route(
        "bugis-cbd-chinatown",
        (
            (1.3000, 103.8550),  # Bugis
            (1.2880, 103.8560),  # Esplanade
            (1.2815, 103.8500),  # Raffles Place
            (1.2810, 103.8440),  # Chinatown
            (1.2880, 103.8460),  # Clarke Quay
        ),
    ),
    Route(
        "jurong-clementi",
        (
            (1.3330, 103.7420),  # Jurong East
            (1.3150, 103.7650),  # Clementi
            (1.3000, 103.7880),  # Buona Vista
            (1.3200, 103.7900),  # Holland
            (1.3400, 103.7600),  # Bukit Batok
        ),
    ),
)
