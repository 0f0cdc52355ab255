"""What an uploaded file is, read from its content (never its name): PyAV for video, Pillow
for images. Blocking (run it in a thread).

Accepted: MP4 with H.264 video, WebM with VP8/VP9/AV1 video, JPEG, PNG and WebP. A file of
another type, one the decoders cannot read, or one that ends early (truncated: fewer
packets than its header promises, or its last packet well before its stated duration) is
refused with :class:`MediaRefused` and a message for the person who sent it.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import av.error
from PIL import Image, UnidentifiedImageError

from config.errors import HubError

Kind = Literal["video", "image"]
THUMBNAIL = (320, 180)
MAX_PIXELS = 80_000_000  # an image larger than this is refused (a decompression bomb)
MAX_VIDEO_SIDE = 8192
IMAGE_TYPES = {
    "JPEG": ("image/jpeg", "jpeg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
WEBM_CODECS = ("vp8", "vp9", "av1")
SUPPORTED = "MP4 (H.264), WebM (VP8/VP9/AV1), JPEG, PNG or WebP"
# A video whose last packet ends this much (or two frames) before its stated duration was cut.
END_SLACK_S = 0.25


class MediaRefused(HubError):
    """An upload that cannot be used; the message says why, for the person who sent it."""


@dataclass(frozen=True, slots=True)
class Probed:
    kind: Kind
    content_type: str
    codec: str
    width: int
    height: int
    duration_ms: int | None  # video only
    thumbnail: bytes  # JPEG, at most THUMBNAIL


def probe(path: Path) -> Probed:
    """Read the file's type, dimensions, codec, duration and a thumbnail."""
    image = _open_image(path)
    if image is not None:
        return _image(image)
    return _video(path)


def _open_image(path: Path) -> Image.Image | None:
    """The file as an image, or None when Pillow does not know it as one."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except UnidentifiedImageError:
        return None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaRefused("the image is too large (too many pixels)") from None
    except OSError as exc:
        raise MediaRefused(f"the image cannot be read: {exc}") from None


def _image(image: Image.Image) -> Probed:
    with image:
        kind = IMAGE_TYPES.get(image.format or "")
        if kind is None:
            raise MediaRefused(f"{image.format} images are not supported: upload {SUPPORTED}")
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise MediaRefused(f"the image is too large ({width}×{height} pixels)")
        try:
            image.load()  # every pixel: a truncated or corrupt file fails here
        except (OSError, SyntaxError, ValueError) as exc:
            raise MediaRefused(f"the image is corrupt or truncated: {exc}") from None
        return Probed("image", kind[0], kind[1], width, height, None, _thumbnail(image))


def _thumbnail(image: Image.Image) -> bytes:
    small = image.convert("RGB")
    small.thumbnail(THUMBNAIL)
    out = io.BytesIO()
    small.save(out, "JPEG", quality=80)
    return out.getvalue()


def _video(path: Path) -> Probed:
    try:
        with av.open(str(path)) as container:
            return _read_video(container, path.stat().st_size)
    except av.error.FFmpegError as exc:
        raise MediaRefused(
            f"the file is not a readable video or image ({exc.strerror}): upload {SUPPORTED}"
        ) from None


def _read_video(container: av.container.InputContainer, size: int) -> Probed:
    formats = set(container.format.name.split(","))
    if not container.streams.video:
        raise MediaRefused(f"the file holds no video: upload {SUPPORTED}")
    stream = container.streams.video[0]
    codec = stream.codec_context.name
    if "mp4" in formats:
        if codec != "h264":
            raise MediaRefused(f"MP4 video must be H.264, this one is {codec}")
        content_type = "video/mp4"
    elif "webm" in formats:
        if codec not in WEBM_CODECS:
            raise MediaRefused(f"WebM video must be VP8, VP9 or AV1, this one is {codec}")
        content_type = "video/webm"
    else:
        raise MediaRefused(f"{container.format.long_name} files are not supported: {SUPPORTED}")
    width, height = stream.codec_context.width, stream.codec_context.height
    if not (0 < width <= MAX_VIDEO_SIDE and 0 < height <= MAX_VIDEO_SIDE):
        raise MediaRefused(f"the video's size {width}×{height} is not supported")
    duration_s = container.duration / av.time_base if container.duration else None
    if not duration_s or duration_s <= 0:
        raise MediaRefused("the video states no duration")
    _check_complete(container, stream, size, duration_s)
    container.seek(0)
    thumbnail = _first_frame(container)
    return Probed("video", content_type, codec, width, height, round(duration_s * 1000), thumbnail)


def _check_complete(
    container: av.container.InputContainer, stream: av.VideoStream, size: int, duration_s: float
) -> None:
    """Demux every packet (no decoding): a truncated file ends early."""
    packets = 0
    end = Fraction(0)
    for packet in container.demux(stream):
        if packet.size == 0:
            continue  # the demuxer's flush packet
        packets += 1
        if packet.pos is not None and packet.pos + packet.size > size:
            raise MediaRefused("the video is truncated (its data ends early)")
        if packet.pts is not None and packet.time_base is not None:
            end = max(end, (packet.pts + (packet.duration or 0)) * packet.time_base)
    if packets == 0:
        raise MediaRefused("the video holds no frames")
    if stream.frames and packets < stream.frames:
        raise MediaRefused(f"the video is truncated ({packets} of {stream.frames} frames)")
    rate = stream.average_rate or stream.guessed_rate
    slack = max(END_SLACK_S, 2 / float(rate)) if rate else END_SLACK_S
    if float(end) < duration_s - slack:
        raise MediaRefused(
            f"the video is truncated (it ends at {float(end):.1f} s of {duration_s:.1f} s)"
        )


def _first_frame(container: av.container.InputContainer) -> bytes:
    try:
        frame = next(container.decode(video=0))
    except StopIteration:
        raise MediaRefused("the video's first frame cannot be decoded") from None
    return _thumbnail(frame.to_image())  # type: ignore[no-untyped-call]  # PyAV's stub
