"""One tablet's session state and its rules; pure logic, no thespian, no I/O.

Presence (online/offline, uptime), heartbeats and playlist delivery are here; when an
incident is due, opened and resolved is in :mod:`actors.rules.incidents`; when a
manifest's library files are all cached (so that it counts as applied) in
:mod:`actors.rules.content`; health incidents (storage, crash loops, …) in
:mod:`actors.rules.health`. Every handler
returns the effects it wants and the timers it (re)arms. The thespian actor in
:mod:`actors.system.tablet` forwards them; tests drive this class directly.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from datetime import datetime, timedelta
from typing import ClassVar

from actors.effects import (
    DeliveryRow,
    Outcome,
    Publish,
    TabletStateRow,
    TransitionRow,
    UptimeSpan,
)
from actors.messages import (
    AckIn,
    Arm,
    DesiredPlaylist,
    Expired,
    HeartbeatIn,
    Position,
    Reason,
    State,
    StatusIn,
    TabletConfig,
    TabletSnapshot,
)
from actors.rules.commands import CommandRules
from actors.rules.content import ContentRules
from actors.rules.health import HealthRules
from actors.rules.tablet_targeting import TargetingRules

# Boots whose last stored seq a tablet's session remembers: a heartbeat redelivered after
# newer ones, even of later boots, is recognised while its boot is one of the last 8.
BOOT_WINDOW = 8


class TabletSession(ContentRules, TargetingRules, HealthRules, CommandRules):
    """A tablet's state; the incident rules it follows are in :mod:`actors.rules.incidents`,
    its content readiness in :mod:`actors.rules.content`, its campaigns in
    :mod:`actors.rules.tablet_targeting`, its health in :mod:`actors.rules.health`."""

    # The attributes that hold a list, dict, set or deque: the copy a tablet actor takes
    # before each message copies these and shares the rest (actors/system/contained.py).
    # Every other attribute holds immutable values; tests/unit/test_contained.py checks.
    FLAT_CONTAINERS: ClassVar[tuple[str, ...]] = (
        "boots",
        "transitions",
        "health",
        "watches",
        "outstanding",
    )

    def __init__(self, snapshot: TabletSnapshot) -> None:
        self.cfg: TabletConfig = snapshot.config
        self.state: State = snapshot.state
        self.state_since = snapshot.state_since
        self.last_heartbeat_at = snapshot.last_heartbeat_at
        # boot_id → its last stored seq, the current boot last (the dedupe window).
        self.boots: dict[str, int] = dict(snapshot.recent_boots)
        if snapshot.boot_id is not None and snapshot.last_seq is not None:
            self.boots.pop(snapshot.boot_id, None)
            self.boots[snapshot.boot_id] = snapshot.last_seq
        self.desired_etag = snapshot.desired_etag
        self.applied_etag = snapshot.applied_etag
        self.uptime_until = snapshot.uptime_until
        self.incident = snapshot.open_incident
        self.transitions: deque[datetime] = deque(snapshot.recent_transitions)
        self.incident_due: datetime | None = None
        # What the broker retains on tablets/{id}/playlist, as far as the session knows: the
        # desired manifest is always the one last published, and one the tablet applied
        # went through; any other is published again by a rebuilt session.
        self.published_etag: str | None = (
            self.desired_etag if self.desired_etag == self.applied_etag else None
        )
        self.battery = snapshot.battery
        self.app_version = snapshot.app_version
        self.now_playing = (snapshot.ad_id, snapshot.campaign_id)
        self.position = snapshot.position
        self.grace_until: datetime | None = None  # no timeout before (after a hub restart)
        self.wanted: tuple[tuple[str, int], ...] = ()  # not persisted: the hub resends it
        self.wanted_playlist: str | None = None
        self.report = None  # not persisted: the tablet reports again
        self.claimed_etag: str | None = None
        self.latest_desired: DesiredPlaylist | None = None  # the newest resolution handled
        self._init_health(snapshot.open_health)
        self.outstanding = {}  # commands published in this session (actors/rules/commands.py)

    # --- start-up ------------------------------------------------------------

    def resume(self, started_at: datetime) -> Outcome:
        """Re-arm the timers a rebuilt session needs (after a hub restart at ``started_at``).

        An online tablet gets ``offline_after`` from the hub's start before a timeout
        counts: its heartbeats sent while the hub was away wait in the broker and arrive
        (with today's receive time) only as the hub catches up.
        """
        out = Outcome()
        self.grace_until = started_at + timedelta(seconds=self.cfg.offline_after_s)
        self.watching_since = started_at
        deadline = self._offline_deadline()
        if self.state == "online" and deadline is not None:
            out.timers.append(Arm(self.cfg.tablet_id, "offline", deadline))
        self._resume_incident(out)
        return out

    def reconfigure(self, cfg: TabletConfig) -> None:
        self.cfg = cfg

    @property
    def boot_id(self) -> str | None:
        """The boot of the latest new heartbeat."""
        return next(reversed(self.boots), None)

    @property
    def last_seq(self) -> int | None:
        boot = self.boot_id
        return None if boot is None else self.boots[boot]

    # --- inputs --------------------------------------------------------------

    def on_heartbeat(self, hb: HeartbeatIn) -> Outcome:
        out = Outcome()
        at = hb.received_at
        if not self._seen(hb):
            out.effects.append(hb)  # stored as received (HeartbeatRow)
            new_boot = hb.boot_id not in self.boots
            self._remember(hb)
            self.battery, self.app_version = hb.battery, hb.app_version
            self.now_playing = (hb.ad_id, hb.campaign_id)
            if hb.lat is not None and hb.lon is not None:
                self.position = Position(hb.lat, hb.lon, hb.received_at)
                self._on_fix(out, self.position)
            self._reported(out, hb)
            self._review_health(out, hb, new_boot)
        if self.state != "online":
            self._transition(out, "online", "heartbeat", at)
        else:
            self._account_uptime(out, at)
        self.last_heartbeat_at = at
        deadline = at + timedelta(seconds=self.cfg.offline_after_s)
        out.timers.append(Arm(self.cfg.tablet_id, "offline", deadline))
        self._maybe_end_flapping(out, at)
        out.effects.append(self.state_row())
        return out

    def on_status(self, msg: StatusIn) -> Outcome:
        out = Outcome()
        at = msg.received_at
        if msg.retained and self._stale_retained(msg):
            return out
        if msg.state == "online":
            if self.state != "online":
                self._transition(out, "online", "status", at)
                deadline = at + timedelta(seconds=self.cfg.offline_after_s)
                out.timers.append(Arm(self.cfg.tablet_id, "offline", deadline))
        elif self.state == "online":
            reason: Reason = "status" if msg.device_ts is not None else "will"
            if msg.retained:
                # Read after a hub restart: the tablet left at some unknown point while
                # the hub was away; count uptime only up to its last sign of life.
                at = min(at, msg.device_ts or self._online_evidence_end("timeout", at))
            self._transition(out, "offline", reason, at)
            out.timers.append(Arm(self.cfg.tablet_id, "offline", None))
        if out.effects:
            out.effects.append(self.state_row())
        return out

    def on_expired(self, msg: Expired) -> Outcome:
        out = Outcome()
        if msg.kind == "offline":
            deadline = self._offline_deadline()
            if self.state == "online" and deadline is not None:
                if deadline <= msg.now:
                    self._transition(out, "offline", "timeout", msg.now)
                else:  # fired early (a stale timer): keep watching
                    out.timers.append(Arm(self.cfg.tablet_id, "offline", deadline))
        elif msg.kind == "place":
            self._on_place_due(out, msg.now)
        else:  # "incident"
            self._on_incident_due(out, msg.now)
        if out.effects:
            out.effects.append(self.state_row())
        return out

    def on_desired(self, msg: DesiredPlaylist) -> Outcome:
        """The hub's desired manifest, with the campaigns eligible now added
        (actors/rules/tablet_targeting.py)."""
        return self._apply_desired(self._targeted(msg, self.latest_desired))

    def _apply_desired(self, msg: DesiredPlaylist) -> Outcome:
        """Publish (retained) whenever the desired manifest is not the one retained.

        The retained manifest is always the current one, whatever the tablet last applied
        (an expired emergency it never acked is replaced too). A rebuilt session (hub
        restart) republishes what the tablet has not applied; a live one does not repeat
        an in-flight QoS 1 publish.
        """
        out = Outcome()
        latest = self.latest_desired
        if latest is not None and msg.as_of < latest.as_of:
            # Resolved before the manifest this session last handled: out of date. A forced
            # republish (the broker lost its copy) sends the newer one again instead.
            return self._republish(replace(latest, at=msg.at)) if msg.force else out
        self.latest_desired = msg
        if msg.etag != self.desired_etag or not self.durations:
            self._health_desired(msg.manifest_json)
        if msg.force:
            return self._republish(msg)
        changed = msg.etag != self.desired_etag or msg.media != self.wanted
        if msg.etag == self.published_etag:
            if changed:  # the same manifest, its files not yet known (a rebuilt session)
                self._on_wanted(out, msg.media, msg.playlist_id, msg.at)
            return out
        self.desired_etag = self.published_etag = msg.etag
        self._on_wanted(out, msg.media, msg.playlist_id, msg.at)
        topic = f"tablets/{self.cfg.tablet_id}/playlist"
        out.effects.append(Publish(topic, msg.manifest_json.encode(), qos=1, retain=True))
        out.effects.append(DeliveryRow(self.cfg.tablet_id, msg.etag, "published", msg.at, None))
        out.effects.append(self.state_row())
        return out

    def _republish(self, msg: DesiredPlaylist) -> Outcome:
        """The broker lost its retained manifest: publish it again, whatever was sent.

        An etag the tablet already applied keeps its delivery row (the tablet gets the
        same manifest again); any other starts a delivery as a change does.
        """
        out = Outcome()
        changed = msg.etag != self.desired_etag
        self.desired_etag = self.published_etag = msg.etag
        if changed or msg.media != self.wanted:
            self._on_wanted(out, msg.media, msg.playlist_id, msg.at)
        topic = f"tablets/{self.cfg.tablet_id}/playlist"
        out.effects.append(Publish(topic, msg.manifest_json.encode(), qos=1, retain=True))
        if msg.etag != self.applied_etag:
            out.effects.append(DeliveryRow(self.cfg.tablet_id, msg.etag, "published", msg.at, None))
        if changed or msg.etag != self.applied_etag:
            out.effects.append(self.state_row())
        return out

    def on_ack(self, msg: AckIn) -> Outcome:
        out = Outcome()
        if msg.status == "applied" and self._waits_for_media(msg.etag):
            self._claim(out, msg.etag, msg.received_at)
            out.effects.append(self.state_row())
            return out
        out.effects.append(
            DeliveryRow(self.cfg.tablet_id, msg.etag, msg.status, msg.received_at, msg.detail)
        )
        if msg.status == "applied":
            self.applied_etag = msg.etag
        out.effects.append(self.state_row())
        return out

    # --- rules ---------------------------------------------------------------

    def _reported(self, out: Outcome, hb: HeartbeatIn) -> None:
        """A heartbeat's ``playlist_etag`` naming the manifest last published to the tablet
        acknowledges it (tablets that cannot ack, e.g. over HTTP); another value changes
        nothing but the stored heartbeat. One whose library files are not all cached is
        claimed, applied once they are (actors/rules/content.py)."""
        etag = hb.playlist_etag
        if etag is None or etag != self.desired_etag or etag == self.applied_etag:
            return
        if self._waits_for_media(etag):
            self.claimed_etag = etag  # applied once its files are cached
            return
        self.applied_etag = etag
        out.effects.append(DeliveryRow(self.cfg.tablet_id, etag, "applied", hb.received_at, None))

    def _seen(self, hb: HeartbeatIn) -> bool:
        """Already stored: its ``seq`` is not past the last stored one of its boot (``seq``
        only grows within a boot), its boot one of the last ``BOOT_WINDOW``; e.g. redelivered
        after a hub restart, committed but unacknowledged, or after newer heartbeats."""
        last = self.boots.get(hb.boot_id)
        return last is not None and hb.seq <= last

    def _remember(self, hb: HeartbeatIn) -> None:
        """A stored heartbeat: its boot's last seq; a new boot becomes the current one."""
        if hb.boot_id in self.boots:
            self.boots[hb.boot_id] = max(self.boots[hb.boot_id], hb.seq)
            return
        self.boots[hb.boot_id] = hb.seq
        while len(self.boots) > BOOT_WINDOW:
            del self.boots[next(iter(self.boots))]

    def _stale_retained(self, msg: StatusIn) -> bool:
        """A retained status older than what we know must not move the state."""
        if self.state == "unknown" or self.state_since is None:
            return False
        if msg.state == self.state:
            return True
        return msg.device_ts is not None and msg.device_ts <= self.state_since

    def _offline_deadline(self) -> datetime | None:
        seen = self.last_heartbeat_at
        if self.state_since is not None and (seen is None or self.state_since > seen):
            seen = self.state_since
        if seen is None:
            return None
        deadline = seen + timedelta(seconds=self.cfg.offline_after_s)
        return deadline if self.grace_until is None else max(deadline, self.grace_until)

    def _transition(self, out: Outcome, to: State, reason: Reason, at: datetime) -> None:
        before = self.state
        out.effects.append(TransitionRow(at, self.cfg.tablet_id, before, to, reason))
        if to == "offline":
            self._account_uptime(out, self._online_evidence_end(reason, at))
        self.state, self.state_since = to, at
        if to == "online":
            self.uptime_until = at
        if before != "unknown":
            self._incidents_on_transition(out, to, at)

    def _online_evidence_end(self, reason: Reason, at: datetime) -> datetime:
        """Where an online span ends: now for a will, at the last sign of life for a timeout."""
        if reason != "timeout" or self.last_heartbeat_at is None:
            return at
        interval = timedelta(seconds=self.cfg.heartbeat_interval_s)
        return min(at, self.last_heartbeat_at + interval)

    def _account_uptime(self, out: Outcome, until: datetime) -> None:
        if self.state != "online" or self.uptime_until is None:
            return
        if until > self.uptime_until:
            out.effects.append(UptimeSpan(self.cfg.tablet_id, self.uptime_until, until))
            self.uptime_until = until

    # --- views ---------------------------------------------------------------

    def state_row(self) -> TabletStateRow:
        return TabletStateRow(
            tablet_id=self.cfg.tablet_id,
            state=self.state,
            state_since=self.state_since,
            last_heartbeat_at=self.last_heartbeat_at,
            boot_id=self.boot_id,
            last_seq=self.last_seq,
            desired_etag=self.desired_etag,
            applied_etag=self.applied_etag,
            uptime_until=self.uptime_until,
            open_incident_id=self.incident.incident_id if self.incident else None,
            battery=self.battery,
            app_version=self.app_version,
            ad_id=self.now_playing[0],
            campaign_id=self.now_playing[1],
            recent_boots=tuple(self.boots.items()),
            position=self.position,
        )

    def snapshot(self) -> TabletSnapshot:
        return replace(
            TabletSnapshot(config=self.cfg),
            state=self.state,
            state_since=self.state_since,
            last_heartbeat_at=self.last_heartbeat_at,
            boot_id=self.boot_id,
            last_seq=self.last_seq,
            recent_boots=tuple(self.boots.items()),
            desired_etag=self.desired_etag,
            applied_etag=self.applied_etag,
            uptime_until=self.uptime_until,
            open_incident=self.incident,
            recent_transitions=tuple(self.transitions),
            battery=self.battery,
            app_version=self.app_version,
            ad_id=self.now_playing[0],
            campaign_id=self.now_playing[1],
            position=self.position,
            open_health=tuple(self.health.values()),
        )
