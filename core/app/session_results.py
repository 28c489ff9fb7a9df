"""What the Analyse page shows for a batch of uploads, computed without Streamlit so it can be tested directly.

The page caches :func:`core.models.analysis.analyse_file` per file content (its ``digest``) and slice choice, and
:func:`explain` per (content, method, target class); everything here is a plain function of those inputs. Uploads
arrive as bytes and stay in memory: nothing in this module writes to disk or logs image content.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.io.errors import InputError
from core.io.read import VolumeInfo, describe_volume
from core.models.analysis import Analysis, FileResult
from core.models.cards import MODELS, TUMOUR_NET
from core.models.gradcam import can_explain, default_method, gradcam_heatmap
from core.models.metrics import dice_score
from core.models.registry import LoadedModel
from core.present.findings import format_percent
from core.present.overlay import overlay_heatmap, overlay_mask, to_rgb
from core.present.summaries import class_label
from core.report.patient import PatientFields
from core.report.pdf import build_report, make_report_slice, read_app_version

PREDICTED_CLASS = "predicted class"
"""The Grad-CAM target meaning "explain whatever type the network predicted"."""
NOT_INSTALLED = "not installed"
NOT_BRAIN = "not a brain MRI?"
HIDDEN = "hidden (see the input check)"
TRUTH_COLOR = (40, 200, 90)
"""Ground-truth masks are drawn in green, so they never look like the red prediction."""
TABLE_COLUMNS = ["File", "Tumour type", "Confidence (%)", "Tumour present", "Probability (%)", "Area (px)",
                 "Area (% of brain)", "Answers disagree", "Input check", "Problem"]
"""Short headers, so the whole table fits a laptop screen; each percent sits right of the answer it qualifies."""
PERCENT_COLUMNS = {
    "Confidence (%)": "Probability of the most likely tumour type.",
    "Probability (%)": "Probability that the slice shows a tumour: one minus that of no tumour.",
    "Area (% of brain)": "Outlined tumour area as a share of the head region.",
}
"""Percent columns (0-100) and what each measures, for the table's column tooltips."""


@dataclass(frozen=True)
class ViewSettings:
    """The slice view's display controls: mask on/off, opacity in [0, 1], "fill" or "outline", and the heatmap."""

    show_mask: bool = True
    opacity: float = 0.4
    style: str = "fill"
    cam_method: str = "Grad-CAM++"
    cam_target: str = PREDICTED_CLASS


@dataclass(frozen=True)
class Panel:
    """One picture of the side-by-side view; ``image`` (H x W x 3 uint8) is None when ``note`` says why not."""

    caption: str
    image: np.ndarray | None
    note: str = ""


def describe_upload(data: bytes, filename: str) -> VolumeInfo | None:
    """What a slice picker can offer for this file; None for plain 2D images and for files that cannot be read
    (their error is reported once, by :func:`core.models.analysis.analyse_file`)."""
    try:
        return describe_volume(data, filename)
    except InputError:
        return None


def target_options(class_names: Sequence[str]) -> list[str]:
    """Grad-CAM targets offered to the user: the predicted class first, then every class in the card's order."""
    return [PREDICTED_CLASS, *class_names]


def explain(result: FileResult, models: Mapping[str, LoadedModel], method: str | None = None,
            target: str = PREDICTED_CLASS) -> np.ndarray | None:
    """H x W heatmap in [0, 1] of where the network looked for ``target``, or None without a network that names a
    heatmap layer (or for a file that could not be read)."""
    model = models.get(TUMOUR_NET)
    if not result.ok or model is None or not can_explain(model):
        return None
    class_index = None if target == PREDICTED_CLASS else model.class_names.index(target)
    attention = result.analysis.attention if result.analysis is not None else None
    return gradcam_heatmap(model, result.scan.pixels, class_index=class_index, method=method, attention=attention)


def _percent(fraction: float | None) -> float | None:
    return None if fraction is None else round(100.0 * fraction, 1)


def _table_row(result: FileResult) -> dict:
    analysis = result.analysis
    if analysis is None:
        return {"File": result.name, "Problem": result.error}
    if analysis.ood:
        return {"File": result.name, "Tumour type": HIDDEN, "Tumour present": HIDDEN, "Input check": NOT_BRAIN,
                "Problem": ""}
    missing = TUMOUR_NET in analysis.missing_models
    return {
        "File": result.name,
        "Tumour type": NOT_INSTALLED if missing else class_label(analysis.predicted_type),
        "Confidence (%)": _percent(analysis.type_confidence),
        "Tumour present": NOT_INSTALLED if missing else ("yes" if analysis.tumour_present else "no"),
        "Probability (%)": _percent(analysis.tumour_probability),
        "Area (px)": analysis.mask_area_px,
        "Area (% of brain)": _percent(analysis.brain_area_fraction),
        "Answers disagree": "yes" if analysis.disagreements else "no",
        "Input check": "not checked" if analysis.ood is None else "brain MRI",
        "Problem": "",
    }


def results_table(results: Sequence[FileResult]) -> pd.DataFrame:
    """One row per file in upload order; numbers stay numeric (percent as 0-100) so the table sorts by value."""
    frame = pd.DataFrame([_table_row(result) for result in results], columns=TABLE_COLUMNS)
    frame["Area (px)"] = frame["Area (px)"].astype("Int64")
    return frame


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The results table as UTF-8 CSV (with a byte-order mark, so spreadsheet programs read "ö" and "²" right)."""
    return frame.to_csv(index=False).encode("utf-8-sig")


def headline(analysis: Analysis) -> list[tuple[str, str, str | None]]:
    """(label, answer, detail) of what a clinician reads first: type, presence and outlined area."""
    if analysis.predicted_type is None:
        tumour_type = ("Tumour type", NOT_INSTALLED, None)
    else:
        tumour_type = ("Tumour type", class_label(analysis.predicted_type),
                       f"{format_percent(analysis.type_confidence)} probability")
    if analysis.tumour_present is None:
        presence = ("Tumour present", NOT_INSTALLED, None)
    else:
        presence = ("Tumour present", "yes" if analysis.tumour_present else "no",
                    f"tumour probability {format_percent(analysis.tumour_probability)}")
    if analysis.mask_area_px is None:
        area = ("Tumour area", NOT_INSTALLED, None)
    else:
        shares = [f"{format_percent(analysis.mask_area_fraction, 1)} of image"]
        if analysis.brain_area_fraction is not None:
            shares.insert(0, f"{format_percent(analysis.brain_area_fraction, 1)} of brain")
        area = ("Tumour area", f"{analysis.mask_area_px:,} px", " · ".join(shares))
    return [tumour_type, presence, area]


def area_details(analysis: Analysis) -> list[tuple[str, str]]:
    """(label, value) of every area measure; mm² only when the file states its pixel spacing."""
    if analysis.mask_area_px is None:
        return [("Tumour area", f"{NOT_INSTALLED}: train the tumour network with `{MODELS[TUMOUR_NET].train}`")]
    brain = analysis.brain_area_fraction
    return [
        ("Area in pixels", f"{analysis.mask_area_px:,}"),
        ("Share of the image", format_percent(analysis.mask_area_fraction, 1)),
        ("Share of the brain", "not known (no head region found)" if brain is None else format_percent(brain, 1)),
        ("Area in mm²", "not known (the file states no pixel spacing)" if analysis.mask_area_mm2 is None
         else f"{analysis.mask_area_mm2:,.1f} mm²"),
    ]


def slice_panels(result: FileResult, heatmap: np.ndarray | None, view: ViewSettings) -> list[Panel]:
    """Original | mask overlay | heatmap overlay of one analysed file, drawn with the user's view settings."""
    pixels, analysis = result.scan.pixels, result.analysis
    mask_panel = Panel("Tumour outline", None, f"The tumour network is {NOT_INSTALLED}.")
    if analysis.mask is not None:
        mask = analysis.mask if view.show_mask else None
        mask_panel = Panel("Tumour region (red)" if view.show_mask else "Tumour region (overlay off)",
                           overlay_mask(pixels, mask, view.opacity, view.style))
    cam_panel = Panel(f"Where the network looked ({view.cam_method})", None,
                      f"The tumour network is {NOT_INSTALLED}, so there is no heatmap.")
    if heatmap is not None:
        cam_panel = Panel(cam_panel.caption, overlay_heatmap(pixels, heatmap))
    return [Panel(f"Original ({result.scan.source_format})", to_rgb(pixels)), mask_panel, cam_panel]


def ground_truth_panels(result: FileResult, view: ViewSettings) -> tuple[list[Panel], float | None] | None:
    """The file's own tumour mask (green) beside the prediction (red), and their Dice score.

    Returns:
        None when the file carries no mask; otherwise the panels and the Dice score, which is None without a
        segmenter and NaN when both masks are empty.
    """
    truth = result.scan.mask if result.scan is not None else None
    if truth is None:
        return None
    pixels, predicted = result.scan.pixels, result.analysis.mask
    panels = [Panel("Mask stored in the file (green)", overlay_mask(pixels, truth, view.opacity, view.style,
                                                                     TRUTH_COLOR))]
    if predicted is None:
        return panels, None
    panels.append(Panel("Predicted mask (red)", overlay_mask(pixels, predicted, view.opacity, view.style)))
    return panels, dice_score(truth, predicted)


def dice_sentence(dice: float | None) -> str:
    if dice is None:
        return f"No Dice score: the tumour network is {NOT_INSTALLED}."
    if np.isnan(dice):
        return "Both masks are empty, so the Dice score is undefined; the prediction agrees that there is no tumour."
    return f"Dice overlap with the file's mask: {dice:.3f} (1 is a perfect match, 0 no overlap)."


def report_pdf(results: Sequence[FileResult], heatmaps: Sequence[np.ndarray | None], method: str,
               patient: PatientFields | None, cards: Mapping[str, Mapping]) -> bytes:
    """The PDF report of the files that could be read, one page each after the overview.

    Args:
        results: analysed files; those with an error are left out.
        heatmaps: one heatmap per entry of ``results`` (None where there is none), made with ``method``.
        method: the heatmap method, for the captions.
        patient: details typed in by the user; None or all empty gives a de-identified report.
        cards: model cards by name, for the report's model table.

    Raises:
        ValueError: no file in ``results`` could be read.
    """
    slices = [make_report_slice(result.name, result.scan.pixels, result.analysis, heatmap, method)
              for result, heatmap in zip(results, heatmaps, strict=True) if result.ok]
    return build_report(slices, patient, cards, read_app_version())


def batch_report_pdf(results: Sequence[FileResult], models: Mapping[str, LoadedModel], method: str | None,
                     patient: PatientFields | None, cards: Mapping[str, Mapping]) -> bytes:
    """:func:`report_pdf` of a whole batch, each heatmap explaining the predicted class with ``method`` (None: the
    network card's default)."""
    method = method or default_method(models.get(TUMOUR_NET))
    return report_pdf(results, [explain(result, models, method) for result in results], method, patient, cards)
