"""A tablet's health incidents, decided from what its heartbeats report; pure logic, no I/O.

:class:`HealthRules` is the part of :class:`~actors.rules.tablet_session.TabletSession` that
watches each new heartbeat against the fleet's :class:`~config.health.HealthPolicy`:

- ``low_storage``: ``disk_free_mb`` below ``low_storage_mb``;
- ``crash_loop``: ``crash_loop_boots`` new boots (``boot_id``) or more within an hour;
- ``playback_stuck``: ``now_playing`` unchanged for longer than that item's duration (from
  the desired manifest) × ``playback_stuck_factor``; only judged for manifests of two ads or
  more (a single ad repeats, so an unchanged ``now_playing`` says nothing);
- ``not_charging``: not charging, and the battery lower than when it stopped charging, for
  ``not_charging_s``;
- ``clock_skew``: the heartbeat's ``ts`` more than ``clock_skew_s`` off the hub's receive time
  on two heartbeats running (a single late one is a delay, not a clock), not judged while a
  restarted hub catches up with the heartbeats the broker held for it;
- ``app_outdated``: ``app_version`` below the fleet's ``min_app_version``.

The rules of every incident apply: each kind opens at most once while open (its own slot,
beside the offline/flapping/download_failed one of :mod:`actors.rules.incidents`), only inside
operating hours; it is resolved (a notice) once its condition stayed clear for ``clear_s`` —
a value hovering around its threshold folds into the one open incident. Open ones are part
of the snapshot, so a rebuilt session neither duplicates nor forgets them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType

from actors.effects import IncidentEvent, Outcome
from actors.messages import HealthKind, HeartbeatIn, IncidentRef, TabletConfig
from actors.rules.incidents import incident_event, incident_id
from config.health import version_key

CRASH_WINDOW = timedelta(hours=1)
NO_DURATIONS: Mapping[str, int] = MappingProxyType({})
HEALTH_KINDS: tuple[HealthKind, ...] = (
    "low_storage",
    "crash_loop",
    "playback_stuck",
    "not_charging",
    "clock_skew",
    "app_outdated",
)
SKEW_RUN = 2  # skewed heartbeats in a row before clock_skew opens


@dataclass(frozen=True, slots=True)
class Watch:
    """One condition's recent course: bad heartbeats in a row, clear since when."""

    bad_run: int = 0
    clear_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    bad: bool
    detail: str | None = None


FINE = Finding(False)


class HealthRules:
    """The health decisions of a tablet session (mixed into ``TabletSession``)."""

    cfg: TabletConfig
    health: dict[str, IncidentRef]  # open health incidents by kind
    watches: dict[str, Watch]
    boot_times: tuple[datetime, ...]  # when each new boot of the last hour was first heard
    watching_since: datetime | None  # a rebuilt session knows boots only from here on
    playing: tuple[str | None, datetime | None]  # now_playing's ad and since when
    durations: Mapping[str, int]  # the desired manifest's ads → duration_ms (shared)
    draining: tuple[datetime, int] | None  # not charging since, at this battery level
    grace_until: datetime | None  # after a hub restart: heartbeats the broker held arrive late

    def _init_health(self, open_health: tuple[IncidentRef, ...]) -> None:
        self.health = {ref.kind: ref for ref in open_health}
        self.watches = {}
        self.boot_times = ()
        self.watching_since = None
        self.playing = (None, None)
        self.durations = NO_DURATIONS
        self.draining = None

    def _health_desired(self, manifest_json: str) -> None:
        """The desired manifest changed: the durations ``playback_stuck`` measures against."""
        self.durations = manifest_durations(manifest_json)

    def _review_health(self, out: Outcome, hb: HeartbeatIn, new_boot: bool) -> None:
        """A new (not redelivered) heartbeat: judge every condition, open or resolve."""
        at = hb.received_at
        if new_boot:
            self.boot_times = (*(t for t in self.boot_times if t > at - CRASH_WINDOW), at)
        if hb.ad_id != self.playing[0]:
            self.playing = (hb.ad_id, at)
        if hb.charging is not False or hb.battery is None:
            self.draining = None
        elif self.draining is None or hb.battery > self.draining[1]:
            self.draining = (at, hb.battery)
        for kind, finding in self._findings(hb).items():
            if finding is not None:
                self._judge(out, kind, finding, at)

    def _findings(self, hb: HeartbeatIn) -> dict[HealthKind, Finding | None]:
        policy, at = self.cfg.health, hb.received_at
        return {
            "low_storage": _low_storage(hb.disk_free_mb, policy.low_storage_mb),
            "crash_loop": self._crash_loop(at),
            "playback_stuck": self._playback_stuck(at),
            "not_charging": self._not_charging(hb, at),
            "clock_skew": None if self._catching_up(at) else _clock_skew(hb, policy.clock_skew_s),
            "app_outdated": _app_outdated(hb.app_version, policy.min_app_version),
        }

    def _catching_up(self, at: datetime) -> bool:
        return self.grace_until is not None and at < self.grace_until

    def _crash_loop(self, at: datetime) -> Finding | None:
        boots = [t for t in self.boot_times if t > at - CRASH_WINDOW]
        limit = self.cfg.health.crash_loop_boots
        if len(boots) >= limit:
            return Finding(True, f"{len(boots)} boots within an hour (limit {limit})")
        if self.watching_since is not None and at - self.watching_since < CRASH_WINDOW:
            return None  # rebuilt within the hour: earlier boots are not known
        return FINE

    def _playback_stuck(self, at: datetime) -> Finding | None:
        ad, since = self.playing
        if ad is None or since is None or len(self.durations) < 2 or ad not in self.durations:
            return FINE if ad is None else None
        limit_s = self.durations[ad] / 1000 * self.cfg.health.playback_stuck_factor
        stuck_s = (at - since).total_seconds()
        if stuck_s > limit_s:
            return Finding(True, f"{ad} playing for {int(stuck_s)} s (limit {int(limit_s)} s)")
        return FINE

    def _not_charging(self, hb: HeartbeatIn, at: datetime) -> Finding:
        drain = self.draining
        if drain is None or hb.battery is None or hb.battery >= drain[1]:
            return FINE
        lasted = (at - drain[0]).total_seconds()
        if lasted >= self.cfg.health.not_charging_s:
            detail = f"battery {drain[1]} % → {hb.battery} % in {int(lasted // 60)} min"
            return Finding(True, detail + " without charging")
        return FINE

    def _judge(self, out: Outcome, kind: HealthKind, finding: Finding, at: datetime) -> None:
        watch = self.watches.get(kind)
        if watch is None:
            watch = Watch()
        elif not (finding.bad or watch.bad_run or kind in self.health) and watch.clear_since:
            return  # fine, and known to be since clear_since: nothing changes (most heartbeats)
        if finding.bad:
            watch = Watch(bad_run=watch.bad_run + 1)
            needed = SKEW_RUN if kind == "clock_skew" else 1
            if kind not in self.health and watch.bad_run >= needed and self.cfg.hours.is_open(at):
                opened = IncidentRef(incident_id(self.cfg.tablet_id, kind, at), kind, at)
                self.health = {**self.health, kind: opened}
                out.effects.append(self._health_event(opened, "opened", at, finding.detail))
        else:
            watch = replace(watch, bad_run=0, clear_since=watch.clear_since or at)
            open_ref = self.health.get(kind)
            clear_for = (at - (watch.clear_since or at)).total_seconds()
            if open_ref is not None and clear_for >= self.cfg.health.clear_s:
                self.health = {k: v for k, v in self.health.items() if k != kind}
                out.effects.append(self._health_event(open_ref, "resolved", at, None))
        self.watches = {**self.watches, kind: watch}

    def _health_event(
        self, ref: IncidentRef, event: str, at: datetime, detail: str | None
    ) -> IncidentEvent:
        return incident_event(self.cfg, ref, event, at, detail=detail)


@functools.lru_cache(maxsize=256)
def manifest_durations(manifest_json: str) -> Mapping[str, int]:
    """Each item's duration by ad id. Read once per manifest, not once per tablet (a push to a
    fleet hands every tablet the same manifest): shared by their sessions, so read-only."""
    try:
        items = json.loads(manifest_json).get("items") or []
        return MappingProxyType(
            {
                str(i["ad_id"]): int(i["duration_ms"])
                for i in items
                if isinstance(i, dict) and "ad_id" in i and "duration_ms" in i
            }
        )
    except (ValueError, TypeError, AttributeError):
        return NO_DURATIONS


def _low_storage(free_mb: int | None, limit_mb: int) -> Finding | None:
    if free_mb is None:
        return None
    if free_mb < limit_mb:
        return Finding(True, f"{free_mb} MB free (limit {limit_mb} MB)")
    return FINE


def _clock_skew(hb: HeartbeatIn, limit_s: int) -> Finding | None:
    if hb.device_ts is None:
        return None
    skew = (hb.device_ts - hb.received_at).total_seconds()
    if abs(skew) > limit_s:
        ahead = "ahead of" if skew > 0 else "behind"
        detail = f"device clock {int(abs(skew))} s {ahead} the hub's (limit {limit_s} s)"
        return Finding(True, detail)
    return FINE


def _app_outdated(version: str | None, minimum: str | None) -> Finding | None:
    if minimum is None:
        return FINE
    if version is None:
        return None
    if version_key(version) < version_key(minimum):
        return Finding(True, f"app {version} below the fleet's minimum {minimum}")
    return FINE
