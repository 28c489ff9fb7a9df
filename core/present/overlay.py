"""Colour and blend results onto a slice for display, downloads and the PDF report.

Pure NumPy, SciPy and Pillow (matplotlib only for its colormap tables, without pyplot), so it is cheap to import and
runs without TensorFlow. Every function takes the slice as ``ScanSlice.pixels`` (H x W float in [0, 1]) and returns an
H x W x 3 uint8 RGB image.
"""

from __future__ import annotations

import functools
import io

import matplotlib
import numpy as np
from PIL import Image
from scipy import ndimage

MASK_COLOR = (230, 40, 40)
"""Default mask colour: a red that stays visible on grey anatomy."""
OUTLINE_WIDTH_PX = 2
"""Outline width in pixels; from 768 px on the shorter side it grows to one pixel per 256, so the line stays visible
when a large image is shown scaled down."""
GAP_FILL = 255
"""Grey level of the gap between images in :func:`side_by_side` (white, like the report page)."""


def to_rgb(pixels: np.ndarray) -> np.ndarray:
    """H x W float in [0, 1] -> H x W x 3 uint8 grey image (values outside [0, 1] are clipped)."""
    grey = np.round(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def overlay_mask(
    pixels: np.ndarray,
    mask: np.ndarray | None,
    opacity: float = 0.4,
    style: str = "fill",
    color: tuple[int, int, int] = MASK_COLOR,
) -> np.ndarray:
    """Draw a mask on the slice in ``color``.

    Args:
        pixels: H x W float slice in [0, 1].
        mask: H x W mask, nonzero inside; None or all zero gives the plain grey image.
        opacity: weight of ``color`` where it is drawn (0 leaves the image unchanged, 1 paints it solid).
        style: "fill" tints the whole region; "outline" draws only its border, leaving the anatomy inside visible.
        color: RGB colour of the mask.

    Returns:
        H x W x 3 uint8 RGB image.

    Raises:
        ValueError: unknown ``style``, or ``mask`` and ``pixels`` differ in shape.
    """
    if style not in ("fill", "outline"):
        raise ValueError(f"Unknown mask style {style!r}; choose 'fill' or 'outline'.")
    image = to_rgb(pixels)
    if mask is None or not np.any(mask):
        return image
    if mask.shape != pixels.shape:
        raise ValueError(f"The mask is {mask.shape[1]}x{mask.shape[0]} pixels but the slice is "
                         f"{pixels.shape[1]}x{pixels.shape[0]}; they must match.")
    region = mask > 0
    if style == "outline":
        region = region & ~ndimage.binary_erosion(region, iterations=_outline_width(pixels.shape))
    return _blend(image, np.asarray(color, dtype=np.float32), opacity, where=region)


def overlay_heatmap(
    pixels: np.ndarray, heatmap: np.ndarray, opacity: float = 0.45, colormap: str = "inferno"
) -> np.ndarray:
    """Colour an H x W heatmap in [0, 1] with a matplotlib colormap and blend it over the whole slice.

    Args:
        pixels: H x W float slice in [0, 1].
        heatmap: H x W float in [0, 1], e.g. from :func:`core.models.gradcam.gradcam_heatmap`.
        opacity: weight of the colours (0 leaves the grey image unchanged).
        colormap: any name in ``matplotlib.colormaps``.

    Returns:
        H x W x 3 uint8 RGB image.

    Raises:
        ValueError: ``heatmap`` and ``pixels`` differ in shape.
        KeyError: matplotlib has no colormap called ``colormap``.
    """
    if heatmap.shape != pixels.shape:
        raise ValueError(f"The heatmap is {heatmap.shape[1]}x{heatmap.shape[0]} pixels but the slice is "
                         f"{pixels.shape[1]}x{pixels.shape[0]}; they must match.")
    levels = np.round(np.clip(heatmap, 0.0, 1.0) * 255.0).astype(np.uint8)
    colours = _colormap_table(colormap)[levels].astype(np.float32)
    return _blend(to_rgb(pixels), colours, opacity)


def side_by_side(images: list[np.ndarray], gap: int = 8) -> np.ndarray:
    """Join H x W x 3 uint8 images left to right, ``gap`` white pixels apart, padding shorter ones at the bottom.

    Raises:
        ValueError: ``images`` is empty.
    """
    if not images:
        raise ValueError("side_by_side needs at least one image.")
    height = max(image.shape[0] for image in images)
    columns = []
    for index, image in enumerate(images):
        if index:
            columns.append(np.full((height, gap, 3), GAP_FILL, dtype=np.uint8))
        padding = ((0, height - image.shape[0]), (0, 0), (0, 0))
        columns.append(np.pad(image, padding, constant_values=GAP_FILL))
    return np.concatenate(columns, axis=1)


def png_bytes(image: np.ndarray) -> bytes:
    """Encode an H x W x 3 (or H x W) uint8 image as PNG in memory, for downloads and the PDF report."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _blend(image: np.ndarray, colour: np.ndarray, opacity: float, where: np.ndarray | None = None) -> np.ndarray:
    """``(1 - opacity) * image + opacity * colour``, only at ``where`` when given; uint8 in, uint8 out."""
    mixed = np.round((1.0 - opacity) * image + opacity * colour).clip(0, 255).astype(np.uint8)
    if where is None:
        return mixed
    out = image.copy()
    out[where] = mixed[where]
    return out


def _outline_width(shape: tuple[int, int]) -> int:
    return max(OUTLINE_WIDTH_PX, min(shape) // 256)


@functools.cache
def _colormap_table(name: str) -> np.ndarray:
    """256 x 3 uint8 RGB lookup table of a matplotlib colormap, computed once per name."""
    return np.round(matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3] * 255.0).astype(np.uint8)
