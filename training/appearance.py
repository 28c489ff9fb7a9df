"""Scanner- and sequence-like appearance changes for training batches: less reliance on one collection's look.

The Kaggle slices come from a handful of scanners and mostly one contrast; other collections differ in contrast curve
(T1 against FLAIR against T2), intensity non-uniformity (coil bias fields), resolution (2 mm volumes upsampled,
thick slices), noise, and skull stripping (BraTS and most research collections publish brains without skull or
scalp, which the Kaggle slices never show). Each batch gets, per image and each with its own probability:

- skull stripping: the head outline (:func:`core.models.preprocess.find_head_mask`, computed once per training slice)
  eroded by a few percent of the image and everything outside it set to black, then the brain rescaled to fill [0, 1];
- a gamma curve, ``x ** exp(u)`` with ``u`` uniform in ``+-GAMMA_LOG_RANGE`` (contrast changes between sequences);
- a smooth multiplicative bias field: a coarse grid of log-gains, bicubically upsampled (coil non-uniformity);
- a loss of resolution: the image downsampled by a factor of up to ``MAX_DOWNSAMPLE`` and brought back bilinearly;
- Gaussian noise of a random level.

Every draw is stateless, keyed by the epoch's seed and the batch's number, so an epoch's augmentation follows its seed
alone (a resumed run sees the same batches). Images stay in [0, 1]; masks are never touched.
"""

from __future__ import annotations

import tensorflow as tf

GAMMA_LOG_RANGE = 0.7
BIAS_GRID = 4
BIAS_LOG_RANGE = 0.35
MAX_DOWNSAMPLE = 3.0
MAX_NOISE = 0.05
STRIP_RADII = (0.03, 0.06)
"""Erosion radii of the head outline, as fractions of the image side (scalp and skull are about that thick)."""
PROBABILITIES = {"skull_strip": 0.3, "gamma": 0.7, "bias": 0.5, "resolution": 0.35, "noise": 0.35}


def _uniform(shape: list, seed: tf.Tensor, salt: int, low: float = 0.0, high: float = 1.0) -> tf.Tensor:
    return tf.random.stateless_uniform(shape, seed=seed + tf.constant([0, salt * 7919], tf.int64), minval=low,
                                       maxval=high)


def _apply(images: tf.Tensor, changed: tf.Tensor, seed: tf.Tensor, salt: int, name: str,
           scale: float) -> tf.Tensor:
    """``changed`` where the image's draw falls under the change's probability times ``scale``, ``images`` elsewhere."""
    chosen = _uniform([tf.shape(images)[0], 1, 1, 1], seed, salt) < PROBABILITIES[name] * scale
    return tf.where(chosen, changed, images)


def _lower_resolution(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """One factor per batch (resize needs one output size), drawn in [1, MAX_DOWNSAMPLE]."""
    size = tf.shape(images)[1:3]
    factor = _uniform([], seed, 5, 1.0, MAX_DOWNSAMPLE)
    small = tf.maximum(tf.cast(tf.cast(size, tf.float32) / factor, tf.int32), 8)
    return tf.image.resize(tf.image.resize(images, small, antialias=True), size, method="bilinear")


def _erode(masks: tf.Tensor, fraction: float) -> tf.Tensor:
    radius = max(round(fraction * masks.shape[1]), 1)
    return -tf.nn.max_pool2d(-masks, ksize=2 * radius + 1, strides=1, padding="SAME")


def _strip_skull(images: tf.Tensor, heads: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Images with everything outside an eroded head outline black, then rescaled to a maximum of 1."""
    wide = _uniform([tf.shape(images)[0], 1, 1, 1], seed, 10) < 0.5
    brain = tf.where(wide, _erode(heads, STRIP_RADII[1]), _erode(heads, STRIP_RADII[0]))
    stripped = images * brain
    return stripped / tf.maximum(tf.reduce_max(stripped, axis=(1, 2, 3), keepdims=True), 1e-6)


def random_appearance(images: tf.Tensor, seed: tf.Tensor, heads: tf.Tensor | None = None,
                      scale: float = 1.0) -> tf.Tensor:
    """A batch (B x H x W x 1, values in [0, 1]) with random appearance changes; ``seed`` is a 2-vector (int64),
    ``heads`` the batch's head outlines (B x H x W x 1 in {0, 1}; without them no skull stripping), ``scale``
    multiplies every change's probability (:data:`PROBABILITIES`; 0.5 = half as often).

    Computed in float32 and returned in the batch's own dtype (bfloat16 under mixed precision).
    """
    dtype, images = images.dtype, tf.cast(images, tf.float32)
    batch, size = tf.shape(images)[0], tf.shape(images)[1:3]
    if heads is not None:
        images = _apply(images, _strip_skull(images, tf.cast(heads, tf.float32), seed), seed, 11, "skull_strip", scale)
    gamma = tf.exp(_uniform([batch, 1, 1, 1], seed, 1, -GAMMA_LOG_RANGE, GAMMA_LOG_RANGE))
    images = _apply(images, tf.pow(tf.maximum(images, 1e-6), gamma), seed, 2, "gamma", scale)
    log_gain = _uniform([batch, BIAS_GRID, BIAS_GRID, 1], seed, 3, -BIAS_LOG_RANGE, BIAS_LOG_RANGE)
    field = tf.exp(tf.image.resize(log_gain, size, method="bicubic"))
    biased = images * field
    biased = biased / tf.maximum(tf.reduce_max(biased, axis=(1, 2, 3), keepdims=True), 1e-6)
    images = _apply(images, biased, seed, 4, "bias", scale)
    images = _apply(images, _lower_resolution(images, seed), seed, 6, "resolution", scale)
    level = _uniform([batch, 1, 1, 1], seed, 7, 0.0, MAX_NOISE)
    noisy = images + level * tf.random.stateless_normal(tf.shape(images), seed=seed + tf.constant([0, 8], tf.int64))
    images = _apply(images, noisy, seed, 9, "noise", scale)
    return tf.cast(tf.clip_by_value(images, 0.0, 1.0), dtype)
