"""Contracts of the segmentation training pieces: paired augmentation, loss, patient split, per-patient Dice."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from core.metrics import iou_score
from training.common import augment_pair, make_geometric_augmenter, make_intensity_augmenter
from training.segmentation_data import MaskedSlice, split_by_patient
from training.segmentation_metrics import dice_bce_loss, volume_dice_per_patient

SIZE = 48


def square_batch(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images whose only bright region is a square, and masks equal to that square (N x SIZE x SIZE x 1)."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((count, SIZE, SIZE, 1), dtype=np.float32)
    for mask in masks:
        top, left = rng.integers(6, SIZE - 24, size=2)
        mask[top : top + 18, left : left + 18] = 1.0
    return 0.05 + 0.9 * masks, masks.astype(np.uint8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_augment_pair_keeps_image_and_mask_aligned(seed: int) -> None:
    images, masks = square_batch(4, seed)
    moved_images, moved_masks = augment_pair(tf.constant(images), tf.constant(masks),
                                             make_geometric_augmenter(seed), make_intensity_augmenter(seed))
    moved_images, moved_masks = np.asarray(moved_images), np.asarray(moved_masks)
    assert moved_images.shape == images.shape and moved_masks.shape == masks.shape
    assert set(np.unique(moved_masks)) <= {0.0, 1.0}
    assert 0.0 <= moved_images.min() and moved_images.max() <= 1.0
    for image, mask in zip(moved_images, moved_masks, strict=True):
        assert iou_score(image[..., 0] > 0.5, mask[..., 0]) > 0.9
    # The transform really moved something, so the alignment above is not trivially true.
    assert not np.array_equal(moved_masks, masks)


def test_dice_bce_loss_is_near_zero_for_a_perfect_prediction_and_large_for_a_wrong_one() -> None:
    _, masks = square_batch(2, seed=0)
    truth = tf.constant(masks, tf.float32)
    perfect = dice_bce_loss(truth, truth).numpy()
    wrong = dice_bce_loss(truth, 1.0 - truth).numpy()
    assert perfect.shape == (2,)
    assert np.all(perfect < 1e-3)
    assert np.all(wrong > 1.0)
    empty = tf.zeros((1, SIZE, SIZE, 1))
    assert float(dice_bce_loss(empty, empty)[0]) < 1e-3  # tumour-free slices have a defined, small loss


def test_split_by_patient_never_puts_one_patient_on_both_sides() -> None:
    slices = [MaskedSlice(f"p{p}_{i}.tif", f"p{p}_{i}_mask.tif", "lgg", f"patient{p}")
              for p in range(10) for i in range(3)]
    for seed in range(5):
        train, val = split_by_patient(slices, val_fraction=0.2, seed=seed)
        train_patients, val_patients = {s.group for s in train}, {s.group for s in val}
        assert not train_patients & val_patients
        assert len(val_patients) == 2 and len(train) + len(val) == len(slices)


def test_volume_dice_per_patient_stacks_each_patients_slices() -> None:
    truth = np.zeros((3, 4, 4), dtype=np.uint8)
    predicted = np.zeros_like(truth)
    truth[0, :2, :2] = 1  # patient a: 4 true pixels on slice 0
    predicted[0, :2, :1] = 1  # 2 of them found ...
    predicted[2, 3, 2:] = 1  # ... and 2 false pixels on slice 2: 3D Dice = 2 * 2 / (4 + 4)
    rows = volume_dice_per_patient(truth, predicted, ["a", "b", "a"])  # a patient's slices need not be adjacent
    assert [(r["patient"], r["slices"]) for r in rows] == [("a", 2), ("b", 1)]
    assert rows[0]["dice"] == pytest.approx(0.5)
    assert math.isnan(rows[1]["dice"])  # patient b has no tumour and none was predicted
