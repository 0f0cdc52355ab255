"""What a contained actor restores after a failed message (actors/system/contained.py)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from types import MappingProxyType

from actors.messages import CommandIn, DesiredPlaylist, Expired, TabletConfig, TabletSnapshot
from actors.rules.hours import OperatingHours
from actors.rules.lead_book import LeadBook, _Campaign
from actors.rules.tablet_session import TabletSession
from actors.system.contained import CONTAINERS, copy_flat, restore_flat
from contract.playlist_ack import AckIn
from tests.unit.test_health import Tablet, at

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_session_copy_is_untouched_by_changes_to_the_session() -> None:
    cfg = TabletConfig("t-1", "f-1", None, 1, 2, 1, 6, OperatingHours())
    session = TabletSession(
        TabletSnapshot(cfg, state="online", boot_id="b", last_seq=1, recent_transitions=(T0,))
    )
    saved = copy_flat(session)
    session.boots["evil"] = 99
    session.transitions.append(T0)
    assert (saved.boot_id, saved.last_seq, list(saved.transitions)) == ("b", 1, [T0])
    assert saved.cfg is session.cfg  # immutable parts are shared, not copied


def test_the_lead_book_is_restored_whole() -> None:
    """The router's checkpoint is a deep copy: campaigns hold mutable cursors."""
    book = LeadBook()
    book.campaigns[("default", "c")] = _Campaign((), 3)
    saved = copy.deepcopy(book)
    book.campaigns[("default", "c")].cursor = 4
    assert saved.campaigns[("default", "c")].cursor == 3


def test_a_session_names_every_attribute_that_holds_a_container() -> None:
    """``TabletSession.FLAT_CONTAINERS`` is all the copy before each message copies: an
    attribute holding a container left out of it would be shared by the copy, and a failed
    message's changes to it would stay. Driven through heartbeats (a reboot, low storage),
    a playlist, a command and a timeout, no attribute holds a container it does not name."""
    tablet = Tablet(ad_id="ad-1")
    manifest = {"items": [{"ad_id": "ad-1", "duration_ms": 20_000}, {"ad_id": "ad-2"}]}
    session = tablet.session
    session.on_desired(DesiredPlaylist("t1", "e1", json.dumps(manifest), at(0)))
    tablet.beat(0)
    tablet.beat(30, disk_free_mb=10, boot_id="boot-b")
    tablet.beat(60, disk_free_mb=10, battery=70, charging=False)
    session.on_ack(AckIn("t1", "e1", "applied", None, at(61)))
    session.on_command(CommandIn("t1", "c1", "reboot", "{}", at(62), at(600), at(62)))
    session.on_expired(Expired("t1", "offline", at(500), at(500)))
    holding = {name for name, value in vars(session).items() if isinstance(value, CONTAINERS)}
    assert holding == set(TabletSession.FLAT_CONTAINERS)
    assert isinstance(session.durations, MappingProxyType)  # shared by sessions: read-only


def test_a_failed_message_leaves_every_container_as_it_was() -> None:
    tablet = Tablet()
    tablet.beat(0)
    saved = copy_flat(tablet.session)
    for name in TabletSession.FLAT_CONTAINERS:
        assert getattr(saved, name) is not getattr(tablet.session, name)
        assert getattr(saved, name) == getattr(tablet.session, name)
    tablet.beat(30, boot_id="boot-b")
    restore_flat(tablet.session, saved)
    assert tablet.session.boot_id == "boot-a"
    assert tablet.session.last_seq == 0
