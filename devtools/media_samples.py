"""Generated media for the demo, the tests and the benchmark: a few seconds of video encoded
with PyAV (H.264 in MP4, VP9 in WebM) and still images drawn with Pillow."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Literal

import av
from PIL import Image, ImageDraw

VideoFormat = Literal["mp4", "webm"]
CODECS = {"mp4": "libx264", "webm": "libvpx-vp9"}


def video(
    path: Path,
    *,
    seconds: float = 3.0,
    fps: int = 10,
    size: tuple[int, int] = (320, 180),
    colour: tuple[int, int, int] = (40, 90, 160),
    label: str = "fleethub",
    container: VideoFormat = "mp4",
) -> Path:
    """A video of a square crossing a coloured field, with ``label`` drawn on it."""
    width, height = size
    options = {"movflags": "+faststart"} if container == "mp4" else {}
    with av.open(str(path), "w", format=container, options=options) as out:
        stream = out.add_stream(CODECS[container], rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        frames = max(1, round(seconds * fps))
        for n in range(frames):
            img = Image.new("RGB", size, colour)
            draw = ImageDraw.Draw(img)
            x = int((width - height // 3) * n / max(1, frames - 1))
            draw.rectangle((x, height // 3, x + height // 3, 2 * height // 3), fill=(250, 250, 250))
            draw.text((8, 8), f"{label} {n / fps:4.1f}s", fill=(255, 255, 0))
            frame = av.VideoFrame.from_image(img)  # type: ignore[no-untyped-call]  # PyAV's stub
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def image(
    size: tuple[int, int] = (640, 360),
    colour: tuple[int, int, int] = (200, 60, 60),
    label: str = "fleethub",
    fmt: Literal["PNG", "JPEG", "WEBP", "GIF"] = "PNG",
) -> bytes:
    """A still image with ``label`` on it, encoded as ``fmt``."""
    img = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(img)
    draw.ellipse(
        (size[0] // 4, size[1] // 4, 3 * size[0] // 4, 3 * size[1] // 4), fill=(255, 255, 255)
    )
    draw.text((10, 10), label, fill=(0, 0, 0))
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()
