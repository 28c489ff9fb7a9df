"""Contracts of core.present.overlay: shapes, dtypes, and what each blend may and may not touch."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from core.present.overlay import overlay_heatmap, overlay_mask, png_bytes, side_by_side, to_rgb


@pytest.fixture
def pixels() -> np.ndarray:
    return np.random.default_rng(0).random((40, 60), dtype=np.float32)


@pytest.fixture
def mask() -> np.ndarray:
    mask = np.zeros((40, 60), np.uint8)
    mask[10:30, 15:45] = 1
    return mask


def test_to_rgb_gives_grey_uint8_with_three_equal_channels(pixels):
    image = to_rgb(pixels)
    assert image.shape == (40, 60, 3) and image.dtype == np.uint8
    assert (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all()
    assert to_rgb(np.array([[0.0, 1.0]]))[0, :, 0].tolist() == [0, 255]


@pytest.mark.parametrize("style", ["fill", "outline"])
def test_mask_overlay_is_rgb_uint8_at_image_size(pixels, mask, style):
    image = overlay_mask(pixels, mask, style=style)
    assert image.shape == (40, 60, 3) and image.dtype == np.uint8


@pytest.mark.parametrize("style", ["fill", "outline"])
def test_mask_overlay_with_opacity_zero_is_the_grey_image(pixels, mask, style):
    np.testing.assert_array_equal(overlay_mask(pixels, mask, opacity=0.0, style=style), to_rgb(pixels))


@pytest.mark.parametrize("empty", [None, np.zeros((40, 60), np.uint8)])
def test_missing_or_empty_mask_gives_the_plain_image(pixels, empty):
    np.testing.assert_array_equal(overlay_mask(pixels, empty), to_rgb(pixels))


def test_fill_changes_exactly_the_mask_area(pixels, mask):
    changed = (overlay_mask(pixels, mask, opacity=1.0) != to_rgb(pixels)).any(axis=-1)
    np.testing.assert_array_equal(changed, mask.astype(bool))


def test_outline_touches_only_the_mask_border(pixels, mask):
    changed = (overlay_mask(pixels, mask, opacity=1.0, style="outline") != to_rgb(pixels)).any(axis=-1)
    interior = ndimage.binary_erosion(mask, iterations=2)
    assert changed.any()
    assert not changed[mask == 0].any(), "the outline spills outside the mask"
    assert not changed[interior].any(), "the outline fills the mask's interior"
    assert changed[10, 30] and changed[11, 30] and not changed[12, 30]  # 2 px wide at the top edge


def test_outline_grows_with_large_images():
    big = np.zeros((1024, 1024), np.uint8)
    big[200:800, 200:800] = 1
    changed = (overlay_mask(np.zeros((1024, 1024)), big, opacity=1.0, style="outline") != 0).any(axis=-1)
    assert changed[200:204, 500].all() and not changed[204, 500]


def test_mask_of_another_size_raises_value_error(pixels):
    with pytest.raises(ValueError, match="must match"):
        overlay_mask(pixels, np.ones((10, 10), np.uint8))


def test_unknown_mask_style_raises_value_error(pixels, mask):
    with pytest.raises(ValueError, match="Unknown mask style"):
        overlay_mask(pixels, mask, style="dashed")


def test_heatmap_overlay_is_rgb_uint8_and_opacity_zero_is_the_grey_image(pixels):
    heatmap = np.linspace(0.0, 1.0, pixels.size, dtype=np.float32).reshape(pixels.shape)
    image = overlay_heatmap(pixels, heatmap)
    assert image.shape == (40, 60, 3) and image.dtype == np.uint8
    assert not np.array_equal(image, to_rgb(pixels))
    np.testing.assert_array_equal(overlay_heatmap(pixels, heatmap, opacity=0.0), to_rgb(pixels))


def test_heatmap_overlay_uses_the_colormap_ends():
    black = np.zeros((1, 2), np.float32)
    image = overlay_heatmap(black, np.array([[0.0, 1.0]], np.float32), opacity=1.0, colormap="gray")
    assert image[0].tolist() == [[0, 0, 0], [255, 255, 255]]


def test_heatmap_of_another_size_raises_value_error(pixels):
    with pytest.raises(ValueError, match="must match"):
        overlay_heatmap(pixels, np.zeros((10, 10), np.float32))


def test_side_by_side_pads_to_the_tallest_and_keeps_the_gap():
    tall, short = np.zeros((50, 20, 3), np.uint8), np.zeros((30, 10, 3), np.uint8)
    joined = side_by_side([tall, short], gap=8)
    assert joined.shape == (50, 20 + 8 + 10, 3) and joined.dtype == np.uint8
    assert (joined[:, 20:28] == 255).all()
    assert (joined[30:, 28:] == 255).all() and (joined[:30, 28:] == 0).all()


def test_side_by_side_of_nothing_raises_value_error():
    with pytest.raises(ValueError):
        side_by_side([])


def test_png_bytes_decode_back_to_the_same_image(pixels, mask):
    image = overlay_mask(pixels, mask)
    decoded = np.asarray(Image.open(io.BytesIO(png_bytes(image))))
    np.testing.assert_array_equal(decoded, image)


def test_overlay_imports_neither_tensorflow_nor_streamlit():
    code = "import core.present.overlay, sys; print('tensorflow' in sys.modules, 'streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
