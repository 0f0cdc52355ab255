"""Messages into and between actors: small frozen dataclasses keyed by tablet id."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Literal

from actors.rules.hours import OperatingHours
from actors.rules.targeting import Book
from config.health import DEFAULT_HEALTH, HealthPolicy
from contract.heartbeat import HeartbeatIn as HeartbeatIn
from contract.manifest import Manifest
from contract.media import Downloads
from contract.media_status import MediaStatusIn as MediaStatusIn
from contract.playlist_ack import AckIn as AckIn
from contract.records import record
from contract.status import StatusIn as StatusIn

if TYPE_CHECKING:
    from actors.rules.tablet_session import TabletSession
    from actors.system.outbox import Outbox

State = Literal["unknown", "online", "offline"]
Reason = Literal["will", "timeout", "status", "heartbeat"]
# "incident": an offline incident is due; "place": a tablet's last fix goes stale (campaigns)
TimerKind = Literal["offline", "incident", "place"]
HealthKind = Literal[
    "low_storage", "crash_loop", "playback_stuck", "not_charging", "clock_skew", "app_outdated"
]  # decided by actors/rules/health.py, each in a slot of its own
IncidentKind = Literal["offline", "flapping", "download_failed", HealthKind]


@dataclass(frozen=True, slots=True)
class TabletConfig:
    tablet_id: str
    fleet_id: str
    car_id: str | None
    heartbeat_interval_s: int
    offline_after_s: int
    alert_after_s: int
    flap_limit: int
    hours: OperatingHours
    health: HealthPolicy = DEFAULT_HEALTH  # the fleet's thresholds of health incidents


@dataclass(frozen=True, slots=True)
class Position:
    """Where a tablet last said it was (a heartbeat's lat/lon) and when the hub received it."""

    lat: float
    lon: float
    at: datetime


@dataclass(frozen=True, slots=True)
class IncidentRef:
    incident_id: str
    kind: IncidentKind
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class TabletSnapshot:
    """What the store remembers of a tablet; an actor is rebuilt from it."""

    config: TabletConfig
    state: State = "unknown"
    state_since: datetime | None = None
    last_heartbeat_at: datetime | None = None
    boot_id: str | None = None
    last_seq: int | None = None
    # The last stored seq of each of the tablet's last boots, oldest first (the dedupe window).
    recent_boots: tuple[tuple[str, int], ...] = ()
    desired_etag: str | None = None
    applied_etag: str | None = None
    uptime_until: datetime | None = None
    open_incident: IncidentRef | None = None
    recent_transitions: tuple[datetime, ...] = ()
    battery: int | None = None
    app_version: str | None = None
    ad_id: str | None = None
    campaign_id: str | None = None
    position: Position | None = None
    open_health: tuple[IncidentRef, ...] = ()  # open health incidents (one per kind)


# --- into the registry (from the hub) ---------------------------------------


@dataclass(frozen=True, slots=True)
class Setup:
    outbox: Outbox
    watchdog: Any
    started_at: datetime  # the hub's start (the pump's): a restart's grace counts from it


@dataclass(frozen=True, slots=True)
class Register:
    """A tablet the hub may serve (new, changed, or loaded at start)."""

    snapshot: TabletSnapshot


@dataclass(frozen=True, slots=True)
class Unregister:
    tablet_id: str


@dataclass(frozen=True, slots=True)
class NotRegistered:
    """The store has no such tablet: what waited for the lookup is rejected."""

    tablet_id: str


# HeartbeatIn, StatusIn, AckIn and MediaStatusIn are declared with the device contract
# (contract/).


@record
class DesiredPlaylist:
    """The manifest a tablet should play; ``manifest_json`` is published as is."""

    tablet_id: str
    etag: str
    manifest_json: str
    at: datetime
    # Publish even if this etag was applied or published: the broker lost its retained copy
    # (or its download links are renewed).
    force: bool = False
    # The library files it plays, (SHA-256, bytes) in play order: it counts as applied only
    # once the tablet holds them all (actors/rules/content.py).
    media: tuple[tuple[str, int], ...] = ()
    playlist_id: str | None = None
    # When the store was read for it (``at`` when None): a paced republish carries the
    # manifests resolved before it started, older than a push that reached the tablet since.
    resolved_at: datetime | None = None
    # For fleets with campaigns: the manifest itself and this tablet's download links, so
    # its actor can add the creatives eligible where the tablet is (actors/rules/targeting.py).
    base: Manifest | None = None
    downloads: Downloads | None = None

    @property
    def as_of(self) -> datetime:
        return self.resolved_at or self.at


@dataclass(frozen=True, slots=True)
class CampaignBook:
    """The running campaigns (issue 14): the registry keeps the newest and hands it to every
    tablet actor, each of which publishes a new manifest if its eligible campaigns change."""

    book: Book
    at: datetime


@dataclass(frozen=True, slots=True)
class TargetingTick:
    """A campaign flight or daypart edge passed: every tablet actor checks its campaigns."""

    at: datetime


@dataclass(frozen=True, slots=True)
class DesiredMany:
    """One manifest for many tablets (a fleet-wide push): the registry resolves it in one
    step, updating each tablet's session in place and sending their effects as one batch,
    instead of one delivery per tablet actor. ``template`` is the manifest as one tablet's
    :class:`DesiredPlaylist` would carry it; its ``tablet_id`` is not used."""

    tablet_ids: tuple[str, ...]
    template: DesiredPlaylist

    def for_tablet(self, tablet_id: str) -> DesiredPlaylist:
        # ``replace(self.template, tablet_id=…)`` reads the fields anew on every call: 3.3
        # against 0.6 µs, once per tablet of a push.
        return DesiredPlaylist(tablet_id, *_AFTER_TABLET_ID(self.template))


# A DesiredPlaylist's fields after ``tablet_id``, in order (DesiredMany.for_tablet).
_AFTER_TABLET_ID = attrgetter(*(f.name for f in fields(DesiredPlaylist)[1:]))


@dataclass(frozen=True, slots=True)
class Batch:
    """Many inputs in one delivery: the pump's unit of work."""

    items: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class CommandIn:
    """A queued command the hub read from the store for this tablet (docs/device-ops.md);
    ``args_json`` holds this tablet's arguments (e.g. its screenshot upload URL)."""

    tablet_id: str
    command_id: str
    name: str
    args_json: str
    issued_at: datetime
    expires_at: datetime
    at: datetime  # when the hub read it


# --- the watchdog -----------------------------------------------------------


@record
class Arm:
    """Set (or with ``deadline=None`` clear) one timer of one tablet."""

    tablet_id: str
    kind: TimerKind
    deadline: datetime | None


@dataclass(frozen=True, slots=True)
class ArmBatch:
    """Timer requests the actors put in the outbox in one pump round, in order."""

    timers: tuple[Arm, ...]


@dataclass(frozen=True, slots=True)
class Tick:
    now: datetime


@dataclass(frozen=True, slots=True)
class Expired:
    tablet_id: str
    kind: TimerKind
    deadline: datetime
    now: datetime


@dataclass(frozen=True, slots=True)
class Stats:
    """Ask the registry how many tablet actors are resident."""


@dataclass(frozen=True, slots=True)
class TabletInit:
    """From the registry to a new tablet actor: its session (made and resumed by the
    registry, which keeps a reference to update it in place on a fleet-wide push: both live
    on the pump thread) and where to put effects."""

    session: TabletSession
    outbox: Outbox | None
    watchdog: Any


# --- leads (issue #5): into the lead router, and between it and agent actors -------


@dataclass(frozen=True, slots=True)
class AgentSlot:
    """An active agent subscribed to a campaign, at its ``position``."""

    user_id: int
    position: int


@dataclass(frozen=True, slots=True)
class LeadAttribution:
    fleet_id: str | None
    car_id: str | None
    tablet_id: str | None
    driver_id: str | None


@dataclass(frozen=True, slots=True)
class OpenOffer:
    """The lead's offer the store holds open (after a restart or a resync)."""

    agent_id: int
    offered_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LeadIn:
    """What the store says of a lead and its campaign; ``at`` is when the hub read it."""

    lead_id: str
    tenant_id: str
    campaign_id: str
    status: str
    agents: tuple[AgentSlot, ...]  # active agents in (position, user id) order
    cursor: int  # the campaign's rr_cursor: position of the last agent offered a lead
    timeout_s: int
    name: str
    phone: str
    attribution: LeadAttribution
    tried: tuple[int, ...]  # agents offered this lead in this round (any outcome)
    open_offer: OpenOffer | None
    at: datetime
    only: int | None = None  # re-offered to this one agent only (an admin's choice)


@dataclass(frozen=True, slots=True)
class Decided:
    """An agent's decision, written by the panel (``NOTIFY fleethub_lead_actions``)."""

    lead_id: str
    agent_id: int
    outcome: Literal["accepted", "rejected"]


@dataclass(frozen=True, slots=True)
class AgentInit:
    """From the router to a new agent actor: who it is and where effects go."""

    agent_id: int
    outbox: Outbox | None


@dataclass(frozen=True, slots=True)
class Offer:
    """From the router: offer ``lead`` (or re-arm the store's open offer ``resume``)."""

    lead: LeadIn
    cursor: int
    resume: OpenOffer | None


@dataclass(frozen=True, slots=True)
class Withdraw:
    """From the router: the lead is no longer this agent's offer (or it was accepted)."""

    lead_id: str
    accepted: bool


@dataclass(frozen=True, slots=True)
class OfferEnded:
    """From an agent actor: its offer of the lead timed out."""

    lead_id: str
    agent_id: int
