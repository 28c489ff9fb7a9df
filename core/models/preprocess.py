"""The single path from a decoded slice to model input, shared by training and the app.

Training's data cache and the app's inference both call :func:`preprocess_slice` with the ``input`` spec stored in
the model's JSON card, so a model always sees pixels prepared exactly as in training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

CROP_MARGIN = 0.04
"""Margin around the brain's bounding box, as a fraction of the image side."""


@dataclass(frozen=True)
class InputSpec:
    """How a model expects its input; stored under ``input`` in the model's JSON card."""

    size: int = 128
    channels: int = 1
    crop: bool = False
    value_range: tuple[float, float] = (0.0, 1.0)
    normalisation: str = "percentile-0.5-99.5"

    def __post_init__(self) -> None:
        if self.normalisation not in NORMALISATIONS:
            raise ValueError(f"The card asks for the input normalisation {self.normalisation!r}; this app knows "
                             f"{', '.join(NORMALISATIONS)}.")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> InputSpec:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "value_range" in fields:
            fields["value_range"] = tuple(fields["value_range"])
        return cls(**fields)


Box = tuple[int, int, int, int]
"""(top, left, bottom, right) pixel box, bottom/right exclusive."""


def find_head_mask(pixels: np.ndarray) -> np.ndarray:
    """H x W bool mask of the largest bright connected region (the head), holes filled; all False if none.

    Thresholds a smoothed copy at a tenth of its robust maximum, so dark background and noise fall outside.
    """
    smooth = ndimage.uniform_filter(pixels.astype(np.float32), size=5)
    labels, count = ndimage.label(smooth > 0.1 * float(np.percentile(smooth, 99.5)))
    if count == 0:
        return np.zeros(pixels.shape, dtype=bool)
    sizes = ndimage.sum_labels(np.ones_like(labels), labels, index=np.arange(1, count + 1))
    return ndimage.binary_fill_holes(labels == int(np.argmax(sizes)) + 1)


def find_brain_box(pixels: np.ndarray, margin: float = CROP_MARGIN) -> Box:
    """Bounding box of :func:`find_head_mask`, widened by ``margin``.

    Falls back to the whole image when the region is implausibly small, so the crop never removes the anatomy.
    """
    height, width = pixels.shape
    rows, cols = np.nonzero(find_head_mask(pixels))
    if rows.size == 0:
        return 0, 0, height, width
    pad_r, pad_c = int(margin * height), int(margin * width)
    top, bottom = max(int(rows.min()) - pad_r, 0), min(int(rows.max()) + 1 + pad_r, height)
    left, right = max(int(cols.min()) - pad_c, 0), min(int(cols.max()) + 1 + pad_c, width)
    if (bottom - top) < 0.2 * height or (right - left) < 0.2 * width:
        return 0, 0, height, width
    return top, left, bottom, right


def resize(pixels: np.ndarray, size: int | tuple[int, int], nearest: bool = False) -> np.ndarray:
    """Resize an H x W float array to ``size`` (int for a square, or (height, width)).

    Bilinear with antialiasing for images; ``nearest=True`` for masks so labels stay integers.
    """
    height, width = (size, size) if isinstance(size, int) else size
    image = Image.fromarray(pixels.astype(np.float32), mode="F")
    method = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
    return np.asarray(image.resize((width, height), method), dtype=np.float32)


def normalise_intensity(pixels: np.ndarray) -> np.ndarray:
    """Map the 0.5th..99.5th percentile to [0, 1] and clip: robust to scanner gain and a few hot pixels."""
    low, high = np.percentile(pixels, [0.5, 99.5])
    if high - low < 1e-6:
        low, high = float(pixels.min()), float(pixels.max())
    if high - low < 1e-6:
        return np.zeros_like(pixels, dtype=np.float32)
    return np.clip((pixels - low) / (high - low), 0.0, 1.0).astype(np.float32)


NORMALISATIONS = {"percentile-0.5-99.5": normalise_intensity}
"""The card's ``input.normalisation`` -> the function mapping a resized slice to [0, 1]."""


def preprocess_slice(pixels: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Turn an H x W float slice into model input: size x size x channels float32, normalised as the card's
    ``normalisation`` says and scaled to its ``value_range``."""
    if spec.crop:
        top, left, bottom, right = find_brain_box(pixels)
        pixels = pixels[top:bottom, left:right]
    low, high = spec.value_range
    image = (low + (high - low) * NORMALISATIONS[spec.normalisation](resize(pixels, spec.size))).astype(np.float32)
    return np.repeat(image[..., None], spec.channels, axis=-1)
