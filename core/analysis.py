"""One call that runs every available model on one slice and says, in words, where they disagree."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.io import ScanSlice
from core.metrics import softmax
from core.ood import OodDetector, is_out_of_distribution, ood_score
from core.preprocess import find_head_mask, preprocess_slice, resize
from core.registry import LoadedModel
from core.uncertainty import TypeSpread, predict_type_tta

NO_TUMOUR_CLASS = "notumor"
MASK_THRESHOLD = 0.5


@dataclass
class Analysis:
    """Everything the app, the CLI and the report show for one slice; None where a model is not installed.

    Areas: ``mask_area_px`` counts mask pixels at the input's own size; ``mask_area_fraction`` is of the whole
    image and ``brain_area_fraction`` of the head region; ``mask_area_mm2`` needs the file's pixel spacing.
    ``ood`` is True when the slice does not look like a brain MRI (None without the check, see :mod:`core.ood`);
    ``type_spread`` holds the test-time-augmentation mean and spread when asked for.
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
    type_spread: TypeSpread | None = None

    @property
    def type_confidence(self) -> float | None:
        return None if self.type_probabilities is None else max(self.type_probabilities.values())


def predict_type(scan: ScanSlice, model: LoadedModel) -> dict[str, float]:
    """Calibrated tumour-type probabilities: softmax of the logits divided by the card's temperature."""
    x = preprocess_slice(scan.pixels, model.spec)[None]
    temperature = float(model.card.get("calibration", {}).get("temperature", 1.0))
    probs = softmax(model.predict_raw(x), temperature)[0]
    return dict(zip(model.class_names, (float(p) for p in probs), strict=True))


def predict_presence(scan: ScanSlice, model: LoadedModel) -> float:
    """Probability that the slice shows a tumour (sigmoid of the presence model's logit)."""
    logit = float(model.predict_raw(preprocess_slice(scan.pixels, model.spec)[None]).reshape(-1)[0])
    return float(1.0 / (1.0 + np.exp(-logit)))


def segment_tumour(scan: ScanSlice, model: LoadedModel) -> np.ndarray:
    """H x W uint8 mask in {0, 1} at the input's own size.

    The probability map is resized back bilinearly before thresholding, which keeps edges smoother than resizing a
    binary mask.
    """
    probability = model.predict_raw(preprocess_slice(scan.pixels, model.spec)[None])[0, ..., 0]
    full = resize(probability, scan.pixels.shape)
    return (full >= MASK_THRESHOLD).astype(np.uint8)


def describe_disagreements(analysis: Analysis) -> list[str]:
    """Plain sentences for every conflict between the models' answers."""
    notes = []
    says_no_tumour = analysis.predicted_type == NO_TUMOUR_CLASS if analysis.predicted_type else None
    if says_no_tumour is not None and analysis.tumour_present is not None and says_no_tumour == analysis.tumour_present:
        if analysis.tumour_present:
            notes.append(f"The type model says no tumour, but the presence model finds a tumour "
                         f"(probability {analysis.tumour_probability:.0%}).")
        else:
            notes.append(f"The type model says {analysis.predicted_type}, but the presence model finds no tumour "
                         f"(tumour probability {analysis.tumour_probability:.0%}).")
    if analysis.mask_area_px is not None:
        tumour_expected = analysis.tumour_present if analysis.tumour_present is not None else (
            None if says_no_tumour is None else not says_no_tumour)
        if tumour_expected and analysis.mask_area_px == 0:
            notes.append("A tumour is reported, but the segmentation model outlines no tumour region.")
        if tumour_expected is False and analysis.mask_area_px > 0:
            notes.append(f"No tumour is reported, but the segmentation model outlines "
                         f"{analysis.mask_area_px} pixels as tumour.")
    return notes


def analyze(scan: ScanSlice, models: dict[str, LoadedModel], detector: OodDetector | None = None,
            tta: bool = False) -> Analysis:
    """Run type, presence and segmentation (whichever are loaded) on one decoded slice; with a classifier, also the
    out-of-distribution check when ``detector`` is given and test-time augmentation when ``tta`` is True."""
    result = Analysis(missing_models=[name for name in ("classifier", "presence", "segmenter") if name not in models])
    if "classifier" in models:
        result.class_names = models["classifier"].class_names
        result.type_probabilities = predict_type(scan, models["classifier"])
        result.predicted_type = max(result.type_probabilities, key=result.type_probabilities.get)
        if detector is not None:
            result.ood_score = ood_score(scan.pixels, models["classifier"], detector)
            result.ood = is_out_of_distribution(result.ood_score, detector)
        if tta:
            result.type_spread = predict_type_tta(scan, models["classifier"])
    if "presence" in models:
        result.tumour_probability = predict_presence(scan, models["presence"])
        result.tumour_present = result.tumour_probability >= float(models["presence"].card["threshold"])
    if "segmenter" in models:
        result.mask = segment_tumour(scan, models["segmenter"])
        result.mask_area_px = int(result.mask.sum())
        result.mask_area_fraction = result.mask_area_px / result.mask.size
        head_px = int(find_head_mask(scan.pixels).sum())
        result.brain_area_fraction = result.mask_area_px / head_px if head_px else None
        if scan.pixel_spacing_mm is not None:
            result.mask_area_mm2 = result.mask_area_px * scan.pixel_spacing_mm[0] * scan.pixel_spacing_mm[1]
    result.disagreements = describe_disagreements(result)
    return result
