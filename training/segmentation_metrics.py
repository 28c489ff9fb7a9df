"""Segmentation scores for the network's card: per-slice and per-patient Dice, summaries and false-mask shares."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np


def mask_dice(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per-slice Dice of two N x ... stacks of binary masks; NaN where both are empty (as ``core.models.metrics``)."""
    t = truth.reshape(len(truth), -1).astype(bool)
    p = predicted.reshape(len(predicted), -1).astype(bool)
    total = t.sum(axis=1) + p.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2 * (t & p).sum(axis=1) / total, np.nan)


def volume_dice(truth: np.ndarray, predicted: np.ndarray, patients: Sequence[str]) -> list[dict]:
    """Dice of each patient's stacked slices (a 3D Dice, as Buda et al. 2019 report), with the slice count."""
    rows = []
    patients = np.asarray(patients)
    for patient in sorted(set(patients)):
        members = patients == patient
        dice = float(mask_dice(truth[members].reshape(1, -1), predicted[members].reshape(1, -1))[0])
        rows.append({"patient": str(patient), "dice": dice, "slices": int(members.sum())})
    return rows


def any_mask_share(masks: np.ndarray) -> dict:
    """How much tumour is drawn on slices that have none: the share with any pixel and the mean area fraction."""
    fractions = masks.reshape(len(masks), -1).mean(axis=1) if len(masks) else np.zeros(0)
    return {"count": len(masks), "share_with_any_pixels": float((fractions > 0).mean()) if len(masks) else None,
            "mean_fraction": float(fractions.mean()) if len(masks) else None}


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
