"""Test-time augmentation: how much the tumour-type answer moves when the slice is mirrored or shifted slightly.

The classifier was trained on left-right flips and small shifts (``training.common.make_geometric_augmenter``), so
each variant is an equally valid view of the same slice. A large spread of a class probability across the views
says the answer rests on details the model should not depend on (Wang et al., "Aleatoric uncertainty estimation
with test-time augmentation for medical image segmentation", Neurocomputing 2019, https://arxiv.org/abs/1807.07356).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.io.read import ScanSlice
from core.models.preprocess import preprocess_slice
from core.models.registry import LoadedModel

SHIFT_FRACTION = 0.04
"""Shift of the two shifted views, as a fraction of the input side (training shifts by up to 5 %)."""
VIEWS = ("original", "mirrored", "shifted left", "shifted right")
"""The views, in the order of :func:`make_views`; four passes, run as one batch."""


@dataclass(frozen=True)
class TypeSpread:
    """Tumour-type probabilities averaged over the views of one slice, and how far they spread.

    Attributes:
        mean: class name -> mean calibrated probability over :data:`VIEWS`.
        spread: class name -> standard deviation of that probability over the views (0 = every view agrees).
        views: class name -> the probability of each view, in the order of :data:`VIEWS`.
    """

    mean: dict[str, float]
    spread: dict[str, float]
    views: dict[str, list[float]]


def shift(image: np.ndarray, columns: int) -> np.ndarray:
    """``image`` (H x W x C) moved ``columns`` pixels right (left when negative), the gap filled with zeros as in
    training's constant-fill augmentation."""
    moved = np.zeros_like(image)
    if columns >= 0:
        moved[:, columns:] = image[:, : image.shape[1] - columns]
    else:
        moved[:, :columns] = image[:, -columns:]
    return moved


def make_views(image: np.ndarray) -> np.ndarray:
    """4 x H x W x C batch of :data:`VIEWS` of one preprocessed input (H x W x C)."""
    step = max(1, round(SHIFT_FRACTION * image.shape[1]))
    return np.stack([image, image[:, ::-1], shift(image, -step), shift(image, step)])


def predict_type_tta(scan: ScanSlice, model: LoadedModel) -> TypeSpread:
    """Calibrated type probabilities of every view (:meth:`LoadedModel.type_probabilities`, as a single slice's),
    their mean and their standard deviation per class."""
    views = make_views(preprocess_slice(scan.pixels, model.spec))
    probs = model.type_probabilities(model.predict_raw(views))
    names = model.class_names
    return TypeSpread(
        mean=dict(zip(names, (float(p) for p in probs.mean(axis=0)), strict=True)),
        spread=dict(zip(names, (float(s) for s in probs.std(axis=0)), strict=True)),
        views={name: [float(p) for p in probs[:, i]] for i, name in enumerate(names)},
    )


def describe_spread(result: TypeSpread, label: Callable[[str], str] = str) -> list[str]:
    """One "label: mean ± spread" line per class, most probable first, in whole percent (e.g. "glioma: 87% ± 3%");
    ``label`` names a class in text (the page passes ``core.present.findings.class_label``)."""
    order = sorted(result.mean, key=result.mean.get, reverse=True)
    return [f"{label(name)}: {result.mean[name]:.0%} ± {result.spread[name]:.0%}" for name in order]
