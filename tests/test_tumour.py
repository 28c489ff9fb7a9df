"""core.models.tumour: presence from the type probabilities, speck removal and the gated mask."""

from __future__ import annotations

import numpy as np
import pytest

from core.models.tumour import gate_mask, remove_specks, tumour_probability

NAMES = ["glioma", "meningioma", "notumor", "pituitary"]


def test_tumour_probability_is_one_minus_no_tumour() -> None:
    probs = np.array([[0.1, 0.2, 0.6, 0.1], [0.0, 0.0, 1.0, 0.0]])
    np.testing.assert_allclose(tumour_probability(probs, NAMES), [0.4, 0.0])


def test_specks_below_the_size_are_removed_and_larger_regions_kept() -> None:
    mask = np.zeros((20, 20), bool)
    mask[2:4, 2:4] = True  # 4 px
    mask[10:16, 10:16] = True  # 36 px
    kept = remove_specks(mask, 5)
    assert kept[10:16, 10:16].all() and not kept[2:4, 2:4].any()
    assert remove_specks(mask, 0).sum() == 40


def test_gated_mask_is_empty_without_a_tumour_and_resized_to_the_input() -> None:
    probs = np.zeros((16, 16), np.float32)
    probs[4:12, 4:12] = 0.9
    assert gate_mask(probs, present=False, min_component_px=0, shape=(40, 30)).sum() == 0
    shown = gate_mask(probs, present=True, min_component_px=0, shape=(40, 30))
    assert shown.shape == (40, 30) and shown.dtype == np.uint8
    assert shown.sum() == pytest.approx(0.25 * 40 * 30, rel=0.2)
