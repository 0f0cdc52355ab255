"""Content readiness (actors/rules/content.py): a manifest with library files counts as
applied only once they are all cached; readiness rows; the download_failed incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeVar

from actors.effects import (
    DeliveryRow,
    Effect,
    IncidentEvent,
    MediaStateRow,
    Outcome,
    TabletStateRow,
)
from actors.messages import (
    AckIn,
    DesiredPlaylist,
    Expired,
    HeartbeatIn,
    MediaStatusIn,
    StatusIn,
    TabletConfig,
    TabletSnapshot,
)
from actors.rules.content import DOWNLOAD_FAILURES
from actors.rules.hours import parse_hours
from actors.rules.tablet_session import TabletSession
from contract.media_status import DownloadFailed, Downloading

E = TypeVar("E")
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
A, B, C = "a" * 64, "b" * 64, "c" * 64
MEDIA = ((A, 1000), (B, 3000))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def session() -> TabletSession:
    cfg = TabletConfig("t1", "f1", None, 30, 90, 300, 6, parse_hours(""))
    s = TabletSession(TabletSnapshot(config=cfg))
    s.on_heartbeat(heartbeat(0))
    return s


def heartbeat(seconds: float, etag: str | None = None, seq: int = 0) -> HeartbeatIn:
    return HeartbeatIn(
        "t1",
        at(seconds),
        None,
        seq,
        "boot",
        etag,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    )


def desired(etag: str = "e1", media: tuple[tuple[str, int], ...] = MEDIA) -> DesiredPlaylist:
    return DesiredPlaylist("t1", etag, "{}", at(1), media=media)


def report(
    seconds: float,
    cached: tuple[str, ...] = (),
    downloading: tuple[Downloading, ...] = (),
    failed: tuple[DownloadFailed, ...] = (),
) -> MediaStatusIn:
    return MediaStatusIn("t1", at(seconds), None, cached, downloading, failed)


def of(out: Outcome, kind: type[E]) -> list[E]:
    return [e for e in out.effects if isinstance(e, kind)]


def effects(out: Outcome) -> list[Effect]:
    return list(out.effects)


def test_an_ack_before_the_files_are_cached_waits_for_them() -> None:
    s = session()
    s.on_desired(desired())
    out = s.on_ack(AckIn("t1", "e1", "applied", None, at(2)))
    (row,) = of(out, DeliveryRow)
    assert (row.status, row.detail) == ("published", "acknowledged; waiting for 2 of 2 media files")
    assert s.applied_etag is None

    out = s.on_media_status(report(3, cached=(A,), downloading=(Downloading(B, 1500, 3000),)))
    assert of(out, DeliveryRow) == []
    (state,) = of(out, MediaStateRow)
    assert (state.etag, state.total, state.ready, state.downloading, state.failed) == (
        "e1",
        2,
        1,
        1,
        0,
    )
    assert (state.bytes_done, state.bytes_total) == (2500, 4000)
    assert s.applied_etag is None

    out = s.on_media_status(report(4, cached=(A, B)))
    (row,) = of(out, DeliveryRow)
    assert (row.etag, row.status, row.at) == ("e1", "applied", at(4))
    assert s.applied_etag == "e1"
    assert [r.applied_etag for r in of(out, TabletStateRow)] == ["e1"]
    (state,) = of(out, MediaStateRow)
    assert (state.ready, state.bytes_done) == (2, 4000)


def test_files_cached_before_the_ack_apply_it_at_once() -> None:
    s = session()
    s.on_desired(desired())
    s.on_media_status(report(2, cached=(B, A, C)))
    out = s.on_ack(AckIn("t1", "e1", "applied", None, at(3)))
    (row,) = of(out, DeliveryRow)
    assert row.status == "applied"
    assert s.applied_etag == "e1"


def test_a_heartbeat_claiming_the_manifest_waits_for_its_files_too() -> None:
    s = session()
    s.on_desired(desired())
    s.on_heartbeat(heartbeat(2, "e1", seq=1))
    assert s.applied_etag is None
    out = s.on_media_status(report(3, cached=(A, B)))
    assert [r.status for r in of(out, DeliveryRow)] == ["applied"]
    assert s.applied_etag == "e1"


def test_a_manifest_without_library_files_is_applied_on_the_ack() -> None:
    s = session()
    s.on_desired(desired(media=()))
    out = s.on_ack(AckIn("t1", "e1", "applied", None, at(2)))
    assert [r.status for r in of(out, DeliveryRow)] == ["applied"]
    assert s.applied_etag == "e1"


def test_a_new_manifest_is_measured_against_the_last_report() -> None:
    s = session()
    s.on_desired(desired())
    s.on_media_status(report(2, cached=(A, B)))
    out = s.on_desired(DesiredPlaylist("t1", "e2", "{}", at(5), media=((A, 1000), (C, 500))))
    (state,) = of(out, MediaStateRow)
    assert (state.etag, state.ready, state.total, state.bytes_done, state.bytes_total) == (
        "e2",
        1,
        2,
        1000,
        1500,
    )


def failed(sha: str, attempts: int) -> DownloadFailed:
    return DownloadFailed(sha, attempts, "HTTP 403")


def test_repeated_failures_open_one_incident_resolved_once_cached() -> None:
    s = session()
    s.on_desired(desired())
    out = s.on_media_status(report(2, cached=(A,), failed=(failed(B, DOWNLOAD_FAILURES - 1),)))
    assert of(out, IncidentEvent) == []
    (state,) = of(out, MediaStateRow)
    assert (state.failed, state.detail) == (1, f"{B[:12]}: HTTP 403 (2 attempts)")

    out = s.on_media_status(report(3, cached=(A,), failed=(failed(B, DOWNLOAD_FAILURES),)))
    (opened,) = of(out, IncidentEvent)
    assert (opened.kind, opened.event, opened.at, opened.offline_since) == (
        "download_failed",
        "opened",
        at(3),
        None,
    )
    # Still failing: nothing new; the same failure again opens no second incident.
    out = s.on_media_status(report(4, cached=(A,), failed=(failed(B, DOWNLOAD_FAILURES + 1),)))
    assert of(out, IncidentEvent) == []

    out = s.on_media_status(report(5, cached=(A, B)))
    (resolved,) = of(out, IncidentEvent)
    assert (resolved.incident_id, resolved.event) == (opened.incident_id, "resolved")
    assert s.incident is None


def test_a_failure_of_a_file_no_longer_wanted_resolves() -> None:
    s = session()
    s.on_desired(desired())
    s.on_media_status(report(2, cached=(A,), failed=(failed(B, 5),)))
    assert s.incident is not None
    assert s.incident.kind == "download_failed"
    out = s.on_desired(DesiredPlaylist("t1", "e2", "{}", at(6), media=((A, 1000),)))
    assert [e.event for e in of(out, IncidentEvent)] == ["resolved"]


def test_an_offline_incident_supersedes_download_failed() -> None:
    s = session()
    s.on_desired(desired())
    s.on_media_status(report(2, failed=(failed(B, 5),)))
    assert s.incident is not None
    s.on_status(StatusIn("t1", "offline", at(10), at(10), False))
    due = s.incident_due
    assert due is not None
    out = s.on_expired(Expired("t1", "incident", due, due))
    assert [(e.kind, e.event) for e in of(out, IncidentEvent)] == [
        ("download_failed", "resolved"),
        ("offline", "opened"),
    ]
