"""TabletSession: the presence state machine, driven with explicit UTC datetimes."""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest

from actors.effects import (
    DeliveryRow,
    Effect,
    HeartbeatRow,
    IncidentEvent,
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
    IncidentRef,
    Position,
    State,
    StatusIn,
    TabletConfig,
    TabletSnapshot,
)
from actors.rules.hours import OperatingHours, parse_hours
from actors.rules.incidents import alert_payload, incident_due_at, incident_id
from actors.rules.tablet_session import TabletSession
from actors.system.watchdog import Deadlines

E = TypeVar("E")

TID = "t1"
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)  # a Wednesday
ALWAYS = parse_hours("")
OFFICE = parse_hours("mon-fri 09:00-17:00")  # UTC
INTERVAL_S, OFFLINE_S, ALERT_S = 30, 90, 300


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_config(
    *, hours: OperatingHours = ALWAYS, flap_limit: int = 6, alert_after_s: int = ALERT_S
) -> TabletConfig:
    return TabletConfig(
        tablet_id=TID,
        fleet_id="f1",
        car_id=None,
        heartbeat_interval_s=INTERVAL_S,
        offline_after_s=OFFLINE_S,
        alert_after_s=alert_after_s,
        flap_limit=flap_limit,
        hours=hours,
    )


def new_session(
    *, hours: OperatingHours = ALWAYS, flap_limit: int = 6, alert_after_s: int = ALERT_S
) -> TabletSession:
    cfg = make_config(hours=hours, flap_limit=flap_limit, alert_after_s=alert_after_s)
    return TabletSession(TabletSnapshot(config=cfg))


def heartbeat(
    when: datetime, seq: int, boot_id: str = "boot-a", playlist_etag: str | None = None
) -> HeartbeatIn:
    return HeartbeatIn(
        tablet_id=TID,
        received_at=when,
        device_ts=when - timedelta(milliseconds=50),
        seq=seq,
        boot_id=boot_id,
        playlist_etag=playlist_etag,
        ad_id="ad-1",
        campaign_id="camp-1",
        battery=80,
        charging=True,
        disk_free_mb=2048,
        app_version="1.2.3",
        lat=1.29,
        lon=103.85,
        extra_json='{"fw":"x"}',
    )


def status(
    state: State, when: datetime, *, ts: datetime | None = None, retained: bool = False
) -> StatusIn:
    assert state != "unknown"
    return StatusIn(TID, state, when, ts, retained)


def will(when: datetime) -> StatusIn:
    return StatusIn(TID, "offline", when, None, False)


def expired(kind: str, when: datetime) -> Expired:
    assert kind in ("offline", "incident")
    return Expired(TID, kind, when, when)  # type: ignore[arg-type]


def of(out: Outcome | list[Effect], kind: type[E]) -> list[E]:
    effects = out.effects if isinstance(out, Outcome) else out
    return [e for e in effects if isinstance(e, kind)]


def last_state(out: Outcome) -> TabletStateRow:
    rows = of(out, TabletStateRow)
    assert rows, "expected a TabletStateRow"
    return rows[-1]


class Recorder:
    """Drives a session and keeps every effect, for properties over a whole sequence."""

    def __init__(self, session: TabletSession) -> None:
        self.session = session
        self.effects: list[Effect] = []
        self.timers: list[Arm] = []

    def feed(self, out: Outcome) -> Outcome:
        self.effects.extend(out.effects)
        self.timers.extend(out.timers)
        return out

    def beat(self, when: datetime, seq: int) -> Outcome:
        return self.feed(self.session.on_heartbeat(heartbeat(when, seq)))

    def will(self, when: datetime) -> Outcome:
        return self.feed(self.session.on_status(will(when)))

    def expire(self, kind: str, when: datetime) -> Outcome:
        return self.feed(self.session.on_expired(expired(kind, when)))

    def incidents(self) -> list[IncidentEvent]:
        return of(self.effects, IncidentEvent)

    def uptime_seconds(self) -> float:
        return sum((s.end - s.start).total_seconds() for s in of(self.effects, UptimeSpan))


def online_session(
    since: datetime = T0, *, hours: OperatingHours = ALWAYS, flap_limit: int = 6
) -> TabletSession:
    """A session made online by a first heartbeat at ``since`` (seq 0)."""
    session = new_session(hours=hours, flap_limit=flap_limit)
    session.on_heartbeat(heartbeat(since, 0))
    return session


# --- heartbeats --------------------------------------------------------------


def test_first_heartbeat_goes_online_with_reason_heartbeat() -> None:
    session = new_session()
    out = session.on_heartbeat(heartbeat(T0, 0))

    assert of(out, TransitionRow) == [TransitionRow(T0, TID, "unknown", "online", "heartbeat")]
    assert len(of(out, HeartbeatRow)) == 1
    assert out.timers == [Arm(TID, "offline", at(OFFLINE_S))]
    row = last_state(out)
    assert (row.state, row.state_since, row.last_heartbeat_at) == ("online", T0, T0)
    assert (row.boot_id, row.last_seq, row.uptime_until) == ("boot-a", 0, T0)
    assert of(out, UptimeSpan) == []
    assert of(out, IncidentEvent) == []


def test_heartbeat_row_and_state_row_carry_the_payload() -> None:
    session = new_session()
    hb = heartbeat(T0, 7, playlist_etag="etag-1")
    out = session.on_heartbeat(hb)

    [row] = of(out, HeartbeatRow)
    assert row is hb  # stored as received: its time is the hub's receive time
    state = last_state(out)
    assert state.applied_etag is None  # never published to the tablet: only stored
    assert (state.battery, state.app_version) == (80, "1.2.3")
    assert (state.ad_id, state.campaign_id) == ("ad-1", "camp-1")


def test_heartbeat_while_online_extends_deadline_and_accounts_uptime() -> None:
    session = online_session()
    out = session.on_heartbeat(heartbeat(at(30), 1))

    assert of(out, TransitionRow) == []
    assert of(out, UptimeSpan) == [UptimeSpan(TID, T0, at(30))]
    assert out.timers == [Arm(TID, "offline", at(30 + OFFLINE_S))]
    assert last_state(out).last_heartbeat_at == at(30)


@pytest.mark.parametrize(
    ("boot_id", "seq", "rows"),
    [
        ("boot-a", 0, 0),  # the same message redelivered
        ("boot-a", 1, 1),
        ("boot-b", 0, 1),  # a reboot restarts seq
    ],
)
def test_duplicate_heartbeat_stores_no_second_row(boot_id: str, seq: int, rows: int) -> None:
    session = online_session()
    out = session.on_heartbeat(heartbeat(at(1), seq, boot_id=boot_id))

    assert len(of(out, HeartbeatRow)) == rows
    assert len(of(out, TabletStateRow)) == 1
    assert out.timers == [Arm(TID, "offline", at(1 + OFFLINE_S))]


def test_duplicate_detection_survives_a_restart() -> None:
    snap = TabletSnapshot(
        config=make_config(),
        state="online",
        state_since=T0,
        last_heartbeat_at=T0,
        boot_id="boot-a",
        last_seq=5,
        uptime_until=T0,
    )
    out = TabletSession(snap).on_heartbeat(heartbeat(at(1), 5))
    assert of(out, HeartbeatRow) == []


# --- status and will ---------------------------------------------------------


def test_will_without_ts_goes_offline_with_reason_will() -> None:
    session = online_session()
    out = session.on_status(will(at(45)))

    assert of(out, TransitionRow) == [TransitionRow(at(45), TID, "online", "offline", "will")]
    assert of(out, UptimeSpan) == [UptimeSpan(TID, T0, at(45))]
    assert Arm(TID, "offline", None) in out.timers
    assert Arm(TID, "incident", at(45 + ALERT_S)) in out.timers
    row = last_state(out)
    assert (row.state, row.state_since) == ("offline", at(45))


def test_offline_status_with_ts_has_reason_status() -> None:
    session = online_session()
    out = session.on_status(status("offline", at(45), ts=at(44)))
    assert [t.reason for t in of(out, TransitionRow)] == ["status"]


def test_online_status_brings_an_offline_tablet_back() -> None:
    session = online_session()
    session.on_status(will(at(45)))
    out = session.on_status(status("online", at(100), ts=at(99)))

    assert of(out, TransitionRow) == [TransitionRow(at(100), TID, "offline", "online", "status")]
    assert Arm(TID, "offline", at(100 + OFFLINE_S)) in out.timers
    assert Arm(TID, "incident", None) in out.timers
    assert last_state(out).uptime_until == at(100)


@pytest.mark.parametrize("state", ["online", "offline"])
def test_status_repeating_the_current_state_does_nothing(state: State) -> None:
    session = online_session()
    if state == "offline":
        session.on_status(will(at(10)))
    out = session.on_status(status(state, at(20), ts=at(20)))
    assert out.effects == []
    assert out.timers == []


def test_offline_status_of_a_never_seen_tablet_is_ignored() -> None:
    out = new_session().on_status(will(T0))
    assert out.effects == []
    assert out.timers == []


@pytest.mark.parametrize(
    ("msg_state", "ts_offset", "reason"),
    [
        ("online", 10, None),  # same state as known: nothing to learn
        ("online", None, None),
        ("offline", -10, None),  # older than what we know
        ("offline", 0, None),  # as old as what we know
        ("offline", 10, "status"),  # newer: the tablet went offline meanwhile
        ("offline", None, "will"),  # a retained will: the tablet is gone
    ],
)
def test_retained_status_staleness(
    msg_state: State, ts_offset: int | None, reason: str | None
) -> None:
    session = online_session()  # online since T0
    ts = None if ts_offset is None else at(ts_offset)
    out = session.on_status(status(msg_state, at(60), ts=ts, retained=True))

    assert [t.reason for t in of(out, TransitionRow)] == ([reason] if reason else [])
    if reason is None:
        assert out.effects == []
        assert out.timers == []


def test_retained_status_moves_an_unknown_tablet_whatever_its_age() -> None:
    session = new_session()
    out = session.on_status(status("online", T0, ts=T0 - timedelta(days=3), retained=True))
    assert of(out, TransitionRow) == [TransitionRow(T0, TID, "unknown", "online", "status")]


# --- offline timeout -----------------------------------------------------------


def test_offline_timeout_fires_when_the_deadline_passed() -> None:
    session = online_session()
    out = session.on_expired(expired("offline", at(OFFLINE_S)))

    assert of(out, TransitionRow) == [
        TransitionRow(at(OFFLINE_S), TID, "online", "offline", "timeout")
    ]
    assert of(out, UptimeSpan) == [UptimeSpan(TID, T0, at(INTERVAL_S))]
    assert out.timers == [Arm(TID, "incident", at(OFFLINE_S + ALERT_S))]
    assert last_state(out).state == "offline"


def test_offline_timer_before_the_deadline_changes_nothing_and_re_arms() -> None:
    session = online_session()
    out = session.on_expired(expired("offline", at(OFFLINE_S - 1)))
    assert out.effects == []
    assert [(t.kind, t.deadline) for t in out.timers] == [("offline", at(OFFLINE_S))]


def test_stale_offline_timer_after_a_newer_heartbeat_is_ignored() -> None:
    session = online_session()
    session.on_heartbeat(heartbeat(at(60), 1))

    stale = session.on_expired(expired("offline", at(OFFLINE_S)))
    assert stale.effects == []

    fresh = session.on_expired(expired("offline", at(60 + OFFLINE_S)))
    assert [t.reason for t in of(fresh, TransitionRow)] == ["timeout"]


def test_offline_timer_after_a_will_does_nothing() -> None:
    session = online_session()
    session.on_status(will(at(10)))
    out = session.on_expired(expired("offline", at(OFFLINE_S)))
    assert out.effects == []


def test_offline_deadline_counts_from_a_later_online_status() -> None:
    session = online_session()
    session.on_status(will(at(10)))
    session.on_status(status("online", at(500), ts=at(500)))

    assert session.on_expired(expired("offline", at(500 + OFFLINE_S - 1))).effects == []
    out = session.on_expired(expired("offline", at(500 + OFFLINE_S)))
    assert [t.reason for t in of(out, TransitionRow)] == ["timeout"]


# --- incidents -----------------------------------------------------------------


def test_offline_incident_opens_once_when_it_is_due() -> None:
    session = online_session()
    session.on_status(will(at(45)))
    due = at(45 + ALERT_S)

    early = session.on_expired(expired("incident", due - timedelta(seconds=1)))
    assert early.effects == []

    out = session.on_expired(expired("incident", due))
    expected_id = incident_id(TID, "offline", due)
    assert of(out, IncidentEvent) == [
        IncidentEvent(expected_id, TID, "f1", "offline", "opened", due, due, at(45))
    ]
    assert last_state(out).open_incident_id == expected_id

    again = session.on_expired(expired("incident", due + timedelta(minutes=5)))
    assert again.effects == []


def test_outage_starting_out_of_hours_opens_its_incident_at_opening_time() -> None:
    friday_late = datetime(2024, 5, 3, 16, 58, tzinfo=UTC)
    monday_open = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
    session = online_session(friday_late - timedelta(minutes=10), hours=OFFICE)
    out = session.on_status(will(friday_late))
    assert Arm(TID, "incident", monday_open) in out.timers

    after_five = friday_late + timedelta(seconds=ALERT_S)
    assert session.on_expired(expired("incident", after_five)).effects == []
    saturday = datetime(2024, 5, 4, 12, 0, tzinfo=UTC)
    assert session.on_expired(expired("incident", saturday)).effects == []

    opened = of(session.on_expired(expired("incident", monday_open)), IncidentEvent)
    assert [(e.event, e.kind, e.opened_at, e.offline_since) for e in opened] == [
        ("opened", "offline", monday_open, friday_late)
    ]


def test_back_online_before_the_incident_is_due_clears_its_timer() -> None:
    session = online_session()
    session.on_status(will(at(45)))
    out = session.on_heartbeat(heartbeat(at(100), 1))
    assert Arm(TID, "incident", None) in out.timers

    late = session.on_expired(expired("incident", at(45 + ALERT_S)))
    assert late.effects == []


def test_back_online_resolves_the_offline_incident() -> None:
    session = online_session()
    session.on_status(will(at(45)))
    due = at(45 + ALERT_S)
    session.on_expired(expired("incident", due))

    out = session.on_heartbeat(heartbeat(at(1000), 1))
    assert of(out, IncidentEvent) == [
        IncidentEvent(
            incident_id(TID, "offline", due), TID, "f1", "offline", "resolved", due, at(1000), None
        )
    ]
    assert last_state(out).open_incident_id is None


def test_incident_id_is_deterministic() -> None:
    first = incident_id(TID, "offline", T0)
    assert first == incident_id(TID, "offline", T0)
    assert uuid.UUID(first).version == 5
    others = {
        incident_id("t2", "offline", T0),
        incident_id(TID, "flapping", T0),
        incident_id(TID, "offline", at(1)),
    }
    assert first not in others
    assert len(others) == 3


def test_alert_payload_is_compact_json() -> None:
    ev = IncidentEvent("id-1", TID, "f1", "offline", "opened", at(300), at(300), T0)
    assert json.loads(alert_payload(ev)) == {
        "v": 1,
        "incident_id": "id-1",
        "event": "opened",
        "kind": "offline",
        "tablet_id": TID,
        "fleet_id": "f1",
        "opened_at": at(300).isoformat(),
        "at": at(300).isoformat(),
        "offline_since": T0.isoformat(),
        "detail": None,
    }
    assert b" " not in alert_payload(ev)


# --- flapping -------------------------------------------------------------------


def flap(rec: Recorder, cycles: int, start_s: int = 60, step_s: int = 60) -> int:
    """Will, then heartbeat, ``cycles`` times; return the time (s) of the last heartbeat."""
    t = start_s
    for n in range(cycles):
        rec.will(at(t))
        rec.beat(at(t + step_s // 2), n + 1)
        t += step_s
    return t - step_s // 2


def test_flapping_opens_one_incident_and_no_offline_incidents() -> None:
    rec = Recorder(online_session(flap_limit=3))
    flap(rec, 6)  # 12 transitions within 6 minutes
    rec.will(at(400))
    for minutes in (10, 30, 60, 600):  # every incident deadline has long passed
        rec.expire("incident", at(400 + minutes * 60))

    incidents = rec.incidents()
    assert [(e.kind, e.event) for e in incidents] == [("flapping", "opened")]
    # transitions: will 60, beat 90, will 120, beat 150 (the 4th, > flap_limit)
    assert incidents[0].opened_at == at(150)
    assert incidents[0].incident_id == incident_id(TID, "flapping", at(150))


def test_flapping_resolves_when_the_last_hour_calms_down() -> None:
    rec = Recorder(online_session(flap_limit=3))
    last = flap(rec, 3)  # transitions at 60, 90, 120, 150, 180, 210 s
    assert [e.event for e in rec.incidents()] == ["opened"]

    # heartbeats keep coming; transitions older than an hour fall out of the window
    resolved_at = None
    seq = 100
    for t in range(last + 30, 3600 + 400, 30):
        seq += 1
        out = rec.beat(at(t), seq)
        if of(out, IncidentEvent):
            resolved_at = t
            break
    # at most 3 transitions left in (t - 1h, t]: 120 s must have dropped out
    assert resolved_at == 3600 + 150
    [opened, resolved] = rec.incidents()
    assert resolved.event == "resolved"
    assert resolved.incident_id == opened.incident_id
    assert rec.session.incident is None


def test_flapping_out_of_hours_opens_no_flapping_incident() -> None:
    saturday = datetime(2024, 5, 4, 12, 0, tzinfo=UTC)
    session = TabletSession(TabletSnapshot(config=make_config(hours=OFFICE, flap_limit=3)))
    session.on_heartbeat(heartbeat(saturday, 0))
    rec = Recorder(session)
    for n in range(6):
        rec.feed(session.on_status(will(saturday + timedelta(minutes=2 * n + 1))))
        rec.feed(session.on_heartbeat(heartbeat(saturday + timedelta(minutes=2 * n + 2), n + 1)))
    assert rec.incidents() == []


# --- restart ---------------------------------------------------------------------


def snapshot(**fields: object) -> TabletSnapshot:
    return TabletSnapshot(config=make_config(), **fields)  # type: ignore[arg-type]


def test_resume_online_rearms_the_offline_timer() -> None:
    session = TabletSession(
        snapshot(state="online", state_since=T0, last_heartbeat_at=at(60), uptime_until=at(60))
    )
    out = session.resume(at(61))  # the hub started at 61
    assert out.effects == []
    assert out.timers == [Arm(TID, "offline", at(61 + OFFLINE_S))]  # grace from the start


def test_a_restarted_hub_grants_offline_after_before_a_timeout_counts() -> None:
    """Down longer than offline_after: the heartbeats queued in the broker come in after the
    start, and must find the tablet still online (no false offline transition)."""
    session = TabletSession(
        snapshot(state="online", state_since=T0, last_heartbeat_at=at(60), uptime_until=at(60))
    )
    rec = Recorder(session)
    started = at(60 + OFFLINE_S + 35)  # away for longer than offline_after
    rec.feed(session.resume(started))
    [arm] = rec.timers
    assert arm.deadline == started + timedelta(seconds=OFFLINE_S)
    rec.expire("offline", started + timedelta(seconds=0.2))  # an early (stale) timer
    rec.beat(started + timedelta(seconds=1), 1)  # the queued heartbeat arrives
    assert of(rec.effects, TransitionRow) == []
    # No heartbeat at all after the grace: then it does time out.
    rec.expire("offline", started + timedelta(seconds=1 + OFFLINE_S))
    assert [t.to_state for t in of(rec.effects, TransitionRow)] == ["offline"]


def test_a_redelivered_older_heartbeat_of_the_same_boot_stores_no_row() -> None:
    session = online_session()  # seq 0
    for seq in (1, 2, 3):
        session.on_heartbeat(heartbeat(at(seq), seq))
    rows = [of(session.on_heartbeat(heartbeat(at(10), seq)), HeartbeatRow) for seq in (1, 2, 3)]
    assert rows == [[], [], []]
    assert session.last_seq == 3
    assert len(of(session.on_heartbeat(heartbeat(at(11), 4)), HeartbeatRow)) == 1
    assert len(of(session.on_heartbeat(heartbeat(at(12), 0, boot_id="boot-b")), HeartbeatRow)) == 1


def test_resume_offline_rearms_the_incident_timer() -> None:
    hours = parse_hours("mon-fri 09:00-17:00")
    friday_late = datetime(2024, 5, 3, 16, 58, tzinfo=UTC)
    snap = TabletSnapshot(config=make_config(hours=hours), state="offline", state_since=friday_late)
    out = TabletSession(snap).resume(friday_late + timedelta(minutes=1))
    assert out.timers == [Arm(TID, "incident", incident_due_at(hours, friday_late, ALERT_S))]
    assert out.timers[0].deadline == datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


def test_resume_with_an_open_incident_never_opens_a_duplicate() -> None:
    ref = IncidentRef(incident_id(TID, "offline", at(345)), "offline", at(345))
    session = TabletSession(snapshot(state="offline", state_since=at(45), open_incident=ref))
    rec = Recorder(session)
    rec.feed(session.resume(at(4000)))
    assert rec.timers == []
    rec.expire("incident", at(4000))
    rec.expire("incident", at(90000))
    assert rec.incidents() == []

    rec.beat(at(5000), 1)
    assert [(e.event, e.incident_id) for e in rec.incidents()] == [("resolved", ref.incident_id)]


def test_resume_offline_past_its_due_time_opens_exactly_one_incident() -> None:
    session = TabletSession(snapshot(state="offline", state_since=at(45)))
    rec = Recorder(session)
    rec.feed(session.resume(at(4000)))
    [arm] = rec.timers
    assert arm.deadline == at(45 + ALERT_S)
    rec.expire("incident", at(4000))
    rec.expire("incident", at(4001))
    assert [(e.kind, e.event) for e in rec.incidents()] == [("offline", "opened")]


def test_resume_of_an_unknown_tablet_arms_nothing() -> None:
    out = TabletSession(snapshot()).resume(T0)
    assert out.timers == []
    assert out.effects == []


def run_watchdog(session: TabletSession, armed: list[Arm], ticks: list[datetime]) -> list[Effect]:
    """Drive ``session`` with the real :class:`Deadlines` heap, ticking at ``ticks``."""
    deadlines = Deadlines()
    effects: list[Effect] = []

    def apply(timers: list[Arm]) -> None:
        for arm in timers:
            deadlines.arm(arm.tablet_id, arm.kind, arm.deadline)

    apply(armed)
    for now in ticks:
        for tablet_id, kind, deadline in deadlines.due(now):
            out = session.on_expired(Expired(tablet_id, kind, deadline, now))
            effects.extend(out.effects)
            apply(out.timers)
    return effects


def test_resume_online_by_status_without_heartbeat_still_times_out() -> None:
    session = TabletSession(snapshot(state="online", state_since=T0, uptime_until=T0))
    armed = session.resume(at(10)).timers
    effects = run_watchdog(session, armed, [at(10), at(OFFLINE_S), at(3600)])
    assert [t.reason for t in of(effects, TransitionRow)] == ["timeout"]


def test_resume_online_by_status_after_an_older_heartbeat_still_times_out() -> None:
    session = TabletSession(
        snapshot(state="online", state_since=at(1000), last_heartbeat_at=T0, uptime_until=at(1000))
    )
    armed = session.resume(at(1010)).timers
    effects = run_watchdog(session, armed, [at(1010), at(1000 + OFFLINE_S), at(3600)])
    assert [t.reason for t in of(effects, TransitionRow)] == ["timeout"]


def test_resume_online_times_out_through_the_watchdog() -> None:
    session = TabletSession(
        snapshot(state="online", state_since=T0, last_heartbeat_at=at(60), uptime_until=at(60))
    )
    armed = session.resume(at(70)).timers  # a timeout counts from the restart's grace on
    effects = run_watchdog(session, armed, [at(70), at(70 + OFFLINE_S), at(3600)])
    assert [t.reason for t in of(effects, TransitionRow)] == ["timeout"]
    assert [(e.kind, e.event) for e in of(effects, IncidentEvent)] == [("offline", "opened")]


def test_snapshot_round_trip_keeps_the_presence_state() -> None:
    rec = Recorder(online_session(flap_limit=3))
    flap(rec, 3)
    session = rec.session
    rebuilt = TabletSession(session.snapshot())
    assert rebuilt.snapshot() == session.snapshot()
    assert rebuilt.incident == session.incident
    assert list(rebuilt.transitions) == list(session.transitions)


def test_state_row_of_a_rebuilt_session_keeps_the_last_known_device_info() -> None:
    session = online_session()
    rebuilt = TabletSession(session.snapshot())
    assert rebuilt.state_row() == session.state_row()


# --- uptime ----------------------------------------------------------------------


def assert_spans_disjoint(spans: list[UptimeSpan]) -> None:
    ordered = sorted(spans, key=lambda s: s.start)
    for before, after in itertools.pairwise(ordered):
        assert before.end <= after.start
    assert all(s.start < s.end for s in spans)


def test_uptime_until_a_timeout_ends_one_interval_after_the_last_heartbeat() -> None:
    rec = Recorder(new_session())
    for n, t in enumerate(range(0, 301, 30)):
        rec.beat(at(t), n)
    rec.expire("offline", at(300 + OFFLINE_S))

    spans = of(rec.effects, UptimeSpan)
    assert_spans_disjoint(spans)
    assert spans[0].start == T0
    assert spans[-1].end == at(300 + INTERVAL_S)
    assert rec.uptime_seconds() == 330


def test_uptime_until_a_will_ends_at_the_will() -> None:
    rec = Recorder(new_session())
    for n, t in enumerate(range(0, 61, 30)):
        rec.beat(at(t), n)
    rec.will(at(75))
    assert of(rec.effects, UptimeSpan)[-1].end == at(75)
    assert rec.uptime_seconds() == 75


def test_uptime_counts_each_online_second_once_across_outages() -> None:
    rec = Recorder(new_session())
    rec.beat(at(0), 0)
    rec.beat(at(30), 1)
    rec.will(at(40))  # online 0-40
    rec.will(at(41))  # repeated will: nothing
    rec.beat(at(100), 2)
    rec.feed(rec.session.on_status(status("online", at(101), ts=at(101))))  # already online
    rec.beat(at(130), 3)
    rec.expire("offline", at(130 + OFFLINE_S))  # online 100-160
    rec.expire("offline", at(130 + OFFLINE_S + 1))  # a duplicate expiry: nothing
    rec.feed(rec.session.on_status(status("online", at(500), ts=at(500))))
    rec.beat(at(520), 4)
    rec.will(at(530))  # online 500-530

    assert_spans_disjoint(of(rec.effects, UptimeSpan))
    assert rec.uptime_seconds() == 40 + 60 + 30


def test_retained_will_after_restart_does_not_count_the_hub_downtime_as_uptime() -> None:
    session = TabletSession(
        snapshot(state="online", state_since=T0, last_heartbeat_at=at(600), uptime_until=at(600))
    )
    session.resume(at(4200))
    out = session.on_status(status("offline", at(4200), retained=True))  # hub was down an hour
    assert [t.reason for t in of(out, TransitionRow)] == ["will"]
    assert [s.end for s in of(out, UptimeSpan)] in ([], [at(600 + INTERVAL_S)])


# --- playlists ----------------------------------------------------------------------


def desired(etag: str, when: datetime = T0) -> DesiredPlaylist:
    return DesiredPlaylist(TID, etag, json.dumps({"etag": etag}), when)


def test_desired_manifest_is_published_retained_qos1_once() -> None:
    session = online_session()
    out = session.on_desired(desired("e1", at(5)))

    assert of(out, Publish) == [
        Publish(f"tablets/{TID}/playlist", b'{"etag": "e1"}', qos=1, retain=True)
    ]
    assert of(out, DeliveryRow) == [DeliveryRow(TID, "e1", "published", at(5), None)]
    assert last_state(out).desired_etag == "e1"

    again = session.on_desired(desired("e1", at(6)))
    assert again.effects == []


def test_a_heartbeat_naming_the_published_manifest_acknowledges_it() -> None:
    session = online_session()
    session.on_desired(desired("e1", at(5)))
    out = session.on_heartbeat(heartbeat(at(30), 1, playlist_etag="e1"))
    assert of(out, DeliveryRow) == [DeliveryRow(TID, "e1", "applied", at(30), None)]
    assert last_state(out).applied_etag == "e1"
    assert of(session.on_heartbeat(heartbeat(at(31), 2, playlist_etag="e1")), DeliveryRow) == []


def test_desired_manifest_retained_and_applied_is_not_published_by_a_rebuilt_session() -> None:
    snap = snapshot(
        state="online", state_since=T0, last_heartbeat_at=T0, desired_etag="e1", applied_etag="e1"
    )
    out = TabletSession(snap).on_desired(desired("e1"))
    assert out.effects == []


def test_the_desired_manifest_replaces_the_retained_one_whatever_was_applied() -> None:
    """An emergency the tablet never applied expires: the scheduled manifest it still plays
    is published again, or the broker would keep the expired emergency retained."""
    session = online_session()
    session.on_desired(desired("e1"))
    session.on_ack(AckIn(TID, "e1", "applied", None, at(2)))
    session.on_desired(desired("urgent", at(3)))
    session.on_heartbeat(heartbeat(at(4), 1, playlist_etag="e1"))
    out = session.on_desired(desired("e1", at(5)))
    assert [p.payload for p in of(out, Publish)] == [b'{"etag": "e1"}']
    assert last_state(out).desired_etag == "e1"


def test_a_new_desired_etag_is_published_and_switching_back_republishes() -> None:
    session = online_session()
    published = [
        p.payload
        for etag in ("e1", "e2", "e2", "e1")
        for p in of(session.on_desired(desired(etag)), Publish)
    ]
    assert published == [b'{"etag": "e1"}', b'{"etag": "e2"}', b'{"etag": "e1"}']


def test_a_rebuilt_session_republishes_what_is_not_applied_once() -> None:
    snap = snapshot(
        state="online", state_since=T0, last_heartbeat_at=T0, desired_etag="e1", applied_etag="e0"
    )
    session = TabletSession(snap)
    assert len(of(session.on_desired(desired("e1")), Publish)) == 1
    assert of(session.on_desired(desired("e1")), Publish) == []


def test_a_forced_republish_sends_even_an_applied_manifest_and_keeps_its_delivery() -> None:
    """After the broker lost its retained copy: published again, delivery row untouched."""
    session = online_session()
    session.on_desired(desired("e1"))
    session.on_heartbeat(heartbeat(at(30), 1, playlist_etag="e1"))
    out = session.on_desired(replace(desired("e1", at(40)), force=True))
    assert of(out, Publish) == [
        Publish(f"tablets/{TID}/playlist", b'{"etag": "e1"}', qos=1, retain=True)
    ]
    assert of(out, DeliveryRow) == []
    in_flight = session.on_desired(replace(desired("e2", at(41)), force=True))
    assert len(of(in_flight, Publish)) == 1
    assert of(in_flight, DeliveryRow) == [DeliveryRow(TID, "e2", "published", at(41), None)]


@pytest.mark.parametrize(
    ("ack_status", "detail", "applied"),
    [("applied", None, "e1"), ("failed", "sha256 mismatch", None)],
)
def test_ack_records_a_delivery_row(
    ack_status: str, detail: str | None, applied: str | None
) -> None:
    session = online_session()
    session.on_desired(desired("e1"))
    ack = AckIn(TID, "e1", ack_status, detail, at(3))  # type: ignore[arg-type]
    out = session.on_ack(ack)

    assert of(out, DeliveryRow) == [DeliveryRow(TID, "e1", ack_status, at(3), detail)]  # type: ignore[arg-type]
    assert last_state(out).applied_etag == applied
    assert of(session.on_desired(desired("e1")), Publish) == []


def test_the_last_position_is_kept_through_heartbeats_without_one_and_restarts() -> None:
    """The map's position: a heartbeat's lat/lon, kept when the next one has none, and
    rebuilt from the snapshot after a hub restart."""
    session = new_session()
    first = session.on_heartbeat(heartbeat(T0, 1)).effects
    rows = [e for e in first if isinstance(e, TabletStateRow)]
    assert rows[-1].position == Position(1.29, 103.85, T0)
    later = T0 + timedelta(seconds=30)
    silent = replace(heartbeat(later, 2), lat=None, lon=None)
    rows = [e for e in session.on_heartbeat(silent).effects if isinstance(e, TabletStateRow)]
    assert rows[-1].position == Position(1.29, 103.85, T0)
    rebuilt = TabletSession(session.snapshot())
    assert rebuilt.state_row().position == Position(1.29, 103.85, T0)
