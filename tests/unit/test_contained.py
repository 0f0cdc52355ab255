"""What a contained actor restores after a failed message (actors/system/contained.py)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from actors.messages import TabletConfig, TabletSnapshot
from actors.rules.hours import OperatingHours
from actors.rules.lead_book import LeadBook, _Campaign
from actors.rules.tablet_session import TabletSession
from actors.system.contained import copy_flat

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
