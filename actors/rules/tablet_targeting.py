"""A tablet session's campaign targeting: pure logic, no thespian, no I/O.

:class:`TargetingRules`, part of :class:`~actors.rules.tablet_session.TabletSession`, keeps
the campaign book the hub sent (:class:`~actors.rules.targeting.Book`), where the tablet is
(:class:`~actors.rules.targeting.Place`: the zones it is in, with hysteresis) and the key of
the loop it last published (the eligible campaigns and their pods). It recomputes the key on
each new fix, a new book, a flight or daypart edge (the hub's :class:`TargetingTick`) and when
the position goes stale (the ``place`` timer); only a changed key composes and publishes a
new manifest (:func:`~actors.rules.targeting.compose`), through the same path as a new
desired manifest. The base manifest (the playlist assignments' winner) comes from the hub with
this tablet's download links (``DesiredPlaylist.base``/``downloads``); without it (the fleet
has no campaigns) manifests are published as the hub encoded them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from actors.effects import Outcome
from actors.messages import Arm, CampaignBook, DesiredPlaylist, Position, TabletConfig
from actors.rules.targeting import EMPTY_BOOK, Book, Key, Place, base_ms, compose, key_for


class TargetingRules:
    cfg: TabletConfig

    book: Book = EMPTY_BOOK
    place: Place = Place()
    target_key: Key = ()
    base: DesiredPlaylist | None = None  # the last base manifest with its links
    place_armed: bool = False

    def _apply_desired(self, msg: DesiredPlaylist) -> Outcome:
        raise NotImplementedError  # the session's

    # --- inputs --------------------------------------------------------------

    def _targeted(self, msg: DesiredPlaylist, latest: DesiredPlaylist | None) -> DesiredPlaylist:
        """The desired manifest with the campaigns eligible now (``msg`` itself when the hub
        sent no base, i.e. the fleet has no campaigns, or the base is an emergency)."""
        if latest is not None and msg.as_of < latest.as_of:
            return msg  # out of date: the session ignores it (or republishes the latest)
        if msg.base is None:
            self.base, self.target_key = None, ()
            return msg
        self.base = msg
        return self._composed(msg, msg.at)

    def on_book(self, msg: CampaignBook) -> Outcome:
        self.book = msg.book
        return self._retarget(msg.at)

    def on_tick(self, at: datetime) -> Outcome:
        """A flight or daypart edge passed (or the hub's periodic check)."""
        return self._retarget(at)

    def _on_fix(self, out: Outcome, fix: Position) -> None:
        """A new position: move the place (only fleets with zone campaigns look it up)."""
        book = self.book
        if self.cfg.fleet_id not in book.zoned_fleets and not self.place.inside:
            return
        hits = (
            book.zones_at(fix.lat, fix.lon)
            if self.cfg.fleet_id in book.zoned_fleets
            else frozenset()
        )
        before = self.place
        self.place = before.moved(hits, fix.at, book.hysteresis)
        self._arm_place(out)
        if self.place.inside != before.inside or before.stale(fix.at, book.hysteresis):
            self._extend(out, self._retarget(fix.at))

    def _on_place_due(self, out: Outcome, now: datetime) -> None:
        """The place timer: the last fix is stale, so the zones no longer count."""
        rule = self.book.hysteresis
        if self.place.fix_at is not None and self.place.stale(now, rule):
            self.place = Place()
            self.place_armed = False
            self._extend(out, self._retarget(now))
        else:
            self._arm_place(out)

    # --- rules ---------------------------------------------------------------

    def _key(self, base: DesiredPlaylist, at: datetime) -> Key:
        manifest = base.base
        if manifest is None or manifest.priority == "emergency":
            return ()
        inside = self.place.zones(at, self.book.hysteresis)
        cfg = self.cfg
        return key_for(self.book, cfg.fleet_id, cfg.hours.timezone, at, inside, base_ms(manifest))

    def _composed(self, base: DesiredPlaylist, at: datetime) -> DesiredPlaylist:
        key = self._key(base, at)
        self.target_key = key
        manifest = base.base
        assert manifest is not None
        if not key:
            return base  # the base as the hub encoded it
        composed, sizes = compose(manifest, self.book, self.cfg.fleet_id, key)
        if base.downloads is not None:
            body, media = base.downloads.encode(composed, sizes)
        else:  # no links known (no library files anywhere): as the manifest is
            body, media = composed.to_json(), ()
        return replace(base, etag=composed.etag, manifest_json=body, media=media)

    def _retarget(self, at: datetime) -> Outcome:
        base = self.base
        if base is None or self._key(base, at) == self.target_key:
            return Outcome()
        return self._apply_desired(self._composed(replace(base, at=at, force=False), at))

    def _arm_place(self, out: Outcome) -> None:
        """Watch for the fix going stale while it holds the tablet in a zone."""
        if self.place.inside:
            deadline = self.place.stale_at(self.book.hysteresis)
            out.timers.append(Arm(self.cfg.tablet_id, "place", deadline))
            self.place_armed = True
        elif self.place_armed:
            out.timers.append(Arm(self.cfg.tablet_id, "place", None))
            self.place_armed = False

    @staticmethod
    def _extend(out: Outcome, more: Outcome) -> None:
        out.effects.extend(more.effects)
        out.timers.extend(more.timers)
