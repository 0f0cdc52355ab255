"""Library media in playlists and manifests (docs/mqtt-contract.md, "Media").

A playlist item taken from the media library names the media and the version it was
published with (:class:`LibraryItem`); in the manifest it carries those two fields, which
the etag covers like every item field. What a tablet fetches it by — its
``download_url``, signed for that tablet and renewed before it expires — and the file's
``bytes`` are added to each library item per tablet (:func:`with_downloads`) and, like
``download_expires_at``, left out of the etag: renewing a link changes no etag.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from contract.manifest import Manifest, canonical
from contract.payloads import PlaylistItem

MEDIA_ID = r"^m-[0-9a-f]{16}$"
ITEM_MEDIA_FIELDS = ("media_id", "media_version")


class LibraryItem(PlaylistItem):
    """A playlist item from the media library: the media version it plays."""

    media_id: Annotated[str, Field(pattern=MEDIA_ID)]
    media_version: Annotated[int, Field(ge=1)]


def item_of(row: Mapping[str, Any]) -> PlaylistItem:
    """A stored item row (its media columns None when it is not from the library)."""
    if row.get("media_id") is None:
        return PlaylistItem.model_validate(
            {k: v for k, v in row.items() if k not in ITEM_MEDIA_FIELDS}
        )
    return LibraryItem.model_validate(dict(row))


def manifest_item(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored item row as the manifest holds it: no media fields unless from the library."""
    return {k: v for k, v in row.items() if k not in ITEM_MEDIA_FIELDS or v is not None}


def library_media(manifest: Manifest) -> tuple[str, ...]:
    """The SHA-256 of every library file the manifest plays, once each, in play order."""
    seen: dict[str, None] = {}
    for item in manifest.body()["items"]:
        if item.get("media_id") is not None:
            seen.setdefault(str(item["sha256"]), None)
    return tuple(seen)


def with_downloads(
    manifest: Manifest,
    download_url: Callable[[str], str],
    sizes: Mapping[str, int],
    expires_at: datetime,
) -> str:
    """The manifest's JSON with each library item's ``download_url`` and ``bytes`` and the
    links' ``download_expires_at`` (none of which its etag covers)."""
    body = manifest.body()
    items = []
    for item in body["items"]:
        if item.get("media_id") is not None:
            sha = str(item["sha256"])
            item = {**item, "download_url": download_url(sha)}
            if sha in sizes:
                item["bytes"] = sizes[sha]
        items.append(item)
    return canonical(
        {
            **body,
            "items": items,
            "etag": manifest.etag,
            "issued_at": manifest.issued_at.isoformat(),
            "download_expires_at": expires_at.isoformat(),
        }
    )


@dataclass(frozen=True, slots=True)
class Downloads:
    """One tablet's download links as data, so a manifest composed later (a campaign's
    creatives added by the tablet's actor, actors/rules/targeting.py) is encoded as
    :func:`with_downloads` would: pre-signed URLs by SHA-256 (S3), else ``prefix`` + SHA-256
    + ``?`` + the tablet's signed ``query`` (the local store); file sizes by SHA-256."""

    expires_at: datetime
    sizes: Mapping[str, int]
    prefix: str = ""
    query: str = ""
    signed: Mapping[str, str] | None = None

    def url(self, sha256: str) -> str:
        if self.signed is not None:
            return self.signed[sha256]
        return f"{self.prefix}{sha256}?{self.query}"

    def encode(
        self, manifest: Manifest, more_sizes: Mapping[str, int] | None = None
    ) -> tuple[str, tuple[tuple[str, int], ...]]:
        """The manifest's JSON with these links, and its library files (SHA-256, bytes)."""
        sizes = {**self.sizes, **more_sizes} if more_sizes else self.sizes
        media = tuple((sha, sizes.get(sha, 0)) for sha in library_media(manifest))
        return with_downloads(manifest, self.url, sizes, self.expires_at), media
