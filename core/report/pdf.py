"""The downloadable PDF report: a first page of context (patient, models and how well they tested), then one page per
slice with its images, numbers and a plain-language summary, or one page per whole study (:func:`build_study_report`)
with its volume, the tumour probability along the slices and three key slices.

Built in memory with fpdf2. Text is set in DejaVu Sans, shipped in ``core/fonts`` with its licence, because the PDF
core fonts cover Latin-1 only and names such as "Zażółć Gęślą" must print. Images are downscaled to at most
:data:`MAX_IMAGE_SIDE_PX` and stored as JPEG, which keeps a 20-slice report under 10 MB.
"""

from __future__ import annotations

import io
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from fpdf import FPDF
from fpdf.fonts import FontFace
from PIL import Image

from core.models.analysis import Analysis
from core.models.cards import MODELS, TUMOUR_NET
from core.present.findings import LOW_CONFIDENCE, describe_findings, format_percent
from core.present.overlay import overlay_heatmap, overlay_mask, to_rgb
from core.present.summaries import DISCLAIMER, NOT_AVAILABLE, class_label, format_date, headline_metrics
from core.report.patient import PatientFields

FONT_DIR = Path(__file__).resolve().parents[1] / "fonts"
FONT_FAMILY = "DejaVuSans"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
"""fpdf2 style -> file in :data:`FONT_DIR`."""
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

TITLE = "Brain MRI analysis report"
MAX_IMAGE_SIDE_PX = 512
"""Longest image side embedded; a 57 mm wide picture at 512 px prints at about 230 dpi."""
JPEG_QUALITY = 85
MARGIN_MM = 15
FOOTER_MM = 22
"""Space kept free at the bottom of each page for the two footer lines."""
IMAGE_GAP_MM = 4
CURVE_HEIGHT_MM = 35
CURVE_LABELS_MM = 16
"""Room the curve's heading and axis labels take besides the plot."""
CURVE_COLOUR = (31, 95, 168)
THRESHOLD_COLOUR = (213, 94, 0)
"""The curve and threshold colours of :func:`core.present.figures.make_slice_curve_figure`."""
SLICES_INTRO = ("Each following page shows one MRI slice: the image, the tumour region the network outlined, a heatmap "
                "of where it looked for the tumour type, its numbers and a plain-language summary.")
STUDY_INTRO = ("Each following page shows one whole study (a volume or a series of slices): the tumour volume, the "
               "tumour probability on every slice, the type over the slices where a tumour was found, and the slice "
               "where the tumour is largest with its neighbours, outlined in red.")
GREY = (90, 90, 90)
HEADINGS = FontFace(emphasis="BOLD", fill_color=(232, 232, 232))
EMPHASIS = FontFace(emphasis="BOLD")

@dataclass
class ReportStudy:
    """One whole study as its report page shows it (see :func:`core.study.report.make_report_study`).

    Attributes:
        measures: (label, value) rows: volume, voxel volume, slices, largest slice, type, highest probability.
        curve: per slice, the tumour probability (None for a blank slice).
        key_slices: (H x W x 3 uint8 image with the outline, caption) of the slices shown.
    """

    name: str
    summary: str
    geometry_note: str | None
    measures: list[tuple[str, str]]
    type: str
    probabilities: dict[str, float]
    curve: list[float | None]
    threshold: float
    key_slices: list[tuple[np.ndarray, str]]


@dataclass
class ReportSlice:
    """One slice as the report shows it; the images are H x W x 3 uint8 RGB, None where a model is missing."""

    name: str
    analysis: Analysis
    original: np.ndarray
    overlay: np.ndarray | None
    heatmap_overlay: np.ndarray | None
    heatmap_method: str = "Grad-CAM++"


def make_report_slice(name: str, pixels: np.ndarray, analysis: Analysis, heatmap: np.ndarray | None = None,
                      heatmap_method: str = "Grad-CAM++") -> ReportSlice:
    """Render the three pictures of one slice with the default overlay settings.

    Args:
        name: how the slice is titled, usually its file name.
        pixels: H x W float slice in [0, 1] (``ScanSlice.pixels``).
        analysis: the slice's result; its mask (if any) is drawn in red.
        heatmap: H x W heatmap in [0, 1] from :func:`core.models.gradcam.gradcam_heatmap`, or None for no heatmap.
        heatmap_method: the method that made ``heatmap``, for the caption.
    """
    overlay = None if analysis.mask is None else overlay_mask(pixels, analysis.mask)
    heatmap_overlay = None if heatmap is None else overlay_heatmap(pixels, heatmap)
    return ReportSlice(name, analysis, to_rgb(pixels), overlay, heatmap_overlay, heatmap_method)


def read_app_version(pyproject: Path = PYPROJECT) -> str:
    """The project version from ``pyproject.toml``, the one place it is written."""
    with open(pyproject, "rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def build_report(slices: Sequence[ReportSlice], patient: PatientFields | None, cards: Mapping[str, Mapping],
                 app_version: str, generated_at: datetime | None = None) -> bytes:
    """The whole report as PDF bytes.

    Args:
        slices: the slices, in the order their pages appear.
        patient: details to print; None or all fields empty prints "De-identified".
        cards: model cards by name (``core.models.cards.read_cards()``); missing cards or keys print "not available".
        app_version: printed under the title, so a report can be traced to the code that made it.
        generated_at: the time printed as generation time (UTC); None means now.

    Raises:
        ValueError: ``slices`` is empty.
    """
    if not slices:
        raise ValueError("A report needs at least one analysed slice.")
    pdf = _first_page(patient, cards, app_version, generated_at, SLICES_INTRO)
    if len(slices) > 1:
        _write_overview(pdf, slices)
    for number, report_slice in enumerate(slices, start=1):
        pdf.add_page()
        _write_slice(pdf, report_slice, f"Slice {number} of {len(slices)}: {report_slice.name}")
    return bytes(pdf.output())


def build_study_report(studies: Sequence[ReportStudy], patient: PatientFields | None, cards: Mapping[str, Mapping],
                       app_version: str, generated_at: datetime | None = None) -> bytes:
    """The first page as in :func:`build_report`, then one page per study.

    Raises:
        ValueError: ``studies`` is empty.
    """
    if not studies:
        raise ValueError("A study report needs at least one analysed study.")
    pdf = _first_page(patient, cards, app_version, generated_at, STUDY_INTRO)
    for number, study in enumerate(studies, start=1):
        pdf.add_page()
        _write_study(pdf, study, f"Study {number} of {len(studies)}: {study.name}")
    return bytes(pdf.output())


def _first_page(patient: PatientFields | None, cards: Mapping[str, Mapping], app_version: str,
                generated_at: datetime | None, intro: str) -> FPDF:
    """A new report with its title, patient and model block written on page 1."""
    generated_at = (generated_at or datetime.now(UTC)).astimezone(UTC)
    patient = patient or PatientFields()
    subject = patient.name.strip() or patient.patient_id.strip() or "De-identified"
    pdf = _ReportPDF(running_title=f"{TITLE} · {subject} · generated {generated_at:%Y-%m-%d %H:%M} UTC")
    pdf.set_title(TITLE)
    pdf.set_creator(f"brain-mri-dashboard {app_version}")
    pdf.set_creation_date(generated_at)
    pdf.set_lang("en")
    pdf.add_page()
    _write_title(pdf, generated_at, app_version, intro)
    _write_patient(pdf, patient.filled())
    _write_models(pdf, cards)
    return pdf


class _ReportPDF(FPDF):
    """A4 pages with the disclaimer and "Page N of M" in every footer, and who and when in every later header."""

    def __init__(self, running_title: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.running_title = running_title
        for style, file_name in FONT_FILES.items():
            self.add_font(FONT_FAMILY, style, FONT_DIR / file_name)
        self.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
        self.set_auto_page_break(True, margin=FOOTER_MM)

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font(FONT_FAMILY, size=7.5)
        self.set_text_color(*GREY)
        self.cell(0, 4, self.running_title, new_x="LMARGIN", new_y="NEXT")
        self.line(self.l_margin, self.y + 1, self.w - self.r_margin, self.y + 1)
        self.set_text_color(0)
        self.ln(5)

    def footer(self) -> None:
        self.set_y(-FOOTER_MM + 6)
        self.set_font(FONT_FAMILY, "B", 7.5)
        self.cell(0, 4, DISCLAIMER, align="C", new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT_FAMILY, size=7.5)
        self.cell(0, 4, f"Page {self.page_no()} of {{nb}}", align="C")


def _heading(pdf: FPDF, text: str, size: float = 12) -> None:
    pdf.set_font(FONT_FAMILY, "B", size)
    pdf.multi_cell(0, size * 0.5, text, align="LEFT", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1.5)
    pdf.set_font(FONT_FAMILY, size=9.5)


def _paragraph(pdf: FPDF, text: str) -> None:
    pdf.set_font(FONT_FAMILY, size=9.5)
    pdf.multi_cell(0, 4.8, text, align="LEFT", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)


def _write_title(pdf: FPDF, generated_at: datetime, app_version: str, intro: str) -> None:
    pdf.set_font(FONT_FAMILY, "B", 18)
    pdf.cell(0, 10, TITLE, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT_FAMILY, size=9)
    pdf.set_text_color(*GREY)
    pdf.cell(0, 5, f"Generated {generated_at:%Y-%m-%d %H:%M} UTC · app version {app_version}",
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)
    pdf.ln(4)
    _paragraph(pdf, f"{intro} The network was trained on public research data sets and can be wrong.")


def _write_patient(pdf: FPDF, rows: list[tuple[str, str]]) -> None:
    _heading(pdf, "Patient and study")
    if not rows:
        _paragraph(pdf, "De-identified: no patient or study details were entered.")
        return
    _key_value_table(pdf, rows, width=pdf.epw)


def _write_models(pdf: FPDF, cards: Mapping[str, Mapping]) -> None:
    _heading(pdf, "Models and how well they tested")
    with pdf.table(col_widths=(0.9, 0.8, 3.3), text_align="LEFT", line_height=4.5, padding=1.2,
                   headings_style=HEADINGS) as table:
        table.row(["Model", "Trained", "Results on held-out data"])
        for name, model in MODELS.items():
            card = cards.get(name)
            table.row([model.title, format_date(card), _performance_text(name, card)])
    pdf.ln(5)


def _performance_text(name: str, card: Mapping | None) -> str:
    """E.g. "official test accuracy 95.2%; macro-F1 0.941; ..."; "not available" for a model without a card."""
    if card is None:
        return f"{NOT_AVAILABLE} (model not installed)"
    return "; ".join(f"{label} {value}" for label, value in headline_metrics(name, card, lead_only=False).items())


def _write_overview(pdf: FPDF, slices: Sequence[ReportSlice]) -> None:
    _heading(pdf, "Slices in this report")
    pdf.set_font(FONT_FAMILY, size=8.5)
    with pdf.table(col_widths=(0.3, 2.6, 1.5, 1.25, 1.05, 1.3), text_align="LEFT", line_height=4.2, padding=1,
                   headings_style=HEADINGS) as table:
        table.row(["#", "Slice", "Most likely type", "Tumour (presence)", "Area (% of image)", "Check"])
        for number, report_slice in enumerate(slices, start=1):
            analysis = report_slice.analysis
            table.row([str(number), report_slice.name, _type_text(analysis), _presence_text(analysis),
                       _optional_percent(analysis.mask_area_fraction), _checks_text(analysis)])


def _type_text(analysis: Analysis) -> str:
    if analysis.predicted_type is None or analysis.type_confidence is None:
        return NOT_AVAILABLE
    return f"{class_label(analysis.predicted_type)} ({format_percent(analysis.type_confidence)})"


def _presence_text(analysis: Analysis) -> str:
    if analysis.tumour_present is None or analysis.tumour_probability is None:
        return NOT_AVAILABLE
    verdict = "found" if analysis.tumour_present else "not found"
    return f"{verdict} ({format_percent(analysis.tumour_probability)})"


def _optional_percent(fraction: float | None) -> str:
    return NOT_AVAILABLE if fraction is None else format_percent(fraction, 1)


def _checks_text(analysis: Analysis) -> str:
    """What needs a closer look on a slice, for the overview table."""
    checks = []
    if analysis.disagreements:
        checks.append("answers disagree")
    if analysis.type_confidence is not None and analysis.type_confidence < LOW_CONFIDENCE:
        checks.append("uncertain type")
    return ", ".join(checks) or "—"


def _write_slice(pdf: FPDF, report_slice: ReportSlice, title: str) -> None:
    analysis = report_slice.analysis
    _heading(pdf, title, size=13)
    _write_images(pdf, report_slice)
    _heading(pdf, "Summary")
    _paragraph(pdf, describe_findings(analysis))
    if analysis.type_probabilities:
        _heading(pdf, "Tumour type probabilities")
        _write_probabilities(pdf, analysis.type_probabilities, analysis.predicted_type)
    _heading(pdf, "Presence and size")
    _write_measurements(pdf, analysis)
    _heading(pdf, "Disagreement between the answers")
    _paragraph(pdf, _disagreement_text(analysis))


def _disagreement_text(analysis: Analysis) -> str:
    if analysis.disagreements:
        return "\n".join(f"• {note}" for note in analysis.disagreements)
    if analysis.missing_models:
        return "Not checked: the tumour network is not installed."
    return "None: type, presence and outline come from one network and agree on this slice."


def _write_images(pdf: FPDF, report_slice: ReportSlice) -> None:
    """Original, mask overlay and heatmap in three equal square slots; a missing picture gets a framed note."""
    missing = report_slice.analysis.missing_models
    panels = [
        (report_slice.original, "Original", ""),
        (report_slice.overlay, "Tumour region (red)",
         "Tumour network not installed" if TUMOUR_NET in missing else "No segmentation"),
        (report_slice.heatmap_overlay, f"Where the network looked ({report_slice.heatmap_method})",
         "Tumour network not installed" if TUMOUR_NET in missing else "No heatmap computed"),
    ]
    _write_image_row(pdf, panels)


def _write_image_row(pdf: FPDF, panels: Sequence[tuple[np.ndarray | None, str, str]]) -> None:
    """(image, caption, note when the image is absent) in equal square slots across the page."""
    slot = (pdf.epw - 2 * IMAGE_GAP_MM) / len(panels)
    top = pdf.y
    for index, (image, caption, absent) in enumerate(panels):
        x = pdf.l_margin + index * (slot + IMAGE_GAP_MM)
        if image is None:
            _absent_panel(pdf, x, top, slot, absent)
        else:
            pdf.image(_jpeg(image), x=x, y=top, w=slot, h=slot, keep_aspect_ratio=True)
        pdf.set_xy(x, top + slot + 1)
        pdf.set_font(FONT_FAMILY, size=8)
        pdf.multi_cell(slot, 3.6, caption, align="C")
    pdf.set_xy(pdf.l_margin, top + slot + 10)


def _absent_panel(pdf: FPDF, x: float, y: float, size: float, text: str) -> None:
    pdf.set_draw_color(180)
    pdf.rect(x, y, size, size)
    pdf.set_draw_color(0)
    pdf.set_xy(x, y + size / 2 - 2)
    pdf.set_font(FONT_FAMILY, size=8.5)
    pdf.set_text_color(*GREY)
    pdf.multi_cell(size, 4, text, align="C")
    pdf.set_text_color(0)


def _jpeg(image: np.ndarray) -> io.BytesIO:
    """H x W x 3 uint8 -> JPEG of at most MAX_IMAGE_SIDE_PX per side; grey images are stored with one channel."""
    picture = Image.fromarray(image)
    if np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]):
        picture = picture.convert("L")
    picture.thumbnail((MAX_IMAGE_SIDE_PX, MAX_IMAGE_SIDE_PX), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    buffer.seek(0)
    return buffer


def _write_probabilities(pdf: FPDF, probabilities: Mapping[str, float], chosen: str | None) -> None:
    """One row per class in the model's own order; the ``chosen`` class is set in bold."""
    with pdf.table(width=100, col_widths=(2, 1), align="LEFT", text_align=("LEFT", "RIGHT"), line_height=4.5,
                   padding=1.2, headings_style=HEADINGS) as table:
        table.row(["Class", "Probability"])
        for name, probability in probabilities.items():
            style = EMPHASIS if name == chosen else None
            table.row([class_label(name), format_percent(probability, 1)], style=style)
    pdf.ln(4)


def _write_measurements(pdf: FPDF, analysis: Analysis) -> None:
    no_mask = _absent_text(analysis, TUMOUR_NET)
    has_mask = analysis.mask_area_px is not None
    rows = [
        ("Tumour presence",
         _absent_text(analysis, TUMOUR_NET) if analysis.tumour_present is None else _presence_text(analysis)),
        ("Tumour area", f"{analysis.mask_area_px:,} pixels" if has_mask else no_mask),
        ("Share of the image", _optional_percent(analysis.mask_area_fraction) if has_mask else no_mask),
        ("Share of the brain", _optional_percent(analysis.brain_area_fraction) if has_mask else no_mask),
        ("Area in mm²", _area_mm2_text(analysis.mask_area_mm2) if has_mask else no_mask),
    ]
    _key_value_table(pdf, rows, width=150)


def _absent_text(analysis: Analysis, model: str) -> str:
    """"not available", saying why when the model that would give the value is not installed."""
    if model not in analysis.missing_models:
        return NOT_AVAILABLE
    return f"{NOT_AVAILABLE} ({MODELS[model].title.lower()} not installed)"


def _area_mm2_text(area_mm2: float | None) -> str:
    return "not known (the file states no pixel spacing)" if area_mm2 is None else f"{area_mm2:,.1f} mm²"


def _key_value_table(pdf: FPDF, rows: list[tuple[str, str]], width: float) -> None:
    """A two-column table without headings; labels in bold."""
    with pdf.table(width=width, col_widths=(1, 2), align="LEFT", first_row_as_headings=False, text_align="LEFT",
                   line_height=4.5, padding=1.2) as table:
        for label, value in rows:
            row = table.row()
            row.cell(label, style=EMPHASIS)
            row.cell(value)
    pdf.ln(4)


def _write_study(pdf: FPDF, study: ReportStudy, title: str) -> None:
    _heading(pdf, title, size=13)
    _write_image_row(pdf, [(image, caption, "") for image, caption in study.key_slices])
    _heading(pdf, "Summary")
    _paragraph(pdf, study.summary if study.geometry_note is None else f"{study.summary} {study.geometry_note}")
    _heading(pdf, "Measurements")
    _key_value_table(pdf, study.measures, width=150)
    _heading(pdf, "Tumour type over the tumour-bearing slices")
    _write_probabilities(pdf, study.probabilities, study.type)
    if pdf.y + CURVE_HEIGHT_MM + CURVE_LABELS_MM > pdf.page_break_trigger:
        pdf.add_page()
    _heading(pdf, "Tumour probability per slice")
    _write_curve(pdf, study.curve, study.threshold)


def _write_curve(pdf: FPDF, values: Sequence[float | None], threshold: float) -> None:
    """Tumour probability (0-100 %) against slice index, drawn with lines; a blank slice (None) breaks the line."""
    left, top = pdf.l_margin + 12, pdf.y + 2
    width, height = pdf.epw - 14, CURVE_HEIGHT_MM

    def y_at(probability: float) -> float:  # 2 mm inside the frame, so a line at 0 % or 100 % stays visible
        return top + 2 + (height - 4) * (1.0 - probability)

    points = [None if value is None else (left + width * index / max(len(values) - 1, 1), y_at(value))
              for index, value in enumerate(values)]
    pdf.set_font(FONT_FAMILY, size=7.5)
    with pdf.local_context(draw_color=(200, 200, 200)):
        pdf.rect(left, top, width, height)
    for level in (0.0, 0.5, 1.0):
        pdf.text(pdf.l_margin, y_at(level) + 1, f"{level:.0%}")
    threshold_y = y_at(threshold)
    with pdf.local_context(draw_color=THRESHOLD_COLOUR, dash_pattern={"dash": 1.2, "gap": 1.2}):
        pdf.line(left, threshold_y, left + width, threshold_y)
    pdf.text(left + 1, threshold_y - 1, f"presence threshold {threshold:.1%}")
    with pdf.local_context(draw_color=CURVE_COLOUR, line_width=0.5):
        for run in _runs(points):
            pdf.polyline(run if len(run) > 1 else [(run[0][0] - 0.4, run[0][1]), (run[0][0] + 0.4, run[0][1])])
    pdf.text(left - 1, top + height + 4, "0")
    pdf.text(left + width - 2, top + height + 4, str(len(values) - 1))
    pdf.text(left + width / 2 - 4, top + height + 4, "slice")
    pdf.set_xy(pdf.l_margin, top + height + 8)


def _runs(points: Sequence[tuple[float, float] | None]) -> list[list[tuple[float, float]]]:
    """The stretches of consecutive points between Nones."""
    runs: list[list[tuple[float, float]]] = [[]]
    for point in points:
        if point is None:
            runs.append([])
        else:
            runs[-1].append(point)
    return [run for run in runs if run]
