"""Device messages → actor inputs. Every rejection has a short reason; nothing raises."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from actors.messages import AckIn, HeartbeatIn, StatusIn
from config.errors import PayloadError
from contract.payloads import Heartbeat, PlaylistAck, Status, heartbeat_extras, parse_payload
from hub.play_ingest import PlaysIn

SUBSCRIPTIONS = (
    "tablets/+/status",
    "tablets/+/heartbeat",
    "tablets/+/playlist/ack",
    "tablets/+/plays",
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
        extras = heartbeat_extras(hb)
        return tablet_id, HeartbeatIn(
            tablet_id=tablet_id,
            received_at=received_at,
            device_ts=hb.ts,
            seq=hb.seq,
            boot_id=hb.boot_id,
            playlist_etag=hb.playlist_etag,
            ad_id=hb.now_playing.ad_id if hb.now_playing else None,
            campaign_id=hb.now_playing.campaign_id if hb.now_playing else None,
            battery=hb.battery,
            charging=hb.charging,
            disk_free_mb=hb.disk_free_mb,
            app_version=hb.app_version,
            lat=hb.lat,
            lon=hb.lon,
            extra_json=json.dumps(extras, separators=(",", ":")) if extras else None,
        )
    if kind == "status":
        st = parse_payload(Status, payload, limit)
        return tablet_id, StatusIn(tablet_id, st.state, received_at, st.ts, retained)
    if kind == "plays":  # parsed and validated by the play ingest task, not the actors
        return tablet_id, PlaysIn(tablet_id, payload, received_at)
    if kind == "playlist/ack":
        ack = parse_payload(PlaylistAck, payload, limit)
        return tablet_id, AckIn(tablet_id, ack.etag, ack.status, ack.detail, received_at)
    raise PayloadError(f"unexpected topic kind {kind!r}", "bad_topic")
