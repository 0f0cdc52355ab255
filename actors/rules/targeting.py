"""Campaign targeting: which creatives a tablet plays where and when; pure, no I/O.

The hub loads the running campaigns into a :class:`Book` (store/campaign_book.py) and hands it
to every tablet actor. Per tablet and moment a campaign is **eligible** when all of these hold
(:meth:`CampaignRule.eligible`):

- **flight**: ``flight_start <= at < flight_end`` (instants; the panel enters them in the
  campaign's zone, so a flight ending at local midnight ends at that zone's midnight, DST
  included);
- **dayparts**: none, or one of them is active in the *fleet's* zone (as playlist dayparts
  are, :mod:`actors.rules.dayparts`: half-open windows, an overnight window belongs to the day
  it starts);
- **fleet**: all fleets of the tenant, or the tablet's fleet is one of the campaign's;
- **zone**: no zones, or the tablet is in one of them (:class:`Place`, with hysteresis) and its
  last fix is not stale — a stale or unknown position leaves only the campaigns without zones;
- **pacing**: its pacing multiplier is not 0 (the daily goal is met, or it would be overshot:
  :mod:`actors.rules.pacing`).

The eligible campaigns and their loop weights (:func:`loop_pods`) are the tablet's **key**; the
actor composes and publishes a new manifest only when the key changes (:func:`compose`: the
base schedule's items and each campaign's creatives, spread evenly through the loop). An
emergency manifest is published as it is: nothing is added to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from actors.rules.dayparts import Daypart
from actors.rules.geo import ZoneIndex
from contract.manifest import EMPTY_PLAYLIST_ID, Manifest

CAMPAIGNS_PLAYLIST_ID = "pl-campaigns"  # campaigns alone (no schedule: the base is pl-none)
MAX_LOOP_ITEMS = 240  # items of a composed manifest; past it campaigns get fewer pods
SOV_CAP = 0.9  # shares of voice together take at most this much of the loop's time


@dataclass(frozen=True, slots=True)
class Creative:
    """One creative as a manifest item (no position yet) and its file's size."""

    item: Mapping[str, Any]
    bytes: int

    @property
    def duration_ms(self) -> int:
        return int(self.item["duration_ms"])


@dataclass(frozen=True, slots=True)
class CampaignRule:
    """A running campaign as the actors see it."""

    tenant_id: str
    campaign_id: str
    flight_start: datetime
    flight_end: datetime
    creatives: tuple[Creative, ...]
    priority: int = 1
    share_of_voice: int | None = None  # percent of the loop's time
    fleets: frozenset[str] | None = None  # None: every fleet of the tenant
    dayparts: tuple[Daypart, ...] = ()  # none: all day
    zones: frozenset[str] = frozenset()  # none: anywhere
    multiplier: float = 1.0  # pacing (0: paced out)

    def in_flight(self, at: datetime) -> bool:
        return self.flight_start <= at < self.flight_end

    def in_daypart(self, at: datetime, timezone: str) -> bool:
        return not self.dayparts or any(daypart_active(d, at, timezone) for d in self.dayparts)

    def eligible(
        self, at: datetime, fleet_id: str, timezone: str, inside: frozenset[str] | None
    ) -> bool:
        """``inside``: the zones the tablet is in (None: its position is stale or unknown)."""
        if self.multiplier <= 0 or not self.creatives:
            return False
        return self.targets(at, fleet_id, timezone, inside)

    def targets(
        self, at: datetime, fleet_id: str, timezone: str, inside: frozenset[str] | None
    ) -> bool:
        """Whether a play there and then is within the campaign's targeting (flight,
        dayparts, fleets, zones), whatever its pacing: proof of play's ``out_of_target``."""
        if self.fleets is not None and fleet_id not in self.fleets:
            return False
        if not self.in_flight(at) or not self.in_daypart(at, timezone):
            return False
        if self.zones:
            return inside is not None and not self.zones.isdisjoint(inside)
        return True

    @property
    def unit_ms(self) -> int:
        """One pod: each creative once."""
        return sum(c.duration_ms for c in self.creatives)


def daypart_active(daypart: Daypart, at: datetime, timezone: str) -> bool:
    """Whether the instant ``at`` is inside the daypart in ``timezone``: the window of the local
    day, or the overnight window of the day before (the store's ``fleethub_daypart_active``)."""
    if daypart.always:
        return True
    tz = ZoneInfo(timezone)
    today = at.astimezone(tz).date()
    for day in (today, today - timedelta(days=1)):
        if daypart.days is not None and day.isoweekday() not in daypart.days:
            continue
        opens, closes = _window(day, daypart, tz)
        if opens <= at < closes:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Hysteresis:
    """Enter a zone on one fix inside; leave it after ``leave_fixes`` fixes outside in a row,
    or once the first of them is ``leave_after_s`` old; a fix older than ``stale_after_s``
    is no position at all."""

    leave_fixes: int = 3
    leave_after_s: float = 60.0
    stale_after_s: float = 300.0


@dataclass(frozen=True, slots=True)
class Book:
    """Every running campaign, by the fleets it may play in, and the index of their zones."""

    by_fleet: Mapping[str, tuple[CampaignRule, ...]] = field(default_factory=dict)
    index: ZoneIndex | None = None
    hysteresis: Hysteresis = Hysteresis()
    version: int = 0
    # The fleets with a campaign targeting zones: only their tablets' fixes are looked up.
    zoned_fleets: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        by_fleet: Mapping[str, tuple[CampaignRule, ...]],
        index: ZoneIndex | None,
        hysteresis: Hysteresis,
        version: int,
    ) -> Book:
        zoned = frozenset(f for f, rules in by_fleet.items() if any(r.zones for r in rules))
        return cls(dict(by_fleet), index, hysteresis, version, zoned)

    def for_fleet(self, fleet_id: str) -> tuple[CampaignRule, ...]:
        return self.by_fleet.get(fleet_id, ())

    @property
    def rules(self) -> list[CampaignRule]:
        seen: dict[tuple[str, str], CampaignRule] = {}
        for rules in self.by_fleet.values():
            for r in rules:
                seen.setdefault((r.tenant_id, r.campaign_id), r)
        return list(seen.values())

    def zones_at(self, lat: float, lon: float) -> frozenset[str]:
        return frozenset() if self.index is None else self.index.zones_at(lat, lon)


EMPTY_BOOK = Book()


# --- place: the zones a tablet is in, with hysteresis ------------------------


@dataclass(frozen=True, slots=True)
class Place:
    inside: frozenset[str] = frozenset()
    # Zones the tablet is still in but was last seen outside of: (zone, first fix outside,
    # fixes outside in a row).
    leaving: tuple[tuple[str, datetime, int], ...] = ()
    fix_at: datetime | None = None

    def moved(self, hits: frozenset[str], at: datetime, rule: Hysteresis) -> Place:
        """The place after a fix at ``at`` inside the zones ``hits``."""
        if self.fix_at is not None and at < self.fix_at:
            return self  # an older fix (redelivered): the newer one stands
        base = self.inside if not self.stale(at, rule) else frozenset()
        leaving = {z: (first, n) for z, first, n in self.leaving if z in base}
        inside = set(base | hits)
        for zone in base - hits:
            first, n = leaving.get(zone, (at, 0))
            n += 1
            if n >= rule.leave_fixes or (at - first).total_seconds() >= rule.leave_after_s:
                inside.discard(zone)
                leaving.pop(zone, None)
            else:
                leaving[zone] = (first, n)
        for zone in hits:
            leaving.pop(zone, None)
        kept = tuple(sorted((z, f, n) for z, (f, n) in leaving.items()))
        return Place(frozenset(inside), kept, at)

    def stale(self, now: datetime, rule: Hysteresis) -> bool:
        return self.fix_at is None or (now - self.fix_at).total_seconds() >= rule.stale_after_s

    def zones(self, now: datetime, rule: Hysteresis) -> frozenset[str] | None:
        """The zones the tablet is in now; None when its position is stale or unknown."""
        return None if self.stale(now, rule) else self.inside

    def stale_at(self, rule: Hysteresis) -> datetime | None:
        return None if self.fix_at is None else self.fix_at + timedelta(seconds=rule.stale_after_s)


# --- eligibility and the loop ------------------------------------------------

Key = tuple[tuple[str, int], ...]  # (campaign id, pods) of each campaign in the loop


def eligible(
    book: Book, fleet_id: str, timezone: str, at: datetime, inside: frozenset[str] | None
) -> list[CampaignRule]:
    """The campaigns the tablet may play now, highest priority first."""
    found = [r for r in book.for_fleet(fleet_id) if r.eligible(at, fleet_id, timezone, inside)]
    return sorted(found, key=lambda r: (-r.priority, r.campaign_id))


def loop_pods(base_ms: int, rules: Sequence[CampaignRule]) -> Key:
    """How many pods (each creative once) of each campaign the loop holds.

    A campaign without a share of voice gets ``priority`` pods, times its pacing multiplier
    (rounded, at least one while the multiplier is above 0). Shares of voice are of the loop's
    time: with the rest of the loop (the base schedule and the other campaigns) taking ``R`` ms
    and the shares summing to ``S`` (capped at :data:`SOV_CAP`), a share ``s`` gets
    ``s / (1 − S) × R`` ms (times its multiplier) in whole pods, at least one. Past
    :data:`MAX_LOOP_ITEMS` items every campaign's pods shrink in proportion (at least one),
    and past that the lowest priorities leave the loop."""
    pods: dict[str, int] = {}
    rest_ms = base_ms
    for r in rules:
        if r.share_of_voice is None:
            pods[r.campaign_id] = _scaled(r.priority, r.multiplier)
            rest_ms += pods[r.campaign_id] * r.unit_ms
    shares = [r for r in rules if r.share_of_voice is not None]
    total = sum(r.share_of_voice or 0 for r in shares) / 100
    scale = min(1.0, SOV_CAP / total) if total else 1.0
    taken = total * scale
    smallest = min((r.share_of_voice or 0 for r in shares), default=0) * scale / 100
    for r in shares:
        share = (r.share_of_voice or 0) * scale / 100
        if rest_ms > 0:
            wanted_ms = share / (1 - taken) * rest_ms
        else:  # nothing else plays: shares relative to each other, the smallest one pod
            wanted_ms = share / smallest * min(x.unit_ms for x in shares)
        pods[r.campaign_id] = _scaled(wanted_ms / max(1, r.unit_ms), r.multiplier)
    return _capped([(r, pods[r.campaign_id]) for r in rules])


def _scaled(pods: float, multiplier: float) -> int:
    if multiplier <= 0:
        return 0
    return max(1, round(pods * multiplier))


def _capped(chosen: list[tuple[CampaignRule, int]]) -> Key:
    """The base schedule's items are never dropped; campaigns' pods are."""
    items = sum(n * len(r.creatives) for r, n in chosen)
    if items > MAX_LOOP_ITEMS:
        factor = MAX_LOOP_ITEMS / items
        chosen = [(r, max(1, int(n * factor))) for r, n in chosen]
    while sum(n * len(r.creatives) for r, n in chosen) > MAX_LOOP_ITEMS and len(chosen) > 1:
        chosen = chosen[:-1]  # the lowest priority (rules come highest first)
    return tuple((r.campaign_id, n) for r, n in chosen if n > 0)


def key_for(
    book: Book,
    fleet_id: str,
    timezone: str,
    at: datetime,
    inside: frozenset[str] | None,
    base_ms: int,
) -> Key:
    return loop_pods(base_ms, eligible(book, fleet_id, timezone, at, inside))


def base_ms(manifest: Manifest) -> int:
    return sum(int(i["duration_ms"]) for i in manifest.items)


def compose(base: Manifest, book: Book, fleet_id: str, key: Key) -> tuple[Manifest, dict[str, int]]:
    """The base manifest with each keyed campaign's creatives, ``pods`` times each, spread
    evenly through the loop; and the creatives' file sizes. The base items keep their order;
    so do each campaign's creatives. Deterministic: the same key gives the same etag."""
    if not key:
        return base, {}
    rules = {r.campaign_id: r for r in book.for_fleet(fleet_id)}
    streams: list[list[Mapping[str, Any]]] = [sorted(base.items, key=lambda i: int(i["position"]))]
    sizes: dict[str, int] = {}
    for campaign_id, pods in key:
        rule = rules[campaign_id]
        streams.append([c.item for _ in range(pods) for c in rule.creatives])
        for c in rule.creatives:
            sizes[str(c.item["sha256"])] = c.bytes
    slots = [
        ((n + 0.5) / len(stream), s, n, item)
        for s, stream in enumerate(streams)
        for n, item in enumerate(stream)
    ]
    slots.sort(key=lambda slot: (slot[0], slot[1], slot[2]))
    items = tuple({**item, "position": p} for p, (_, _, _, item) in enumerate(slots))
    playlist_id = (
        CAMPAIGNS_PLAYLIST_ID if base.playlist_id == EMPTY_PLAYLIST_ID else base.playlist_id
    )
    return replace(base, playlist_id=playlist_id, items=items), sizes


# --- when the eligible set can change without a fix -------------------------------


def next_edge(
    rules: Iterable[CampaignRule], zones: Iterable[str], now: datetime
) -> datetime | None:
    """The next instant after ``now`` at which a flight starts or ends, or a daypart opens or
    closes in one of ``zones`` (the fleets' time zones), within a week."""
    horizon = now + timedelta(days=8)
    edges: list[datetime] = []
    zone_list = sorted(set(zones))
    for r in rules:
        edges += [t for t in (r.flight_start, r.flight_end) if t > now]
        for d in r.dayparts:
            for tz in zone_list:
                edges += [t for t in daypart_edges(d, tz, now, horizon) if t > now]
    edges = [t for t in edges if t <= horizon]
    return min(edges, default=None)


def daypart_edges(
    daypart: Daypart, timezone: str, start: datetime, end: datetime
) -> list[datetime]:
    """Instants in [start − 1 day, end] where the daypart opens or closes in ``timezone``."""
    tz = ZoneInfo(timezone)
    first = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date()
    out: list[datetime] = []
    day = first
    while day <= last:
        if daypart.days is None or day.isoweekday() in daypart.days:
            out += list(_window(day, daypart, tz))
        day += timedelta(days=1)
    return out


def _window(day: date, daypart: Daypart, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The daypart's window of one local day as instants (the end on the next day when it
    runs overnight or all day)."""
    if daypart.start is None or daypart.end is None:
        return _at(day, time(0), tz), _at(day + timedelta(days=1), time(0), tz)
    end_day = day + timedelta(days=1) if daypart.end < daypart.start else day
    return _at(day, daypart.start, tz), _at(end_day, daypart.end, tz)


def _at(day: date, at: time, tz: ZoneInfo) -> datetime:
    """A wall time as an instant (a time a DST change skips: as the clock then reads)."""
    return datetime.combine(day, at, tz).astimezone(UTC)
