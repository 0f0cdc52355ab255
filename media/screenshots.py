"""Screenshots from tablets: what the upload must be, and where it is kept.

A screenshot is a PNG or JPEG of at most :data:`MAX_BYTES` and :data:`MAX_PIXELS`, read whole
by Pillow (a truncated or corrupt one is refused); it is kept in the media blob store under
its SHA-256 (:func:`screenshot_key`), beside the library's files but not in any library.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from media.probe import MediaRefused

MAX_BYTES = 4 * 1024 * 1024
MAX_PIXELS = 16_000_000
TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}


@dataclass(frozen=True, slots=True)
class Picture:
    content_type: str
    width: int
    height: int


def screenshot_key(sha256: str) -> str:
    return f"screenshots/{sha256[:2]}/{sha256}"


def check_picture(data: bytes) -> Picture:
    """The upload's type and size in pixels; :class:`MediaRefused` saying why it is not one."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise MediaRefused("not an image: send a PNG or JPEG") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, OSError):
        raise MediaRefused("the image cannot be read") from None
    with image:
        content_type = TYPES.get(image.format or "")
        if content_type is None:
            raise MediaRefused(f"{image.format} images are not taken: send a PNG or JPEG")
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise MediaRefused(f"the image is too large ({width}×{height} pixels)")
        try:
            image.load()
        except (OSError, SyntaxError, ValueError):
            raise MediaRefused("the image is corrupt or truncated") from None
    return Picture(content_type, width, height)
