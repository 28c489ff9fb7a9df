"""The ``brain-mri-other`` layout: brain MRI slices from collections the network never trained on, with their masks.

Laid out as ``<source>/<label>/<sequence>/`` with ``masks/`` beside the tumour slices; ``volumes/`` holds 3D data.
Whole sources are either development (validation) or held out as a test, the split of
:mod:`training.guard_sources`, so the network and the guard are chosen on the same sources and tested on the same
unseen ones. A source that shares a patient with ``lgg-kaggle_3m`` (:data:`training.guard_sources.LINKED_TO_LGG`) is
never validation: its patient may sit in the network's training split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.models.preprocess import resize
from training.guard_sources import BRAIN_OTHER_ROOT, HELD_OUT_BRAIN, LINKED_TO_LGG
from training.tumour_data import GLIOMA, NO_TUMOUR, LabelledSlice, read_mask

TUMOUR_LABEL = "tumour"
TUMOUR_FREE_LABELS = ("no_tumour", "normal", "no_tumour_slice")
NOT_INPUTS = ("volumes",)
"""Top-level folders that hold no 2D inputs (3D data); ``masks/`` is left out as it is no label folder."""
MASKS = "masks"
MASK_ENCODINGS = {
    "brats2018_deepvoxnet2": ("grey", "whole-tumour masks, 0/255 PNG"),
    "brats2023_gli_sarah": ("colour", "colour-coded NCR/ED/ET PNG: any non-black pixel is whole tumour"),
    "mets_t2w_sarah": ("grey", "binary JPEG: grey >= 128 is tumour"),
    "tcga_du7294_brainlesion": ("grey", "fusion masks, 0/255 PNG"),
}
"""How each source's masks mark tumour (:func:`training.tumour_data.read_mask`: "grey" >= 128, "colour" non-black)."""


def is_colour_mask(source: str) -> bool:
    return MASK_ENCODINGS.get(source, ("grey",))[0] == "colour"


@dataclass(frozen=True)
class ExternalSlice:
    """One input image, where it sits in the ``<source>/<label>/<sequence>/`` layout, and its mask (if any)."""

    image: Path
    source: str
    label: str
    sequence: str
    mask: Path | None

    @property
    def has_tumour(self) -> bool:
        return self.label == TUMOUR_LABEL


def mask_names(image: Path, sequence: str) -> tuple[str, str]:
    """The two names a mask of ``image`` has: the image's own (BraTS 2023, metastases), or its name without the
    sequence and with ``_mask`` (``Brats18_X_1_flair_z052.png`` -> ``Brats18_X_1_z052_mask.png``, shared by the
    sequences of one slice)."""
    shared = image.stem.replace(f"_{sequence}_", "_", 1)
    return image.name, f"{shared}_mask{image.suffix}"


def list_slices(folder: Path) -> list[ExternalSlice]:
    """Every file under ``<source>/<label>/<sequence>/`` of a known label, sorted, each with its mask file."""
    slices = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        parts = path.relative_to(folder).parts
        if len(parts) < 4 or parts[0] in NOT_INPUTS or parts[1] not in (TUMOUR_LABEL, *TUMOUR_FREE_LABELS):
            continue
        masks = folder / parts[0] / MASKS
        mask = next((masks / name for name in mask_names(path, parts[2]) if (masks / name).is_file()), None)
        slices.append(ExternalSlice(path, parts[0], parts[1], parts[2], mask))
    return slices


def read_truth(path: Path, source: str, shape: tuple[int, int]) -> tuple[np.ndarray, bool]:
    """A ground-truth mask as H x W uint8 in {0, 1} at ``shape``, and whether it had to be resized to get there.

    Resized with nearest neighbour, so the mask stays binary.
    """
    mask = read_mask(str(path), shape, is_colour_mask(source))
    if mask.shape == tuple(shape):
        return mask, False
    return resize(mask, shape, nearest=True).astype(np.uint8), True


def is_validation_source(source: str) -> bool:
    """Whether a ``brain-mri-other`` source may choose models and thresholds (not held out, no LGG patient)."""
    return source not in HELD_OUT_BRAIN and source not in LINKED_TO_LGG


def validation_slices(folder: Path = BRAIN_OTHER_ROOT) -> list[LabelledSlice]:
    """The validation sources' slices as labelled slices: tumours read glioma (the validation sources' tumours are
    all gliomas), every other label is tumour-free with a known empty mask; tumour slices without a mask train no
    Dice."""
    slices = []
    for item in list_slices(Path(folder)):
        if not is_validation_source(item.source):
            continue
        label = GLIOMA if item.has_tumour else NO_TUMOUR
        known = item.mask is not None or not item.has_tumour
        slices.append(LabelledSlice(str(item.image), label, None if item.mask is None else str(item.mask), known,
                                    item.source, mask_colour=is_colour_mask(item.source)))
    return slices
