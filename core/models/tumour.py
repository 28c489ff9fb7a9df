"""One forward pass of the shared-encoder tumour network answers type, presence and outline consistently.

The network (``training.architectures.build_tumour_net``) has a 4-class type head and a segmentation decoder on one
encoder. Everything else follows from those two outputs, by rules stored in its card:

- type probabilities: softmax of the logits over the card's temperature (fitted on validation);
- tumour probability: 1 - P(no tumour), so presence can never contradict the type;
- tumour present: that probability at or above the card's ``presence.threshold`` (set on validation slices from
  several sources);
- mask: drawn only when a tumour is present, without connected regions smaller than the card's
  ``segmentation.min_component_px`` (at the model's resolution; the size is chosen on validation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from core.models.preprocess import resize
from core.models.registry import LoadedModel

NO_TUMOUR_CLASS = "notumor"
MASK_THRESHOLD = 0.5


@dataclass(frozen=True)
class TumourReading:
    """The network's answer for one slice; ``mask`` is H x W uint8 at the input's size (all 0 without a tumour)."""

    type_probabilities: dict[str, float]
    tumour_probability: float
    tumour_present: bool
    mask: np.ndarray


def tumour_probability(probs: np.ndarray, class_names: Sequence[str]) -> np.ndarray:
    """P(tumour) = 1 - P(no tumour) for N x K calibrated type probabilities."""
    return 1.0 - np.asarray(probs)[..., list(class_names).index(NO_TUMOUR_CLASS)]


def remove_specks(mask: np.ndarray, min_component_px: int) -> np.ndarray:
    """``mask`` (H x W, bool or {0, 1}) without 8-connected regions of fewer than ``min_component_px`` pixels."""
    mask = np.asarray(mask, dtype=bool)
    if min_component_px <= 1 or not mask.any():
        return mask
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    sizes = ndimage.sum_labels(np.ones_like(labels), labels, index=np.arange(1, count + 1))
    return np.isin(labels, np.flatnonzero(sizes >= min_component_px) + 1)


def gate_mask(mask_probs: np.ndarray, present: bool, min_component_px: int,
              shape: tuple[int, int] | None = None) -> np.ndarray:
    """The mask a user is shown: empty unless a tumour is present, specks removed, at ``shape`` (default: as given).

    The probability map is kept inside the surviving regions and resized bilinearly before thresholding, which keeps
    edges smoother than resizing a binary mask.
    """
    shape = shape or mask_probs.shape
    if not present:
        return np.zeros(shape, dtype=np.uint8)
    kept = remove_specks(mask_probs >= MASK_THRESHOLD, min_component_px)
    probs = np.where(kept, mask_probs, 0.0).astype(np.float32)
    if probs.shape != tuple(shape):
        probs = resize(probs, shape)
    return (probs >= MASK_THRESHOLD).astype(np.uint8)


def read_outputs(model: LoadedModel, logits: np.ndarray, mask_probs: np.ndarray,
                 shape: tuple[int, int]) -> TumourReading:
    """Turn one slice's raw outputs (K logits, S x S mask probabilities) into the consistent reading."""
    card = model.card
    probs = model.type_probabilities(logits[None])[0]
    probability = float(tumour_probability(probs, model.class_names))
    present = probability >= float(card["presence"]["threshold"])
    mask = gate_mask(mask_probs, present, int(card["segmentation"]["min_component_px"]), shape)
    return TumourReading(dict(zip(model.class_names, (float(p) for p in probs), strict=True)), probability, present,
                         mask)
