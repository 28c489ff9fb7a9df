"""One call that runs the tumour network on one slice and gathers everything the app, CLI and report show.

:func:`analyse_file` is the one path from a file's bytes to its :class:`FileResult`: the Analyse page, the batch
command line and the report command all call it, so they cannot answer differently for the same file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from core.io.errors import InputError
from core.io.read import ScanSlice, SliceChoice, read_scan
from core.models.cards import MODELS, TUMOUR_NET
from core.models.ood import OodDetector, is_out_of_distribution, ood_verdicts
from core.models.preprocess import find_head_mask, preprocess_slice
from core.models.registry import LoadedModel
from core.models.tumour import read_outputs
from core.models.uncertainty import TypeSpread, predict_type_tta


@dataclass
class Analysis:
    """Everything the app, the CLI and the report show for one slice; None where a model is not installed.

    Areas: ``mask_area_px`` counts mask pixels at the input's own size; ``mask_area_fraction`` is of the whole
    image and ``brain_area_fraction`` of the head region; ``mask_area_mm2`` needs the file's pixel spacing.
    ``ood`` is True when the slice does not look like a brain MRI (None without the check, see :mod:`core.models.ood`),
    ``ood_looks_like`` then the guard's family for what it looks like instead (None when it cannot tell);
    ``type_spread`` holds the test-time-augmentation mean and spread when asked for; ``attention`` the type head's
    pooling weights (h x w, for the "Attention" heatmap) when the network has them.
    """

    class_names: list[str] = field(default_factory=list)
    type_probabilities: dict[str, float] | None = None
    predicted_type: str | None = None
    tumour_probability: float | None = None
    tumour_present: bool | None = None
    mask: np.ndarray | None = None
    mask_area_px: int | None = None
    mask_area_fraction: float | None = None
    brain_area_fraction: float | None = None
    mask_area_mm2: float | None = None
    disagreements: list[str] = field(default_factory=list)
    missing_models: list[str] = field(default_factory=list)
    ood: bool | None = None
    ood_score: float | None = None
    ood_looks_like: str | None = None
    type_spread: TypeSpread | None = None
    attention: np.ndarray | None = None

    @property
    def type_confidence(self) -> float | None:
        return None if self.type_probabilities is None else max(self.type_probabilities.values())


def describe_disagreements(analysis: Analysis) -> list[str]:
    """Plain sentences for the one conflict one network can still show: a tumour found but too small to outline.

    Type and presence come from the same probabilities and the mask is drawn only when a tumour is present, so no
    other disagreement is possible.
    """
    if analysis.tumour_present and analysis.mask_area_px == 0:
        return ["A tumour is reported, but the network outlines no region large enough to show."]
    return []


def analyze(scan: ScanSlice, models: dict[str, LoadedModel], detector: OodDetector | None = None,
            tta: bool = False) -> Analysis:
    """Run the tumour network (when installed) on one decoded slice: one forward pass gives type, presence and
    mask; also the out-of-distribution check when ``detector`` is given and test-time augmentation when ``tta``."""
    result = Analysis(missing_models=[name for name in MODELS if name not in models])
    model = models.get(TUMOUR_NET)
    if model is None:
        return result
    image = preprocess_slice(scan.pixels, model.spec)
    outputs = model.predict_outputs(image[None])  # one pass: type, mask and the embedding the OOD check scores
    reading = read_outputs(model, outputs["logits"][0], outputs["mask"][0, ..., 0], scan.pixels.shape)
    result.class_names = model.class_names
    result.type_probabilities = reading.type_probabilities
    result.predicted_type = max(reading.type_probabilities, key=reading.type_probabilities.get)
    result.tumour_probability, result.tumour_present = reading.tumour_probability, reading.tumour_present
    result.mask = reading.mask
    if "attention" in outputs:
        result.attention = outputs["attention"][0, ..., 0]
    result.mask_area_px = int(result.mask.sum())
    result.mask_area_fraction = result.mask_area_px / result.mask.size
    head_px = int(find_head_mask(scan.pixels).sum())
    result.brain_area_fraction = result.mask_area_px / head_px if head_px else None
    if scan.pixel_spacing_mm is not None:
        result.mask_area_mm2 = result.mask_area_px * scan.pixel_spacing_mm[0] * scan.pixel_spacing_mm[1]
    if detector is not None:
        scores, looks_like = ood_verdicts(image[None], model, detector, outputs.get("embedding"))
        result.ood_score, result.ood = float(scores[0]), is_out_of_distribution(float(scores[0]), detector)
        result.ood_looks_like = looks_like[0] if result.ood else None
    if tta:
        result.type_spread = predict_type_tta(scan, model)
    result.disagreements = describe_disagreements(result)
    return result


@dataclass(frozen=True)
class FileResult:
    """One file: its decoded slice and analysis, or the one-sentence reason it could not be analysed.

    ``name`` is how sentences and tables name the file; ``digest`` is the SHA-256 of its bytes (the page's cache
    key; empty when the bytes could not be read).
    """

    name: str
    digest: str = ""
    scan: ScanSlice | None = None
    analysis: Analysis | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def content_digest(data: bytes) -> str:
    """SHA-256 of a file's bytes, so a re-upload under another name is not analysed twice."""
    return hashlib.sha256(data).hexdigest()


def analyse_file(data: bytes, name: str, models: dict[str, LoadedModel], choice: SliceChoice | None = None,
                 detector: OodDetector | None = None, tta: bool = False) -> FileResult:
    """Decode one file's bytes (the slice ``choice`` names, else the default) and :func:`analyze` it; an unreadable
    file gives its error sentence instead."""
    digest = content_digest(data)
    try:
        scan = read_scan(data, name, choice)
    except InputError as err:
        return FileResult(name, digest, error=str(err))
    return FileResult(name, digest, scan, analyze(scan, dict(models), detector, tta))
