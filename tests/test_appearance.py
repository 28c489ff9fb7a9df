"""Scanner-like appearance augmentation: stays in [0, 1], follows its seed alone, changes contrast and never masks."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from training.appearance import random_appearance
from training.tumour_data import EpochBatches, SliceArrays

SIZE = 48


def ramp_batch(count: int = 16) -> tf.Tensor:
    """Images whose values run from 0 to 1 across the columns, so every change of curve or level shows."""
    ramp = np.tile(np.linspace(0.0, 1.0, SIZE, dtype=np.float32), (SIZE, 1))
    return tf.constant(np.repeat(ramp[None, ..., None], count, axis=0))


def test_changed_images_stay_in_range_and_the_same_seed_draws_the_same_changes() -> None:
    images = ramp_batch()
    first = random_appearance(images, tf.constant([3, 1], tf.int64)).numpy()
    again = random_appearance(images, tf.constant([3, 1], tf.int64)).numpy()
    other = random_appearance(images, tf.constant([3, 2], tf.int64)).numpy()
    assert first.min() >= 0.0 and first.max() <= 1.0
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 0.05
    half = random_appearance(tf.cast(images, tf.bfloat16), tf.constant([3, 1], tf.int64))  # mixed precision
    assert half.dtype == tf.bfloat16


def test_most_images_change_and_the_mid_grey_level_moves_both_ways() -> None:
    changed = random_appearance(ramp_batch(64), tf.constant([7, 0], tf.int64)).numpy()
    middle = changed[:, :, SIZE // 2, 0].mean(axis=1)  # the ramp's 0.5 column, per image
    assert np.mean(np.abs(middle - 0.5) > 0.02) > 0.5
    assert middle.min() < 0.45 and middle.max() > 0.55


def test_epoch_batches_with_appearance_keep_masks_binary_and_repeat_with_the_seed() -> None:
    masks = np.zeros((8, SIZE, SIZE, 1), np.uint8)
    masks[:, 10:30, 10:30] = 1
    arrays = SliceArrays((0.1 + 0.8 * masks).astype(np.float16), np.zeros(8, np.int32), masks, np.ones(8, bool), [])
    batches = EpochBatches(arrays, batch_size=8, appearance=1.0)
    (images, targets), (again, _) = next(iter(batches.epoch(4))), next(iter(batches.epoch(4)))
    np.testing.assert_array_equal(images.numpy(), again.numpy())
    assert set(np.unique(targets["mask"].numpy()[..., 0])) <= {0.0, 1.0}


def test_skull_stripping_blackens_the_rim_of_the_head_on_some_images_only() -> None:
    rows, cols = np.mgrid[:SIZE, :SIZE] - SIZE / 2 + 0.5
    radius = np.hypot(rows, cols)
    head = (radius < 20).astype(np.float32)
    image = np.where(radius < 17, 0.5, head)  # a bright 3-pixel skull around a grey brain
    images = tf.constant(np.repeat(image[None, ..., None], 64, axis=0))
    heads = tf.constant(np.repeat(head[None, ..., None], 64, axis=0))
    changed = random_appearance(images, tf.constant([1, 1], tf.int64), heads).numpy()[..., 0]
    rim = (radius >= 19) & (radius < 20)  # outside the outline eroded by even the smallest radius
    stripped = changed[:, rim].mean(axis=1) < 0.15  # blur and noise may leave a little
    assert 0.1 < stripped.mean() < 0.6  # PROBABILITIES["skull_strip"] of the images, give or take
    assert (changed[stripped][:, radius < 10].mean(axis=1) > 0.1).all()  # the brain is kept
    assert (random_appearance(images, tf.constant([1, 1], tf.int64)).numpy()[:, rim, 0].mean(axis=1) >= 0.15).all()


def test_the_scale_makes_changes_rarer_and_zero_turns_them_off() -> None:
    images = ramp_batch(256)
    seed = tf.constant([5, 3], tf.int64)

    def changed_share(scale: float) -> float:
        out = random_appearance(images, seed, scale=scale).numpy()
        return float((np.abs(out - images.numpy()).max(axis=(1, 2, 3)) > 1e-3).mean())

    full, half = changed_share(1.0), changed_share(0.5)
    assert changed_share(0.0) == 0.0
    assert 0.3 * full < half < 0.85 * full
