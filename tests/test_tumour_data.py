"""Training data of the tumour network: aligned augmentation, the masked loss, area-resized masks, patient splits."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from core.models.metrics import iou_score
from training.train_tumour_net import masked_dice_bce_loss
from training.tumour_data import EpochBatches, LabelledSlice, SliceArrays, resize_mask, split_by_patient

SIZE = 48


def square_arrays(count: int, seed: int) -> SliceArrays:
    """Images whose only bright region is a square, masks equal to that square, every mask known."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((count, SIZE, SIZE, 1), dtype=np.uint8)
    for mask in masks:
        top, left = rng.integers(6, SIZE - 24, size=2)
        mask[top: top + 18, left: left + 18] = 1
    return SliceArrays((0.05 + 0.9 * masks).astype(np.float16), rng.integers(0, 4, count).astype(np.int32), masks,
                       np.ones(count, bool), [])


@pytest.mark.parametrize("seed", [0, 1])
def test_epoch_batches_move_image_and_mask_together(seed: int) -> None:
    images, targets = next(iter(EpochBatches(square_arrays(8, seed), batch_size=8).epoch(seed)))
    for image, mask in zip(images.numpy(), targets["mask"].numpy(), strict=True):
        assert iou_score(image[..., 0] > 0.5 * image.max(), mask[..., 0] > 0.5) > 0.8
    assert targets["mask"].shape[-1] == 2 and np.all(targets["mask"].numpy()[..., 1] == 1.0)
    assert targets["type"].shape == (8, 4)


def test_an_epoch_order_depends_on_its_seed_alone() -> None:
    arrays = square_arrays(16, 3)
    first = [batch[1]["type"].numpy() for batch in EpochBatches(arrays, 4, augment=False).epoch(5)]
    again = [batch[1]["type"].numpy() for batch in EpochBatches(arrays, 4, augment=False).epoch(5)]
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate(again))


def test_masked_loss_is_zero_for_unknown_masks_small_for_right_and_large_for_wrong() -> None:
    mask = np.zeros((2, 16, 16, 1), np.float32)
    mask[:, 4:12, 4:12] = 1.0
    known = np.concatenate([mask, np.stack([np.ones((16, 16, 1)), np.zeros((16, 16, 1))]).astype(np.float32)], -1)
    right = masked_dice_bce_loss(tf.constant(known), tf.constant(mask * 0.98 + 0.01)).numpy()
    wrong = masked_dice_bce_loss(tf.constant(known), tf.constant(1.0 - mask)).numpy()
    assert right[1] == wrong[1] == 0.0  # the second slice's mask is unknown
    assert right[0] < 0.1 < 1.0 < wrong[0]


def test_resized_mask_is_binary_and_follows_the_half_coverage_contour() -> None:
    rows, cols = np.mgrid[:512, :512]
    disk = ((rows - 250.3) ** 2 + (cols - 270.8) ** 2 <= 90.0**2).astype(np.uint8)
    small = resize_mask(disk, 192)
    assert small.shape == (192, 192) and small.dtype == np.uint8 and set(np.unique(small)) <= {0, 1}
    scale = 192 / 512
    rows, cols = np.mgrid[:192, :192] + 0.5
    expected = ((rows / scale - 250.3) ** 2 + (cols / scale - 270.8) ** 2 <= 90.0**2).astype(np.uint8)
    assert iou_score(small, expected) > 0.97


def test_split_by_patient_never_puts_one_patient_on_both_sides() -> None:
    slices = [LabelledSlice(f"{p}_{i}.jpg", 0, None, True, "lgg", f"P{p}") for p in range(10) for i in range(5)]
    train, val = split_by_patient(slices, 0.3, seed=1)
    assert {s.group for s in train}.isdisjoint({s.group for s in val})
    assert len({s.group for s in val}) == 3 and len(train) + len(val) == len(slices)
