"""A tenant's media library as the panel reads and changes it.

Admins see every media item of their tenant; an advertiser only those tagged with one of
their campaigns (anything else is missing: 404). Changes are written with their audit row
in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from contract.media import LibraryItem
from contract.payloads import PlaylistItem
from store import media as media_store
from store.audit import record
from store.media import Media, MediaVersion, Storage, Use
from store.users import User
from web.media.uploads import user_campaigns
from web.playlists import library as playlists

UNTAGGED_CAMPAIGN = "library"  # the campaign of a library item whose media has none


def thumbnail_url(sha256: str) -> str:
    return f"/library/thumbnails/{sha256}.jpg"


def file_url(sha256: str) -> str:
    """The file itself for the signed-in panel user (previews)."""
    return f"/library/files/{sha256}"


def download_url(origin: str, sha256: str) -> str:
    """The media's canonical address as manifests name it (``url``); tablets fetch the
    signed ``download_url`` next to it."""
    return f"{origin}/media/{sha256}"


def library_item(
    media: Media,
    origin: str,
    *,
    ad_id: str | None = None,
    campaign_id: str | None = None,
    duration_ms: int | None = None,
    position: int | None = None,
) -> LibraryItem:
    """A playlist item playing the media's current version."""
    return LibraryItem(
        ad_id=ad_id or media.media_id,
        campaign_id=campaign_id or media.campaign_id or UNTAGGED_CAMPAIGN,
        url=download_url(origin, media.sha256),
        sha256=media.sha256,
        duration_ms=duration_ms or media.play_ms,
        position=position,
        media_id=media.media_id,
        media_version=media.version,
    )


async def listing(pool: AsyncConnectionPool, user: User, search: str | None = None) -> list[Media]:
    campaigns = await user_campaigns(pool, user)
    async with pool.connection() as conn:
        return await media_store.listing(
            conn, user.tenant_id, campaigns=campaigns, search=search or None
        )


async def one(pool: AsyncConnectionPool, user: User, media_id: str) -> Media | None:
    campaigns = await user_campaigns(pool, user)
    async with pool.connection() as conn:
        return await media_store.one(conn, user.tenant_id, media_id, campaigns)


async def history(
    pool: AsyncConnectionPool, user: User, media_id: str
) -> tuple[list[MediaVersion], list[Use]]:
    """The media's versions, newest first, and the playlists holding any of them."""
    async with pool.connection() as conn:
        return (
            await media_store.versions(conn, user.tenant_id, media_id),
            await media_store.uses(conn, user.tenant_id, media_id),
        )


async def storage(pool: AsyncConnectionPool, user: User) -> Storage:
    async with pool.connection() as conn:
        return await media_store.storage(conn, user.tenant_id)


async def edit(
    pool: AsyncConnectionPool,
    user: User,
    media: Media,
    name: str,
    tags: list[str],
    image_duration_ms: int,
) -> Media:
    async with pool.connection() as conn, conn.transaction():
        await media_store.update_details(
            conn, user.tenant_id, media.media_id, name, tags, image_duration_ms
        )
        details = {"name": name, "tags": tags, "image_duration_ms": image_duration_ms}
        await record(
            conn, user.tenant_id, user.email, "media.edit", f"media:{media.media_id}", details
        )
        edited = await media_store.one(conn, user.tenant_id, media.media_id)
    assert edited is not None
    return edited


@dataclass(frozen=True, slots=True)
class Moved:
    """A playlist saved anew with the media's new version."""

    name: str
    from_playlist_id: str
    to_playlist_id: str
    assignments_moved: int


def _repinned(items: list[PlaylistItem], media: Media, origin: str) -> list[PlaylistItem] | None:
    """The items with every earlier version of the media replaced by its current one; None
    when none held an earlier version."""
    changed = False
    out: list[PlaylistItem] = []
    for item in items:
        stale = isinstance(item, LibraryItem) and item.media_id == media.media_id
        if stale and isinstance(item, LibraryItem) and item.media_version != media.version:
            changed = True
            duration = media.play_ms if media.kind == "video" else item.duration_ms
            item = item.model_copy(
                update={
                    "media_version": media.version,
                    "sha256": media.sha256,
                    "url": download_url(origin, media.sha256),
                    "duration_ms": duration,
                }
            )
        out.append(item)
    return out if changed else None


async def update_playlists(
    pool: AsyncConnectionPool, user: User, media: Media, origin: str
) -> list[Moved]:
    """Save each playlist holding an earlier version of the media anew with its current
    one, and move the old playlist's live assignments to it (the hub publishes the
    changed manifests)."""
    moved: list[Moved] = []
    async with pool.connection() as conn:
        uses = await media_store.uses(conn, user.tenant_id, media.media_id)
    for playlist_id in dict.fromkeys(
        u.playlist_id for u in uses if u.media_version != media.version
    ):
        found = await playlists.playlist(pool, user, playlist_id)
        if found is None:
            continue  # not in the library (only assigned or pushed)
        items = _repinned(found.items, media, origin)
        if items is None:
            continue
        edited = await playlists.edit(pool, user, playlist_id, found.summary.name, items, True)
        if edited is not None and edited.playlist_id != playlist_id:
            moved.append(
                Moved(found.summary.name, playlist_id, edited.playlist_id, len(edited.replaced))
            )
    return moved


async def pin_items(
    pool: AsyncConnectionPool, user: User, items: list[PlaylistItem], origin: str
) -> tuple[list[PlaylistItem], list[str]]:
    """The items with each library item's file and address as the library holds them (a
    form cannot change which file a media version is), and a message per row whose media
    version is not in the user's library."""
    wanted = [(i.media_id, i.media_version) for i in items if isinstance(i, LibraryItem)]
    if not wanted:
        return items, []
    async with pool.connection() as conn:
        files = await media_store.version_files(conn, user.tenant_id, wanted)
    out: list[PlaylistItem] = []
    errors: list[str] = []
    for n, item in enumerate(items, start=1):
        if isinstance(item, LibraryItem):
            sha = files.get((item.media_id, item.media_version))
            if sha is None:
                errors.append(
                    f"Row {n}: {item.media_id} v{item.media_version} is not in your library."
                )
                continue
            item = item.model_copy(update={"sha256": sha, "url": download_url(origin, sha)})
        out.append(item)
    return out, errors
