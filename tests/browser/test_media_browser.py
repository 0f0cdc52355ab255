"""The media library and the playlist editor in Chromium: files dropped on the library page
upload with progress, then a playlist is built from the library (picked with thumbnails,
durations filled in, reordered by dragging, the loop's length shown and previewed)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from playwright.async_api import Page

from devtools import media_samples
from tests.browser.conftest import default_tenant_user, screenshot, sign_in
from tests.web.conftest import Conn

pytestmark = pytest.mark.browser

DROP = """
async ([files]) => {
  const transfer = new DataTransfer();
  for (const [name, type, data] of files) {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], name, { type }));
  }
  const zone = document.getElementById("dropzone");
  zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true }));
  zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true }));
}
"""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_drop_files_then_build_a_playlist_from_the_library(
    page: Page, web_url: str, conn: Conn, tmp_path: Path
) -> None:
    admin = default_tenant_user(conn, "admin", [])
    tag = admin.split("@")[0]
    video = media_samples.video(tmp_path / "clip.mp4", seconds=2, label=tag).read_bytes()
    image = media_samples.image(label=tag, fmt="PNG")
    await sign_in(page, web_url, admin, "/library")

    files = [
        [f"{tag}-clip.mp4", "video/mp4", _b64(video)],
        [f"{tag}-poster.png", "image/png", _b64(image)],
    ]
    await page.fill("#upload-tags", tag)
    await page.evaluate(DROP, [files])
    # Each file gets its progress row; once both are in, the page reloads with their cards.
    await page.wait_for_selector(f".media-card:has-text('{tag}-clip.mp4')", timeout=20_000)
    await page.wait_for_selector(f".media-card:has-text('{tag}-poster.png')", timeout=20_000)
    for name in (f"{tag}-clip.mp4", f"{tag}-poster.png"):  # thumbnails load lazily: in view
        card = page.locator(f".media-card:has-text('{name}') img")
        await card.scroll_into_view_if_needed()
        await page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=await card.element_handle()
        )
    await screenshot(page, "media_library")

    # A junk file is refused with the reason shown next to it, and nothing is added.
    await page.evaluate(DROP, [[[f"{tag}-junk.mp4", "video/mp4", _b64(b"junk" * 100)]]])
    refused = page.locator(".uploads li.failed .status")
    await refused.wait_for(timeout=10_000)
    assert "not a readable video or image" in (await refused.inner_text())

    await page.goto(f"{web_url}/playlists/new")
    await page.fill("input[name=name]", f"From the library {tag}")
    await page.fill("#picker-search", f"{tag}-clip")
    await page.locator("#picker li:visible .pick-media").click()
    await page.fill("#picker-search", f"{tag}-poster")
    await page.locator("#picker li:visible .pick-media").click()
    rows = page.locator("#item-rows tr")
    assert await rows.nth(0).locator("input[name=duration_ms]").input_value() == "2000"
    assert await rows.nth(1).locator("input[name=duration_ms]").input_value() == "10000"
    assert await page.inner_text("#loop-total") == "Loop: 2 items, 0:12"

    # Drag the poster above the clip.
    await rows.nth(1).locator(".handle").drag_to(rows.nth(0).locator(".handle"))
    first_ad = await rows.nth(0).locator("input[name=ad_id]").input_value()
    poster_id = await rows.nth(0).locator("input[name=media_id]").input_value()
    assert first_ad == poster_id
    await page.click("#preview-loop")
    await page.wait_for_selector("#preview-stage img, #preview-stage video")
    await screenshot(page, "playlist_editor_library")

    await page.click("button:has-text('Create playlist')")
    await page.wait_for_url(f"{web_url}/playlists/pl-*")
    assert "Playlist created." in await page.inner_text("main")
    playlist_id = page.url.rsplit("/", 1)[1].split("?")[0]
    stored = conn.execute(
        "SELECT position, media_id, media_version, duration_ms FROM playlist_items"
        " WHERE playlist_id = %s ORDER BY position",
        (playlist_id,),
    ).fetchall()
    assert [(r[0], r[1], r[2], r[3]) for r in stored] == [
        (0, poster_id, 1, 10_000),
        (1, stored[1][1], 1, 2000),
    ]
    assert stored[1][1] != poster_id
