"""The registry actor: knows every registered tablet, creates tablet actors on demand.

Tablet actors are created on a tablet's first message from the snapshot the
hub loaded from the store, so a restarted hub rebuilds each session as its
traffic returns. Everything is keyed by tablet id: thespian addresses are
unhashable and change when an actor is recreated.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime
from typing import Any

from thespian.actors import ActorExitRequest

from actors.effects import EffectBatch, LookupTablet, Rejected
from actors.messages import (
    Batch,
    CampaignBook,
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
from actors.system.contained import ContainedActor
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
        self.outbox: Any = None
        self.watchdog: Any = None
        self.known: dict[str, TabletSnapshot] = {}
        self.actors: dict[str, Any] = {}
        self.waiting: dict[str, list[Any]] = {}  # tablet id → messages awaiting a lookup
        self.unknown: dict[str, None] = {}  # insertion-ordered, bounded
        self.started_at: datetime | None = None  # the hub's start, from Setup
        self.book: CampaignBook | None = None  # the newest campaign book (issue 14)

    def receiveMsg_Setup(self, msg: Setup, sender: Any) -> None:
        self.outbox, self.watchdog, self.started_at = msg.outbox, msg.watchdog, msg.started_at
        self.send(self.watchdog, msg)
        self.send(self.outbox, msg)

    def receiveMsg_Batch(self, msg: Batch, sender: Any) -> None:
        for item in msg.items:  # one bad message affects only its tablet
            self.contained(item, functools.partial(self._route, item))

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
        if isinstance(item, Unregister):
            self.known.pop(item.tablet_id, None)
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
            address = self.createActor(TabletActor)
            assert self.started_at is not None  # Setup is the pump's first message
            self.send(address, TabletInit(snapshot, self.outbox, self.watchdog, self.started_at))
            if self.book is not None:
                self.send(address, self.book)
            self.actors[tablet_id] = address
        self.send(address, item)

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
            self.send(self.outbox, EffectBatch((LookupTablet(tablet_id),)))
        if len(held) >= WAITING_PER_TABLET:
            self._reject(tablet_id, "unknown tablet")
            return
        held.append(item)

    def _reject(self, tablet_id: str, reason: str) -> None:
        self.send(self.outbox, EffectBatch((Rejected(tablet_id, reason),)))

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
