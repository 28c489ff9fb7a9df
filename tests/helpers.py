"""Shared generators for tests: brain-like slices and their encoded bytes (tiny models: conftest ``tiny_weights``)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

CLASS_NAMES = ["glioma", "meningioma", "notumor", "pituitary"]


def brain_slice(height: int = 72, width: int = 96, seed: int = 0) -> np.ndarray:
    """H x W float32 in [0, 1]: black background, a textured bright ellipse (the head) and a brighter blob.

    Every image of a given seed differs from other seeds, so encoded files are never byte-identical by chance.
    """
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width]
    head = ((rows - height / 2) / (0.4 * height)) ** 2 + ((cols - width / 2) / (0.4 * width)) ** 2 <= 1.0
    pixels = np.where(head, 0.45 + 0.1 * rng.standard_normal((height, width)), 0.0)
    blob = (rows - 0.4 * height) ** 2 + (cols - 0.6 * width) ** 2 <= (0.1 * min(height, width)) ** 2
    pixels[blob] = 0.95
    return np.clip(pixels, 0.0, 1.0).astype(np.float32)


def encode(pixels: np.ndarray, fmt: str = "PNG", mode: str = "L") -> bytes:
    """``pixels`` (H x W in [0, 1]) as an 8-bit grayscale image converted to ``mode`` and saved as ``fmt``."""
    image = Image.fromarray((pixels * 255).round().astype(np.uint8), mode="L").convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def write_image(path: Path, pixels: np.ndarray, fmt: str = "JPEG") -> Path:
    """Write ``pixels`` to ``path`` (parents created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode(pixels, fmt))
    return path



def random_slice_arrays(count: int, seed: int, size: int = 32):
    """``count`` random model inputs with random labels and masks (about 70 % of them known), for tiny trainings."""
    from training.tumour_data import SliceArrays

    rng = np.random.default_rng(seed)
    return SliceArrays(x=rng.random((count, size, size, 1)).astype(np.float16),
                       labels=rng.integers(0, 4, count).astype(np.int32),
                       masks=(rng.random((count, size, size, 1)) > 0.7).astype(np.uint8),
                       mask_known=rng.random(count) > 0.3, slices=[])
