"""Decode uploaded bytes into one grayscale slice, validating on the way in.

Every reader returns a :class:`ScanSlice` whose ``pixels`` are float32 in [0, 1] (H x W), so code after this
module can assume a valid 2D image.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import InputError

ACCEPTED = "a JPG, PNG, TIFF, WebP or BMP slice of a brain MRI"
MAX_PIXELS = 40_000_000
"""Largest accepted image (width x height); larger files are refused before their pixels are decoded."""
MIN_SIDE = 32
"""Smallest accepted width or height in pixels; smaller images carry too little anatomy to classify."""


@dataclass(frozen=True)
class ScanSlice:
    """One decoded 2D slice.

    Attributes:
        pixels: H x W float32 in [0, 1].
        pixel_spacing_mm: (row, column) spacing when the file states it, else None.
        mask: H x W uint8 ground-truth mask in {0, 1} when the file carries one, else None.
        source_format: short name of the decoded format, e.g. "JPEG".
    """

    pixels: np.ndarray
    pixel_spacing_mm: tuple[float, float] | None = None
    mask: np.ndarray | None = None
    source_format: str = ""


def read_image(data: bytes, filename: str = "") -> ScanSlice:
    """Decode raster image bytes (any mode and bit depth Pillow reads) into a grayscale slice.

    The format is detected from the bytes, never from ``filename`` (five Kaggle ``.jpg`` files are PNGs).

    Raises:
        InputError: empty, undecodable, truncated, too large, too small, multi-frame or constant images.
    """
    name = filename or "The file"
    if not data:
        raise InputError(f"{name} is empty; please upload {ACCEPTED}.")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise InputError(f"{name} is not an image this app can read; please upload {ACCEPTED}.") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_large(name) from None
    validate_dimensions(image.width, image.height, name)
    if getattr(image, "n_frames", 1) > 1:
        raise InputError(f"{name} holds {image.n_frames} frames; please upload a single 2D slice.")
    try:
        image = ImageOps.exif_transpose(image)
        pixels = _to_gray_unit(image)
    except (OSError, SyntaxError, ValueError) as err:
        raise InputError(f"{name} is truncated or corrupt ({err}); please upload {ACCEPTED}.") from None
    validate_pixels(pixels, name)
    return ScanSlice(pixels=pixels, source_format=image.format or "")


def validate_dimensions(width: int, height: int, name: str) -> None:
    """Refuse images too large to decode safely or too small to analyse, before touching their pixels."""
    if width * height > MAX_PIXELS:
        raise _too_large(name)
    if min(width, height) < MIN_SIDE:
        raise InputError(
            f"{name} is only {width}x{height} pixels; please upload a slice at least {MIN_SIDE} pixels on each side."
        )


def validate_pixels(pixels: np.ndarray, name: str) -> None:
    """Refuse images without usable content (non-finite or constant values)."""
    if not np.all(np.isfinite(pixels)):
        raise InputError(f"{name} contains NaN or infinite pixel values; please upload a valid MRI slice.")
    if float(pixels.max()) - float(pixels.min()) < 1e-6:
        raise InputError(f"{name} is a constant image with no anatomy in it; please upload a brain MRI slice.")


def to_unit_range(array: np.ndarray) -> np.ndarray:
    """Scale any numeric array linearly to float32 [0, 1] by its own min and max (a constant array gives zeros)."""
    array = array.astype(np.float32)
    low, high = float(np.min(array)), float(np.max(array))
    if not np.isfinite(low) or not np.isfinite(high) or high - low < 1e-12:
        return array - low if np.isfinite(low) else array
    return (array - low) / (high - low)


def _to_gray_unit(image: Image.Image) -> np.ndarray:
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


def _too_large(name: str) -> InputError:
    return InputError(
        f"{name} is too large to analyse safely; please upload a slice of at most {MAX_PIXELS // 1_000_000} megapixels."
    )
