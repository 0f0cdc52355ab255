"""The registry actor: knows every registered tablet, creates tablet actors on demand.

Tablet actors are created on a tablet's first message from the snapshot the
hub loaded from the store, so a restarted hub rebuilds each session as its
traffic returns. Everything is keyed by tablet id: thespian addresses are
unhashable and change when an actor is recreated.

A fleet-wide push (:class:`DesiredMany`: one manifest, many tablets) is resolved in one
registry step: the registry makes each tablet's session when it creates the actor and
keeps a reference to it, so it updates every named session in place (each contained and
rolled back alone, as the actor would) and puts all their effects in the outbox at once. A
thespian delivery per tablet was the cost of a push to 20,000 tablets
(docs/performance.md). Both live on the pump thread, and the registry handles the push at
its place in the message order (it sends it to itself), after whatever the actors were
sent before it, so each tablet still sees its messages in order.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from thespian.actors import ActorExitRequest

from actors.effects import Effect, LookupTablet, Outcome, Rejected
from actors.messages import (
    Arm,
    Batch,
    CampaignBook,
    DesiredMany,
    NotRegistered,
    Register,
    Setup,
    Stats,
    TabletInit,
    TabletSnapshot,
    TargetingTick,
    Unregister,
)
from actors.rules.tablet_session import TabletSession
from actors.system.contained import ContainedActor, copy_flat, restore_flat
from actors.system.tablet import TabletActor

log = logging.getLogger(__name__)

WAITING_PER_TABLET = 100  # messages held while the store is asked about a tablet
WAITING_TABLETS = 10_000
UNKNOWN_REMEMBERED = 10_000  # ids the store said are not registered (until registered)


class RegistryActor(ContainedActor):
    """A message whose routing raises is contained and reported alone; the registry's
    tables are not rolled back (too large to copy per message, and each change to them is
    a single dict operation)."""

    KIND = "registry"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.watchdog: Any = None
        self.known: dict[str, TabletSnapshot] = {}
        self.actors: dict[str, Any] = {}
        self.sessions: dict[str, TabletSession] = {}  # the resident actors' sessions
        self.waiting: dict[str, list[Any]] = {}  # tablet id → messages awaiting a lookup
        self.unknown: dict[str, None] = {}  # insertion-ordered, bounded
        self.started_at: datetime | None = None  # the hub's start, from Setup
        self.book: CampaignBook | None = None  # the newest campaign book (issue 14)

    def receiveMsg_Setup(self, msg: Setup, sender: Any) -> None:
        self.outbox, self.watchdog, self.started_at = msg.outbox, msg.watchdog, msg.started_at
        self.send(self.watchdog, msg)

    def receiveMsg_Batch(self, msg: Batch, sender: Any) -> None:
        for item in msg.items:  # one bad message affects only its tablet
            self.contained(item, functools.partial(self._route, item))

    def receiveMsg_DesiredMany(self, msg: DesiredMany, sender: Any) -> None:
        effects: list[Effect] = []
        timers: list[Arm] = []
        for tablet_id in msg.tablet_ids:
            one = msg.for_tablet(tablet_id)
            try:
                self._desired(one, effects, timers)
            except Exception as exc:  # this tablet's alone, reported as its actor's would be
                effects.append(replace(self.failure(one, exc), actor=TabletActor.KIND))
        self.emit(effects, timers)

    def _desired(self, msg: Any, effects: list[Effect], timers: list[Arm]) -> None:
        """One tablet's part of a :class:`DesiredMany`, on its session in place."""
        tablet_id: str = msg.tablet_id
        session = self.sessions.get(tablet_id)
        if session is None:
            snapshot = self.known.get(tablet_id)
            if snapshot is None:  # not known (yet): the way any message goes
                self._route(msg)
                return
            session = self._spawn(tablet_id, snapshot, effects, timers)
        saved = copy_flat(session)
        try:
            out = session.on_desired(msg)
        except Exception:
            restore_flat(session, saved)  # what the actor's own rollback would do
            raise
        effects.extend(out.effects)
        timers.extend(out.timers)

    def receiveMsg_Stats(self, msg: Stats, sender: Any) -> None:
        self.send(sender, {"known": len(self.known), "resident": len(self.actors)})

    def receiveMsg_Expired(self, msg: Any, sender: Any) -> None:
        self._route(msg)

    def receiveUnrecognizedMessage(self, msg: Any, sender: Any) -> None:
        """Unknown messages (and thespian system messages) are dropped."""

    def _route(self, item: Any) -> None:
        if isinstance(item, Register):
            self._register(item)
            return
        if isinstance(item, NotRegistered):
            self.unknown[item.tablet_id] = None
            if len(self.unknown) > UNKNOWN_REMEMBERED:
                del self.unknown[next(iter(self.unknown))]
            for _ in self.waiting.pop(item.tablet_id, ()):
                self._reject(item.tablet_id, "unknown tablet")
            return
        if isinstance(item, CampaignBook | TargetingTick):  # to every tablet actor
            if isinstance(item, CampaignBook):
                self.book = item
            for address in self.actors.values():
                self.send(address, item)
            return
        if isinstance(item, DesiredMany):
            self.send(self.myAddress, item)  # handled at its place in the order (above)
            return
        if isinstance(item, Unregister):
            self.known.pop(item.tablet_id, None)
            self.sessions.pop(item.tablet_id, None)
            address = self.actors.pop(item.tablet_id, None)
            if address is not None:
                self.send(address, ActorExitRequest())
            return
        tablet_id: str = item.tablet_id
        address = self.actors.get(tablet_id)
        if address is None:
            snapshot = self.known.get(tablet_id)
            if snapshot is None:
                self._hold_for_lookup(tablet_id, item)
                return
            effects: list[Effect] = []
            timers: list[Arm] = []
            self._spawn(tablet_id, snapshot, effects, timers)
            self.emit(effects, timers)
            address = self.actors[tablet_id]
        self.send(address, item)

    def _spawn(
        self, tablet_id: str, snapshot: TabletSnapshot, effects: list[Effect], timers: list[Arm]
    ) -> TabletSession:
        """Create a tablet's actor and its session (resumed from the snapshot: what that
        produced goes into ``effects`` and ``timers``)."""
        assert self.started_at is not None  # Setup is the pump's first message
        session = TabletSession(snapshot)
        out: Outcome = session.resume(self.started_at)
        effects.extend(out.effects)
        timers.extend(out.timers)
        if self.book is not None:  # the running campaigns, before anything else it handles
            booked = session.on_book(self.book)
            effects.extend(booked.effects)
            timers.extend(booked.timers)
        address = self.createActor(TabletActor)
        self.send(address, TabletInit(session, self.outbox, self.watchdog))
        self.actors[tablet_id] = address
        self.sessions[tablet_id] = session
        return session

    def _hold_for_lookup(self, tablet_id: str, item: Any) -> None:
        if tablet_id in self.unknown:
            self._reject(tablet_id, "unknown tablet")
            return
        held = self.waiting.get(tablet_id)
        if held is None:
            if len(self.waiting) >= WAITING_TABLETS:
                self._reject(tablet_id, "unknown tablet")
                return
            held = self.waiting[tablet_id] = []
            self.emit((LookupTablet(tablet_id),))
        if len(held) >= WAITING_PER_TABLET:
            self._reject(tablet_id, "unknown tablet")
            return
        held.append(item)

    def _reject(self, tablet_id: str, reason: str) -> None:
        self.emit((Rejected(tablet_id, reason),))

    def _register(self, msg: Register) -> None:
        tablet_id = msg.snapshot.config.tablet_id
        first = tablet_id not in self.known
        self.known[tablet_id] = msg.snapshot
        self.unknown.pop(tablet_id, None)
        address = self.actors.get(tablet_id)
        if address is not None:
            self.send(address, msg)
        elif first:
            # Re-arm the timers of a tablet rebuilt from the store without
            # creating its actor yet: it is created when a message arrives.
            assert self.started_at is not None  # Setup is the pump's first message
            for timer in TabletSession(msg.snapshot).resume(self.started_at).timers:
                self.send(self.watchdog, timer)
        for held in self.waiting.pop(tablet_id, ()):
            self._route(held)
