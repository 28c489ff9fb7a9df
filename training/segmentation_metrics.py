"""Losses, per-image scores and the validation callback for the tumour segmenter."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from core.metrics import dice_score, iou_score


def dice_bce_loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Soft Dice (per image, smoothed so empty masks give a defined loss) plus binary cross-entropy."""
    y_true = tf.cast(y_true, tf.float32)
    y_pred = tf.cast(y_pred, tf.float32)
    axes = (1, 2, 3)
    intersection = tf.reduce_sum(y_true * y_pred, axis=axes)
    total = tf.reduce_sum(y_true, axis=axes) + tf.reduce_sum(y_pred, axis=axes)
    dice = (2.0 * intersection + 1.0) / (total + 1.0)
    bce = tf.reduce_mean(keras.losses.binary_crossentropy(y_true, y_pred), axis=(1, 2))
    return 1.0 - dice + bce


def predict_masks(model: keras.Model, x: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Binary masks (N x S x S, uint8) at threshold 0.5."""
    return np.concatenate([
        (np.asarray(model(tf.cast(x[i:i + batch_size], tf.float32), training=False))[..., 0] >= 0.5).astype(np.uint8)
        for i in range(0, len(x), batch_size)
    ])


def per_image_scores(truth: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dice and IoU for every image pair (NaN where both masks are empty)."""
    dice = np.array([dice_score(t, p) for t, p in zip(truth, predicted, strict=True)])
    iou = np.array([iou_score(t, p) for t, p in zip(truth, predicted, strict=True)])
    return dice, iou


def score_summary(values: np.ndarray, bins: int = 20) -> dict:
    """Mean, median and a histogram over [0, 1] of finite scores."""
    values = values[np.isfinite(values)]
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    return {"mean": float(values.mean()) if values.size else None,
            "median": float(np.median(values)) if values.size else None,
            "histogram": {"edges": edges.round(3).tolist(), "counts": counts.tolist()}}


def grouped_mean(values: np.ndarray, groups: Sequence[str]) -> dict:
    """Mean score and count per group label."""
    members: dict[str, list[float]] = defaultdict(list)
    for value, group in zip(values, groups, strict=True):
        if np.isfinite(value):
            members[group].append(float(value))
    return {g: {"count": len(v), "dice_mean": float(np.mean(v))} for g, v in sorted(members.items())}


def volume_dice_per_patient(truth: np.ndarray, predicted: np.ndarray, patients: Sequence[str]) -> list[dict]:
    """Dice of each patient's stacked slices (a 3D Dice, as Buda et al. 2019 report), with the slice count."""
    rows = []
    patients_arr = np.asarray(patients)
    for patient in sorted(set(patients)):
        members = patients_arr == patient
        rows.append({"patient": patient, "dice": dice_score(truth[members], predicted[members]),
                     "slices": int(members.sum())})
    return rows


class ValidationDice(keras.callbacks.Callback):
    """Adds ``val_dice`` (mean per-image Dice on tumour-bearing validation slices) to the epoch logs.

    Must come before EarlyStopping and ModelCheckpoint in the callback list, which read it.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        super().__init__()
        self.x, self.y = x, y[..., 0]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        dice, _ = per_image_scores(self.y, predict_masks(self.model, self.x))
        if logs is not None:
            logs["val_dice"] = float(np.nanmean(dice))
        print(f"epoch {epoch + 1}: val_dice {np.nanmean(dice):.4f}", flush=True)
