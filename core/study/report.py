"""The study page of the PDF report: what the Study page shows, as :class:`core.report.pdf.ReportStudy`.

The measurements are the very :func:`core.study.view.study_measures` the page shows, so page and report cannot
disagree; the key slices are the largest tumour slice and its neighbours with the tumour outlined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.present.overlay import overlay_mask
from core.present.summaries import class_label
from core.report.patient import PatientFields
from core.report.pdf import ReportStudy, build_study_report, read_app_version
from core.study.analyse import StudyResult
from core.study.view import StudyView, focus_slice, key_slices, study_measures
from core.study.volume import Volume

OUTLINE_OPACITY = 1.0
"""The outline is drawn solid: a printed page has no overlay toggle to compare with."""


def make_report_study(volume: Volume, result: StudyResult, threshold: float, name: str | None = None) -> ReportStudy:
    """One study's report page content, titled ``name`` (default the volume's); ``threshold`` is the card's presence
    threshold, drawn on the curve."""
    measures = [(m.label, m.value if m.detail is None else f"{m.value} ({m.detail})")
                for m in study_measures(volume, result)]
    pictures = [(overlay_mask(volume.pixels[index], result.mask[index], OUTLINE_OPACITY, "outline"),
                 f"Slice {index} ({_role(index, result)})") for index in key_slices(result)]
    return ReportStudy(name=name or volume.name, summary=summary_sentence(result),
                       geometry_note=result.geometry_note, measures=measures, type=result.type,
                       probabilities=result.probabilities, curve=result.per_slice_tumour_probability,
                       threshold=threshold, key_slices=pictures)


def _role(index: int, result: StudyResult) -> str:
    if index != focus_slice(result):
        return "neighbour"
    return "largest tumour area" if index == result.largest_slice else "highest tumour probability"


def summary_sentence(result: StudyResult) -> str:
    """E.g. "A tumour was found on 4 of 6 analysed slices; the most likely type is glioma (93%)."."""
    analysed = [r for r in result.readings if r is not None]
    found = sum(r.tumour_present for r in analysed)
    if not found:
        return f"No tumour was found on any of the {len(analysed)} analysed slices."
    return (f"A tumour was found on {found} of {len(analysed)} analysed slices; the most likely type over those "
            f"slices is {class_label(result.type)} ({result.probabilities[result.type]:.0%}).")


def study_report_pdf(studies: Sequence[ReportStudy], patient: PatientFields | None,
                     cards: Mapping[str, Mapping]) -> bytes:
    """The report of ``studies`` with this app's version, as the page's download and ``--report`` write it."""
    return build_study_report(studies, patient, cards, read_app_version())


def view_report_pdf(view: StudyView, patient: PatientFields | None, cards: Mapping[str, Mapping]) -> bytes:
    """The report of the study shown on the Study page."""
    return study_report_pdf([make_report_study(view.volume, view.result, view.threshold, view.title)], patient, cards)
