"""Contracts of core.models.preprocess on decoded images of every valid mode and bit depth (bad inputs: test_io.py)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from helpers import brain_slice, encode
from PIL import Image

from core.io.read import read_image
from core.models.preprocess import InputSpec, find_brain_box, preprocess_slice, resize

HEIGHT, WIDTH = 72, 96


def _save(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def image_bytes(kind: str) -> bytes:
    """The same brain-like slice stored as ``kind`` ("<mode> <format>")."""
    pixels = brain_slice(HEIGHT, WIDTH)
    mode, fmt = kind.split()
    if mode == "I;16":
        return _save(Image.fromarray((pixels * 65535).round().astype(np.uint16)), fmt)
    if mode == "F":
        return _save(Image.fromarray(pixels * 3000.0 - 500.0), fmt)  # float units, as some scanners export
    return encode(pixels, fmt, mode)


KINDS = ["L PNG", "L JPEG", "RGB PNG", "RGBA PNG", "P PNG", "CMYK JPEG", "LA PNG", "1 PNG", "I;16 PNG",
         "I;16 TIFF", "F TIFF"]


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.mark.parametrize("kind", KINDS)
def test_read_image_gives_height_by_width_float32_in_unit_range(kind: str) -> None:
    pixels = read_image(image_bytes(kind), f"scan ({kind})").pixels
    assert pixels.shape == (HEIGHT, WIDTH)
    assert pixels.dtype == np.float32
    assert 0.0 <= pixels.min() and pixels.max() <= 1.0
    # The content survives the mode conversion (1-bit images are dithered, so only roughly).
    assert correlation(pixels, brain_slice(HEIGHT, WIDTH)) > (0.5 if kind.startswith("1 ") else 0.95)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("spec", [InputSpec(size=32), InputSpec(size=40, channels=3, crop=True)], ids=["plain", "crop"])
def test_preprocess_slice_gives_square_float32_in_unit_range(kind: str, spec: InputSpec) -> None:
    x = preprocess_slice(read_image(image_bytes(kind)).pixels, spec)
    assert x.shape == (spec.size, spec.size, spec.channels)
    assert x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert x.max() > 0.5  # normalisation stretches the content, it does not flatten it


def test_exif_orientation_6_swaps_width_and_height() -> None:
    image = Image.fromarray((brain_slice(HEIGHT, WIDTH) * 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes())
    pixels = read_image(buffer.getvalue(), "phone.jpg").pixels
    assert pixels.shape == (WIDTH, HEIGHT)
    # Orientation 6 means the stored picture must turn 90 degrees clockwise to stand upright.
    assert correlation(pixels, np.rot90(brain_slice(HEIGHT, WIDTH), k=-1)) > 0.95


def test_png_named_jpg_is_read_by_its_content() -> None:
    scan = read_image(encode(brain_slice(HEIGHT, WIDTH), "PNG"), "mislabelled.jpg")
    assert scan.source_format == "PNG"
    assert scan.pixels.shape == (HEIGHT, WIDTH)


def disk(height: int, width: int, centre: tuple[int, int], radius: int) -> np.ndarray:
    rows, cols = np.ogrid[:height, :width]
    return (((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) <= radius**2).astype(np.float32)


def test_find_brain_box_encloses_a_bright_disk_on_black_with_the_margin() -> None:
    height, width, (cy, cx), radius = 120, 140, (50, 60), 20
    pixels = disk(height, width, (cy, cx), radius)
    top, left, bottom, right = find_brain_box(pixels, margin=0.0)
    # Smoothing before thresholding may widen the region by a couple of pixels, never shrink it.
    assert cy - radius - 3 <= top <= cy - radius and cy + radius + 1 <= bottom <= cy + radius + 4
    assert cx - radius - 3 <= left <= cx - radius and cx + radius + 1 <= right <= cx + radius + 4
    margin = 0.1
    wide = find_brain_box(pixels, margin=margin)
    pad_r, pad_c = int(margin * height), int(margin * width)
    assert wide == (top - pad_r, left - pad_c, bottom + pad_r, right + pad_c)


def test_find_brain_box_margin_is_clipped_to_the_image() -> None:
    pixels = disk(64, 64, (10, 10), 20)
    top, left, bottom, right = find_brain_box(pixels, margin=0.2)
    assert (top, left) == (0, 0) and bottom <= 64 and right <= 64


@pytest.mark.parametrize("case", ["black", "speck"])
def test_find_brain_box_falls_back_to_the_whole_image_for_a_blank_image(case: str) -> None:
    pixels = np.zeros((80, 100), dtype=np.float32)
    if case == "speck":
        pixels[40:43, 50:53] = 1.0
    assert find_brain_box(pixels) == (0, 0, 80, 100)


def test_crop_makes_a_small_head_fill_the_model_input() -> None:
    pixels = 0.8 * disk(200, 200, (60, 140), 30)
    full = preprocess_slice(pixels, InputSpec(size=64))
    cropped = preprocess_slice(pixels, InputSpec(size=64, crop=True))
    assert (cropped > 0.5).mean() > 3 * (full > 0.5).mean()


@pytest.mark.parametrize("size", [32, (60, 20)])
def test_resize_nearest_keeps_mask_labels(size: int | tuple[int, int]) -> None:
    mask = (np.random.default_rng(0).random((37, 53)) > 0.7).astype(np.float32)
    resized = resize(mask, size, nearest=True)
    assert resized.shape == ((size, size) if isinstance(size, int) else size)
    assert set(np.unique(resized)) == {0.0, 1.0}
    # Bilinear resizing, by contrast, invents in-between values; that is why masks must not use it.
    assert len(np.unique(resize(mask, size))) > 2


def test_the_cards_value_range_and_normalisation_are_honoured() -> None:
    pixels = brain_slice(96, 80)
    unit = preprocess_slice(pixels, InputSpec(size=64))
    signed = preprocess_slice(pixels, InputSpec(size=64, value_range=(-1.0, 1.0)))
    np.testing.assert_allclose(signed, 2 * unit - 1, atol=1e-6)
    assert signed.dtype == np.float32 and signed.min() == -1.0 and signed.max() == 1.0
    with pytest.raises(ValueError, match="normalisation 'z-score'"):
        InputSpec.from_dict({"size": 64, "normalisation": "z-score"})
