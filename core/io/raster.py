"""Raster images through Pillow: JPEG, PNG, TIFF, WebP, BMP and GIF in any mode and bit depth.

Multi-page TIFFs and animated GIFs are read like volumes: one frame at a time, chosen with ``SliceChoice.frame``.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.io.scan import (
    ScanSlice,
    SliceChoice,
    VolumeInfo,
    choose_index,
    to_unit_range,
    too_large,
    validate_dimensions,
    validate_pixels,
)

RASTER_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP", "BMP", "GIF")
"""Pillow formats we accept (JPEG includes MPO, phone JPEGs with extra pictures); others Pillow knows (TGA, ICO, ...)
would let random bytes pass as images."""


def is_raster(data: bytes) -> bool:
    """True when Pillow recognises one of ``RASTER_FORMATS`` in the bytes (only the header is parsed)."""
    try:
        _open(data)
    except UnidentifiedImageError:
        return False
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return True  # a raster image after all; read_raster refuses it with the size message
    return True


def describe_raster(data: bytes, name: str) -> VolumeInfo:
    """Frames and size of a raster image, from its header."""
    image = _open_checked(data, name)
    frames = _frame_count(image)
    return VolumeInfo(
        shape=(frames, image.height, image.width),
        axes=("frame", "row", "column"),
        frames=frames,
        default=SliceChoice(frame=frames // 2),
        source_format=image.format or "",
    )


def read_raster(data: bytes, name: str, choice: SliceChoice) -> ScanSlice:
    """Decode one frame (``choice.frame``, default the middle one) into a grayscale slice, upright per its EXIF."""
    image = _open_checked(data, name)
    frames = _frame_count(image)
    image.seek(choose_index(choice.frame, frames, frames // 2, "frame", name))
    validate_dimensions(image.width, image.height, name)  # TIFF pages may differ in size
    source_format = image.format or ""
    pixels = to_gray_unit(ImageOps.exif_transpose(image))
    validate_pixels(pixels, name)
    return ScanSlice(pixels=pixels, source_format=source_format)


def to_gray_unit(image: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to H x W float32 in [0, 1], keeping 16-bit and float precision."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        array = np.asarray(image, dtype=np.float32)
        if image.mode.startswith("I;16"):
            return array / 65535.0
        return to_unit_range(array)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent areas become black, like the background of a scan.
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, image)
    gray = image.convert("L")
    return np.asarray(gray, dtype=np.float32) / 255.0


def _open(data: bytes) -> Image.Image:
    """Parse the header only; Pillow's decompression-bomb warning is raised as an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data), formats=RASTER_FORMATS)


def _open_checked(data: bytes, name: str) -> Image.Image:
    try:
        image = _open(data)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_large(name) from None
    validate_dimensions(image.width, image.height, name)
    return image


def _frame_count(image: Image.Image) -> int:
    # An MPO's later pictures are previews or the second eye of a stereo pair, not slices.
    return 1 if image.format == "MPO" else getattr(image, "n_frames", 1)
