"""A tablet's content readiness: pure logic, no thespian, no I/O.

The desired manifest names the library files it plays (``DesiredPlaylist.media``); the
tablet's cache reports (``tablets/{id}/media/status``) say which it holds, which it is
downloading and which failed. :class:`ContentRules`, part of
:class:`~actors.rules.tablet_session.TabletSession`, keeps both and decides:

- **applied only when cached**: a tablet that says it plays the desired manifest (its ack
  ``applied``, or its heartbeat's ``playlist_etag``) before it holds all of that
  manifest's library files is *claiming* it; the delivery stays ``published`` (its
  detail says what is missing) until a report shows every file cached, and only then is it
  ``applied``. Manifests without library files are applied on the ack, as before.
- **readiness**: each report (and each change of the desired manifest) gives a
  :class:`~actors.effects.MediaStateRow`: ready, downloading (bytes done of total) and
  failed files of the desired manifest.
- **download_failed**: a file of the desired manifest that failed
  :data:`DOWNLOAD_FAILURES` times opens a ``download_failed`` incident (the incident
  rules: one open incident per tablet, opened and resolved once); it is resolved when no
  file of the desired manifest fails that often any more (cached, retried, or no longer
  wanted). An offline or flapping incident supersedes it.
"""

from __future__ import annotations

from datetime import datetime

from actors.effects import DeliveryRow, MediaStateRow, Outcome, TabletStateRow
from actors.messages import MediaStatusIn
from actors.rules.incidents import IncidentRules

DOWNLOAD_FAILURES = 3  # attempts at one file before a download_failed incident opens


class ContentRules(IncidentRules):
    """The content decisions of a tablet session (its base, with the incident rules)."""

    desired_etag: str | None
    applied_etag: str | None
    wanted: tuple[tuple[str, int], ...]  # the desired manifest's library files (sha, bytes)
    wanted_playlist: str | None  # the desired manifest's playlist
    report: MediaStatusIn | None  # the tablet's last cache report
    claimed_etag: str | None  # said to be played, waiting for its files

    def state_row(self) -> TabletStateRow:
        raise NotImplementedError  # the session's

    def _missing(self) -> int:
        """How many of the desired manifest's library files the tablet does not hold."""
        held = set(self.report.cached) if self.report is not None else set()
        return sum(1 for sha, _ in self.wanted if sha not in held)

    def _waits_for_media(self, etag: str) -> bool:
        """Whether ``etag`` is the desired manifest, not yet applied, and some of its files
        are not cached."""
        return etag == self.desired_etag and etag != self.applied_etag and self._missing() > 0

    def _claim(self, out: Outcome, etag: str, at: datetime) -> None:
        """The tablet says it plays ``etag`` before holding all its files."""
        self.claimed_etag = etag
        detail = f"acknowledged; waiting for {self._missing()} of {len(self.wanted)} media files"
        out.effects.append(DeliveryRow(self.cfg.tablet_id, etag, "published", at, detail))

    def _on_wanted(
        self, out: Outcome, media: tuple[tuple[str, int], ...], playlist: str | None, at: datetime
    ) -> None:
        """The desired manifest changed (its etag is ``desired_etag`` already)."""
        self.wanted, self.wanted_playlist = media, playlist
        if self.claimed_etag != self.desired_etag:
            self.claimed_etag = None
        if self.report is not None:
            out.effects.append(self._media_row())
            self._review_downloads(out, at)

    def on_media_status(self, msg: MediaStatusIn) -> Outcome:
        out = Outcome()
        self.report = msg
        at = msg.received_at
        claimed = self.claimed_etag
        if claimed is not None and claimed == self.desired_etag and self._missing() == 0:
            self.claimed_etag = None
            self.applied_etag = claimed
            out.effects.append(DeliveryRow(self.cfg.tablet_id, claimed, "applied", at, None))
            out.effects.append(self.state_row())
        out.effects.append(self._media_row())
        self._review_downloads(out, at)
        return out

    def _failing(self) -> list[str]:
        """Errors of the desired files that failed :data:`DOWNLOAD_FAILURES` times or more."""
        if self.report is None:
            return []
        wanted = {sha for sha, _ in self.wanted}
        held = set(self.report.cached)
        return [
            f"{f.sha256[:12]}: {f.error or 'failed'} ({f.attempts} attempts)"
            for f in self.report.failed
            if f.sha256 in wanted and f.sha256 not in held and f.attempts >= DOWNLOAD_FAILURES
        ]

    def _review_downloads(self, out: Outcome, at: datetime) -> None:
        failing = self._failing()
        if failing and self.incident is None:
            self._open_incident(out, "download_failed", at, None)
        elif not failing and self.incident is not None and self.incident.kind == "download_failed":
            self._resolve_incident(out, at)

    def _media_row(self) -> MediaStateRow:
        report = self.report
        held = set(report.cached) if report is not None else set()
        loading = {d.sha256: d for d in report.downloading} if report is not None else {}
        failed = {f.sha256: f for f in report.failed} if report is not None else {}
        ready = downloading = failing = 0
        done = total = 0
        detail = None
        for sha, size in self.wanted:
            total += size
            if sha in held:
                ready += 1
                done += size
            elif sha in loading:
                downloading += 1
                done += min(loading[sha].bytes_done, size)
            elif sha in failed:
                failing += 1
                if detail is None:
                    error = failed[sha].error or "failed"
                    detail = f"{sha[:12]}: {error} ({failed[sha].attempts} attempts)"
        return MediaStateRow(
            tablet_id=self.cfg.tablet_id,
            playlist_id=self.wanted_playlist,
            etag=self.desired_etag,
            total=len(self.wanted),
            ready=ready,
            downloading=downloading,
            failed=failing,
            bytes_done=done,
            bytes_total=total,
            detail=detail,
            reported_at=report.received_at if report is not None else None,
        )
