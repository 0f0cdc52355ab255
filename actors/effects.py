"""Effects: what actors ask the hub to do (store, publish, alert). Actors do no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from actors.messages import (
    Arm,
    HeartbeatIn,
    IncidentKind,
    LeadIn,
    OpenOffer,
    Position,
    Reason,
    State,
)
from contract.records import record

# The store keeps a heartbeat as it was received (contract/heartbeat.py: its columns).
HeartbeatRow = HeartbeatIn


@dataclass(frozen=True, slots=True)
class TransitionRow:
    time: datetime
    tablet_id: str
    from_state: State
    to_state: State
    reason: Reason


@record
class TabletStateRow:
    """The tablet's current state; the writer keeps the newest per tablet."""

    tablet_id: str
    state: State
    state_since: datetime | None
    last_heartbeat_at: datetime | None
    boot_id: str | None
    last_seq: int | None
    desired_etag: str | None
    applied_etag: str | None
    uptime_until: datetime | None
    open_incident_id: str | None
    battery: int | None
    app_version: str | None
    ad_id: str | None
    campaign_id: str | None
    recent_boots: tuple[tuple[str, int], ...] = ()  # the heartbeat dedupe window
    position: Position | None = None  # the last one reported, kept through heartbeats without


@record
class UptimeSpan:
    """Online from ``start`` to ``end``; the writer adds it to ``uptime_hourly``."""

    tablet_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """An incident opened or resolved: stored, notified and published."""

    incident_id: str
    tablet_id: str
    fleet_id: str
    kind: IncidentKind
    event: Literal["opened", "resolved"]
    opened_at: datetime
    at: datetime
    offline_since: datetime | None
    detail: str | None = None  # what a health incident saw, e.g. "120 MB free (limit 500 MB)"


@dataclass(frozen=True, slots=True)
class CommandEvent:
    """A command of one tablet moved: ``sent`` (published to its session), ``received``
    (delivered), ``succeeded``, ``failed`` or ``expired``; the store keeps the first final."""

    command_id: str
    tablet_id: str
    event: Literal["sent", "received", "succeeded", "failed", "expired"]
    at: datetime
    detail: str | None


@record
class Publish:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    expiry_s: int | None = None  # MQTT 5 message expiry: the broker drops it undelivered after


@record
class DeliveryRow:
    tablet_id: str
    etag: str
    status: Literal["published", "applied", "failed"]
    at: datetime
    detail: str | None


@dataclass(frozen=True, slots=True)
class MediaStateRow:
    """The tablet's content readiness for its desired manifest (``tablet_media``): of its
    ``total`` library files, how many it holds, is downloading and failed; bytes of all."""

    tablet_id: str
    playlist_id: str | None
    etag: str | None
    total: int
    ready: int
    downloading: int
    failed: int
    bytes_done: int
    bytes_total: int
    detail: str | None  # the first failure, as the tablet reported it
    reported_at: datetime | None  # the cache report's receive time


@dataclass(frozen=True, slots=True)
class LookupTablet:
    """A message arrived for a tablet the registry does not know: ask the store.

    The hub answers with ``Register`` (registered meanwhile, e.g. just added by
    the CLI) or ``NotRegistered``; the registry holds that tablet's messages
    until then.
    """

    tablet_id: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """An input the actors refused (unknown tablet, handler failure)."""

    tablet_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class HandlerFailed:
    """An actor's handler raised on one message; the actor's state was put back as it was
    before that message (:mod:`actors.system.contained`). The hub counts it (``handler_errors``)
    and logs it, rate-limited, with ``key`` (the tablet id, lead id or agent id)."""

    actor: str
    key: str
    message: str  # the message's type
    error: str  # "TypeError: …"


# --- leads (issue #5): done by hub/lead_routing.py, each in its own transaction ------


@dataclass(frozen=True, slots=True)
class LeadOffered:
    """Store a new offer (the lead becomes ``offered``), then push it to the agent."""

    lead: LeadIn
    agent_id: int
    cursor: int


@dataclass(frozen=True, slots=True)
class OfferRepublished:
    """Push the store's open offer again (hub restart); nothing is stored."""

    lead: LeadIn
    offer: OpenOffer


@dataclass(frozen=True, slots=True)
class OfferTimedOut:
    lead_id: str
    agent_id: int


@dataclass(frozen=True, slots=True)
class LeadUnassigned:
    """Every active agent of the campaign was offered the lead (or it has none)."""

    lead_id: str


LeadEffect = LeadOffered | OfferRepublished | OfferTimedOut | LeadUnassigned
LEAD_EFFECTS = (LeadOffered, OfferRepublished, OfferTimedOut, LeadUnassigned)


Effect = (
    HeartbeatRow
    | TransitionRow
    | TabletStateRow
    | UptimeSpan
    | IncidentEvent
    | CommandEvent
    | Publish
    | DeliveryRow
    | MediaStateRow
    | LookupTablet
    | Rejected
    | HandlerFailed
    | LeadOffered
    | OfferRepublished
    | OfferTimedOut
    | LeadUnassigned
)


@dataclass(slots=True)
class Outcome:
    """What a rule returns for one message: its effects and the timers it (re)arms; the
    tablet actor puts them in the pump's outbox (actors/system/outbox.py)."""

    effects: list[Effect] = field(default_factory=list)
    timers: list[Arm] = field(default_factory=list)
