"""Device messages → actor inputs.

:func:`translate` rejects a bad message by raising :class:`~config.errors.PayloadError`
(a short reason and a category), and raises nothing else for any topic or payload
(tests/unit/test_inbound_fuzz.py). Its caller, the hub's ``Hub._on_publish``, catches it,
counts the category in ``rejected`` and logs it rate-limited with the topic; anything else
that escapes (a bug) is caught there too and counted in ``handler_errors``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from config.errors import PayloadError
from contract.commands import CommandResult, command_result_in
from contract.heartbeat import Heartbeat, heartbeat_in
from contract.media_status import MAX_BYTES as MEDIA_STATUS_MAX_BYTES
from contract.media_status import MediaStatus, media_status_in
from contract.payloads import parse_payload
from contract.playlist_ack import PlaylistAck, ack_in
from contract.status import Status, status_in
from hub.play_ingest import PlaysIn

SUBSCRIPTIONS = (
    "tablets/+/status",
    "tablets/+/heartbeat",
    "tablets/+/playlist/ack",
    "tablets/+/plays",
    "tablets/+/media/status",
    "tablets/+/commands/result",
)


def tablet_topics(tablet_id: str) -> tuple[str, ...]:
    """The per-tablet filters a sharded hub subscribes to instead of the wildcards."""
    return tuple(f.replace("+", tablet_id) for f in SUBSCRIPTIONS)


def translate(
    topic: str, payload: bytes, retained: bool, received_at: datetime, limit: int
) -> tuple[str, Any]:
    """Return ``(tablet_id, actor message)`` (or :class:`PlaysIn` for the play ingest);
    raise :class:`PayloadError` to reject."""
    parts = topic.split("/")
    if len(parts) < 3 or parts[0] != "tablets" or not parts[1]:
        raise PayloadError("unexpected topic", "bad_topic")
    tablet_id, kind = parts[1], "/".join(parts[2:])
    if kind == "heartbeat":
        hb = parse_payload(Heartbeat, payload, limit)
        return tablet_id, heartbeat_in(hb, tablet_id, received_at)
    if kind == "status":
        st = parse_payload(Status, payload, limit)
        return tablet_id, status_in(st, tablet_id, received_at, retained)
    if kind == "plays":  # parsed and validated by the play ingest task, not the actors
        return tablet_id, PlaysIn(tablet_id, payload, received_at)
    if kind == "playlist/ack":
        ack = parse_payload(PlaylistAck, payload, limit)
        return tablet_id, ack_in(ack, tablet_id, received_at)
    if kind == "media/status":  # the cache report: longer lists than other payloads
        ms = parse_payload(MediaStatus, payload, max(limit, MEDIA_STATUS_MAX_BYTES))
        return tablet_id, media_status_in(ms, tablet_id, received_at)
    if kind == "commands/result":
        result = parse_payload(CommandResult, payload, limit)
        return tablet_id, command_result_in(result, tablet_id, received_at)
    raise PayloadError(f"unexpected topic kind {kind!r}", "bad_topic")
