"""When a tablet's incident is due, opened and resolved; pure logic, no thespian, no I/O.

An incident is the stored thing (``offline`` or ``flapping``, opened then resolved); an
alert is the message published about it on ``fleets/{fleet_id}/alerts``
(:func:`alert_payload`). :class:`IncidentRules` is the part of
:class:`~actors.rules.tablet_session.TabletSession` that decides incidents; the session
holds the state and calls these rules from its handlers.

- **offline**: a tablet that goes offline arms its ``incident`` timer for the first instant
  inside the fleet's operating hours at least ``alert_after`` after it went offline
  (:func:`incident_due_at`); the incident opens when that timer fires while the tablet is
  still offline, and is resolved when the tablet comes back online.
- **flapping**: more than ``flap_limit`` transitions within :data:`FLAP_WINDOW` open one
  (in operating hours only); it is resolved by the first heartbeat after the window holds
  ``flap_limit`` or fewer again.
- **download_failed**: decided by the content rules (:mod:`actors.rules.content`); an
  offline or flapping incident due while it is open resolves it and opens in its place.
- One open incident of these kinds per tablet at a time; its id is deterministic
  (:func:`incident_id`). Health incidents (``low_storage``, ``crash_loop``, …) are decided
  by :mod:`actors.rules.health`, each kind in a slot of its own.
"""

from __future__ import annotations

import json
import uuid
from collections import deque
from datetime import datetime, timedelta

from actors.effects import IncidentEvent, Outcome
from actors.messages import Arm, IncidentKind, IncidentRef, State, TabletConfig
from actors.rules.hours import OperatingHours

FLAP_WINDOW = timedelta(hours=1)
_INCIDENT_NS = uuid.UUID("6f1c2a52-8f55-4c3e-9d1b-3f0c1c6a8e10")


def incident_id(tablet_id: str, kind: str, opened_at: datetime) -> str:
    """Deterministic, so a re-delivered message opens the same incident, not a second."""
    return str(uuid.uuid5(_INCIDENT_NS, f"{tablet_id}|{kind}|{opened_at.isoformat()}"))


def incident_due_at(hours: OperatingHours, offline_at: datetime, alert_after_s: int) -> datetime:
    """When an outage that began at ``offline_at`` should open an offline incident.

    The first instant at least ``alert_after_s`` after the outage began that
    lies inside operating hours: an outage that starts out of hours opens its
    incident when the fleet opens, if the tablet is still offline then.
    """
    return hours.next_open_at(offline_at + timedelta(seconds=alert_after_s))


class IncidentRules:
    """The incident decisions of a tablet session (mixed into ``TabletSession``)."""

    cfg: TabletConfig
    state: State
    state_since: datetime | None
    incident: IncidentRef | None  # the open incident, if any
    incident_due: datetime | None  # when the armed ``incident`` timer opens one
    transitions: deque[datetime]  # of the last FLAP_WINDOW

    def _yields(self) -> bool:
        """No incident is open, or only one an offline or flapping incident supersedes."""
        return self.incident is None or self.incident.kind == "download_failed"

    def _supersede(self, out: Outcome, at: datetime) -> None:
        if self.incident is not None and self.incident.kind == "download_failed":
            self._resolve_incident(out, at)

    def _resume_incident(self, out: Outcome) -> None:
        """A session rebuilt offline, without an open incident, re-arms its timer."""
        if self.state == "offline" and self._yields() and self.state_since is not None:
            self._arm_incident(out, self.state_since)

    def _on_incident_due(self, out: Outcome, now: datetime) -> None:
        """The ``incident`` timer fired: open the offline incident if it is still due."""
        if (
            self.state == "offline"
            and self._yields()
            and self.incident_due is not None
            and self.incident_due <= now
        ):
            self._supersede(out, now)
            self._open_incident(out, "offline", now, self.state_since or now)

    def _incidents_on_transition(self, out: Outcome, to: State, at: datetime) -> None:
        """After a transition out of ``online``/``offline`` (not out of ``unknown``)."""
        self.transitions.append(at)
        while self.transitions and self.transitions[0] < at - FLAP_WINDOW:
            self.transitions.popleft()
        flapping = len(self.transitions) > self.cfg.flap_limit
        if flapping and self._yields() and self.cfg.hours.is_open(at):
            self._supersede(out, at)
            self._open_incident(out, "flapping", at, at)
            return
        if to == "offline" and self._yields():
            self._arm_incident(out, at)
        elif to == "online":
            self.incident_due = None
            out.timers.append(Arm(self.cfg.tablet_id, "incident", None))
            if self.incident is not None and self.incident.kind == "offline":
                self._resolve_incident(out, at)

    def _maybe_end_flapping(self, out: Outcome, at: datetime) -> None:
        if self.incident is None or self.incident.kind != "flapping":
            return
        while self.transitions and self.transitions[0] < at - FLAP_WINDOW:
            self.transitions.popleft()
        if len(self.transitions) <= self.cfg.flap_limit:
            self._resolve_incident(out, at)

    def _arm_incident(self, out: Outcome, offline_at: datetime) -> None:
        self.incident_due = incident_due_at(self.cfg.hours, offline_at, self.cfg.alert_after_s)
        out.timers.append(Arm(self.cfg.tablet_id, "incident", self.incident_due))

    def _open_incident(
        self, out: Outcome, kind: IncidentKind, at: datetime, offline_since: datetime | None
    ) -> None:
        ref = IncidentRef(incident_id(self.cfg.tablet_id, kind, at), kind, at)
        self.incident = ref
        self.incident_due = None
        out.effects.append(self._incident_event(ref, "opened", at, offline_since))

    def _resolve_incident(self, out: Outcome, at: datetime) -> None:
        assert self.incident is not None
        out.effects.append(self._incident_event(self.incident, "resolved", at, None))
        self.incident = None

    def _incident_event(
        self, ref: IncidentRef, event: str, at: datetime, offline_since: datetime | None
    ) -> IncidentEvent:
        return incident_event(self.cfg, ref, event, at, offline_since)


def incident_event(
    cfg: TabletConfig,
    ref: IncidentRef,
    event: str,
    at: datetime,
    offline_since: datetime | None = None,
    detail: str | None = None,
) -> IncidentEvent:
    """The event of a tablet's incident (any kind) opening or resolving at ``at``."""
    return IncidentEvent(
        incident_id=ref.incident_id,
        tablet_id=cfg.tablet_id,
        fleet_id=cfg.fleet_id,
        kind=ref.kind,
        event=event,  # type: ignore[arg-type]
        opened_at=ref.opened_at,
        at=at,
        offline_since=offline_since,
        detail=detail,
    )


def alert_payload(ev: IncidentEvent) -> bytes:
    """The alert about an incident event: the JSON published on ``fleets/{fleet_id}/alerts``."""
    return json.dumps(
        {
            "v": 1,
            "incident_id": ev.incident_id,
            "event": ev.event,
            "kind": ev.kind,
            "tablet_id": ev.tablet_id,
            "fleet_id": ev.fleet_id,
            "opened_at": ev.opened_at.isoformat(),
            "at": ev.at.isoformat(),
            "offline_since": ev.offline_since.isoformat() if ev.offline_since else None,
            "detail": ev.detail,
        },
        separators=(",", ":"),
    ).encode()
