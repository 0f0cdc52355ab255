"""Playlist manifests as published on ``tablets/{id}/playlist`` and their etags."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from contract.payloads import PlaylistItem

Priority = Literal["normal", "emergency"]


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def items_id(items: list[PlaylistItem]) -> str:
    """Content address of an item list: the same items give the same playlist id."""
    ordered = sorted(normalise(items), key=lambda i: i.position or 0)
    body = canonical([i.model_dump() for i in ordered])
    return "pl-" + hashlib.sha256(body.encode()).hexdigest()[:16]


def normalise(items: list[PlaylistItem]) -> list[PlaylistItem]:
    """Positions filled in (0, 1, …) in the order given when absent."""
    return [
        i if i.position is not None else i.model_copy(update={"position": n})
        for n, i in enumerate(items)
    ]


@dataclass(frozen=True, slots=True)
class Manifest:
    playlist_id: str
    version: int
    priority: Priority
    issued_at: datetime
    valid_until: datetime | None
    refresh_interval_s: int
    items: tuple[dict[str, Any], ...]

    def body(self) -> dict[str, Any]:
        """Everything the etag covers (``issued_at`` is excluded: re-issuing changes nothing)."""
        return {
            "v": 1,
            "playlist_id": self.playlist_id,
            "version": self.version,
            "priority": self.priority,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "refresh_interval_s": self.refresh_interval_s,
            "items": sorted(self.items, key=lambda i: int(i["position"])),
        }

    @property
    def etag(self) -> str:
        return hashlib.sha256(canonical(self.body()).encode()).hexdigest()[:32]

    def to_json(self) -> str:
        issued = self.issued_at.isoformat()
        return canonical({**self.body(), "etag": self.etag, "issued_at": issued})


EMPTY_PLAYLIST_ID = "pl-none"
