"""The MQTT contract v1 as a tablet sees it: what it sends, and the manifest it checks.

Written independently of the hub's own models on purpose, so the simulator is
a second reading of ``docs/mqtt-contract.md`` that catches a hub drifting from it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from devtools.simulator.errors import SimulatorError

OFFLINE_STATUS = b'{"state":"offline"}'
NowPlaying = tuple[str, str]  # (ad_id, campaign_id)
AckStatus = Literal["applied", "failed"]


def status_topic(tablet_id: str) -> str:
    return f"tablets/{tablet_id}/status"


def heartbeat_topic(tablet_id: str) -> str:
    return f"tablets/{tablet_id}/heartbeat"


def playlist_topic(tablet_id: str) -> str:
    return f"tablets/{tablet_id}/playlist"


def ack_topic(tablet_id: str) -> str:
    return f"tablets/{tablet_id}/playlist/ack"


def media_status_topic(tablet_id: str) -> str:
    return f"tablets/{tablet_id}/media/status"


def plays_topic(tablet_id: str) -> str:
    return f"tablets/{tablet_id}/plays"


def plays_ack_topic(tablet_id: str) -> str:
    return f"tablets/{tablet_id}/plays/ack"


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _dump(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def online_status() -> bytes:
    return _dump({"state": "online", "ts": iso_now()})


def playlist_ack(etag: str, status: AckStatus, detail: str | None) -> bytes:
    return _dump({"etag": etag, "status": status, "detail": detail})


def heartbeat(
    *,
    seq: int,
    boot_id: str,
    playlist_etag: str | None,
    now_playing: NowPlaying | None,
    battery: int,
    charging: bool,
    disk_free_mb: int,
    app_version: str,
    lat: float,
    lon: float,
) -> bytes:
    return _dump(
        {
            "v": 1,
            "ts": iso_now(),
            "seq": seq,
            "boot_id": boot_id,
            "playlist_etag": playlist_etag,
            "now_playing": (
                {"ad_id": now_playing[0], "campaign_id": now_playing[1]} if now_playing else None
            ),
            "battery": battery,
            "charging": charging,
            "disk_free_mb": disk_free_mb,
            "app_version": app_version,
            "lat": round(lat, 6),
            "lon": round(lon, 6),
        }
    )


class ManifestItem(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    ad_id: Annotated[str, Field(min_length=1)]
    campaign_id: Annotated[str, Field(min_length=1)]
    url: str
    sha256: str
    duration_ms: Annotated[int, Field(gt=0)]
    position: int | None = None
    # A library file: fetched by its signed download_url (docs/mqtt-contract.md, "Media").
    media_id: str | None = None
    media_version: int | None = None
    download_url: str | None = None
    bytes: Annotated[int, Field(ge=0)] | None = None


class Manifest(BaseModel):
    """``tablets/{id}/playlist`` as the tablet checks it before applying it."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    v: Literal[1]
    etag: Annotated[str, Field(min_length=1)]
    playlist_id: str
    version: int
    priority: Literal["normal", "emergency"]
    issued_at: datetime
    valid_until: datetime | None = None
    refresh_interval_s: int
    items: list[ManifestItem]
    download_expires_at: datetime | None = None

    def ordered(self) -> list[ManifestItem]:
        """The items in play order: by ``position``, then as listed."""
        return [
            item
            for _, item in sorted(
                enumerate(self.items),
                key=lambda pair: pair[1].position if pair[1].position is not None else pair[0],
            )
        ]

    def rotation(self) -> tuple[NowPlaying, ...]:
        """The ads in play order."""
        return tuple((item.ad_id, item.campaign_id) for item in self.ordered())

    def downloads(self) -> list[ManifestItem]:
        """The library files to fetch, once each."""
        seen: dict[str, ManifestItem] = {}
        for item in self.ordered():
            if item.download_url is not None:
                seen.setdefault(item.sha256, item)
        return list(seen.values())


def media_status(
    cached: Sequence[str],
    downloading: Sequence[tuple[str, int, int]],
    failed: Sequence[tuple[str, int, str | None]],
) -> bytes:
    return _dump(
        {
            "v": 1,
            "ts": iso_now(),
            "cached": cached,
            "downloading": [
                {"sha256": sha, "bytes_done": done, "bytes_total": total}
                for sha, done, total in downloading
            ],
            "failed": [
                {"sha256": sha, "attempts": attempts, "error": error}
                for sha, attempts, error in failed
            ],
        }
    )


def plays_batch(batch_id: str, events: list[dict[str, object]]) -> bytes:
    return _dump({"batch_id": batch_id, "events": events})


class ManifestRejected(SimulatorError):
    """A manifest the tablet will not apply; ``etag`` is ``None`` when it cannot even ack."""

    def __init__(self, reason: str, etag: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.etag = etag


def read_manifest(raw: bytes) -> Manifest:
    """Parse and check a playlist manifest, or raise :class:`ManifestRejected`."""
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ManifestRejected("manifest is not JSON", None) from None
    etag = document.get("etag") if isinstance(document, dict) else None
    if not isinstance(etag, str) or not etag:
        raise ManifestRejected("manifest has no etag", None)
    try:
        return Manifest.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "manifest"
        raise ManifestRejected(f"{where}: {first['msg']}", etag) from None
