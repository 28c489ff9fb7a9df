"""One slice's analysis in plain language, from fixed templates: no network and no language model.

Fixed templates mean the same analysis always reads the same way, and every sentence a clinician can see is written
out here for review. Each summary hedges, says how sure the models are, and ends by saying it is not a diagnosis.
"""

from __future__ import annotations

from core.models.analysis import Analysis
from core.models.cards import TUMOUR_NET
from core.models.tumour import NO_TUMOUR_CLASS
from core.present.summaries import class_label

LOW_CONFIDENCE = 0.60
"""Below this top-class probability the type is called uncertain rather than stated."""
CONFIRM = "This is not a diagnosis; a radiologist must confirm."
DISAGREEMENT_LEAD = "The network's answers do not fully agree on this slice, so read this result with extra caution."
MISSING_MODEL_SENTENCES = {
    TUMOUR_NET: "No tumour type, presence or outline is given, as the tumour network is not installed.",
}


def format_percent(probability: float, digits: int = 0) -> str:
    """0.873 -> "87%" (or "87.3%" with ``digits=1``), the style the app's other sentences use."""
    return f"{probability:.{digits}%}"


def describe_findings(analysis: Analysis) -> str:
    """A short paragraph saying what the models found on one slice and how far to trust it.

    The wording changes when the answers disagree (that leads), when the type is uncertain (below
    :data:`LOW_CONFIDENCE`), when no tumour is found, and when the network is not installed.
    """
    findings = [*_type_sentences(analysis), *_presence_sentences(analysis), *_area_sentences(analysis)]
    if not findings:
        findings = ["No model that gives a finding is installed, so this slice has no result."]
    lead = [DISAGREEMENT_LEAD] if analysis.disagreements else []
    missing = [MISSING_MODEL_SENTENCES[name] for name in analysis.missing_models if name in MISSING_MODEL_SENTENCES]
    return " ".join([*lead, *findings, *missing, CONFIRM])


def _type_sentences(analysis: Analysis) -> list[str]:
    if not analysis.type_probabilities:
        return []
    (top, top_p), (runner_up, runner_up_p) = _two_most_likely(analysis.type_probabilities)
    runner_up_text = f"{class_label(runner_up)} ({format_percent(runner_up_p)})"
    if top_p < LOW_CONFIDENCE:
        return [f"The network is unsure of the type: {class_label(top)} is most likely, but only at "
                f"{format_percent(top_p)}, with {runner_up_text} next, so the finding should be treated as "
                "undetermined."]
    if top == NO_TUMOUR_CLASS:
        return [f"The network finds no tumour on this slice ({format_percent(top_p)}).",
                "A tumour elsewhere in the brain, or one too small or faint for the model to see, is not ruled out."]
    return [f"The model's most likely type is {class_label(top)} ({format_percent(top_p)}); "
            f"the next most likely is {runner_up_text}."]


def _two_most_likely(probabilities: dict[str, float]) -> list[tuple[str, float]]:
    """The two most probable classes; a one-class model repeats its class so callers need no special case."""
    ranked = sorted(probabilities.items(), key=lambda item: item[1], reverse=True)
    return (ranked + ranked)[:2]


def _presence_sentences(analysis: Analysis) -> list[str]:
    if analysis.tumour_present is None or analysis.tumour_probability is None:
        return []
    probability = format_percent(analysis.tumour_probability)
    if analysis.tumour_present:
        return [f"Its tumour probability, one minus that of no tumour, is {probability}: a tumour is reported."]
    return [f"Its tumour probability, one minus that of no tumour, is {probability}: no tumour is reported."]


def _area_sentences(analysis: Analysis) -> list[str]:
    if analysis.mask_area_px is None:
        return []
    if analysis.mask_area_px == 0:
        return ["No tumour region is outlined."]
    shares = [f"{format_percent(analysis.mask_area_fraction, 1)} of the image"]
    if analysis.brain_area_fraction is not None:
        shares.append(f"{format_percent(analysis.brain_area_fraction, 1)} of the brain")
    size = f", about {analysis.mask_area_mm2:,.0f} mm²" if analysis.mask_area_mm2 is not None else ""
    return [f"The outlined region covers {' and '.join(shares)}{size}; "
            "an area on one slice is a rough guide, not a tumour volume."]
