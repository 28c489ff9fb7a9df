"""The Analyse page once the models are loaded: the table of every file's answers and one slice in detail.

Imported by :mod:`app_pages.analyse` only after the background load finished, because it imports TensorFlow."""

import logging
from pathlib import Path

import streamlit as st

from app_pages.access_ui import audit_analyses, audited_download
from app_pages.analysis_ui import patient_ui
from app_pages.common import load_cards, missing_model_info, panels_ui
from core.app import session_results as sr
from core.io.formats import WINDOWED_FORMATS
from core.io.read import SliceChoice, VolumeInfo
from core.models.analysis import FileResult, analyse_file, content_digest
from core.models.cards import TUMOUR_NET
from core.models.gradcam import ATTENTION, available_methods, default_method
from core.models.installed import Installed
from core.models.ood import describe_flag
from core.models.uncertainty import describe_spread
from core.present.figures import make_probability_figure
from core.present.findings import describe_findings
from core.present.overlay import to_rgb
from core.present.summaries import class_label
from core.report.patient import PatientFields

LOG = logging.getLogger(__name__)
INTERNAL_ERROR = "{name} could not be analysed because of an internal error; please try another file or report this."


@st.cache_data(show_spinner=False, max_entries=256)
def describe(digest: str, _data: bytes, _name: str) -> VolumeInfo | None:
    return sr.describe_upload(_data, _name)


@st.cache_data(show_spinner="Analysing…", max_entries=256)
def analyse(digest: str, name: str, choice: SliceChoice | None, stamp: tuple, tta: bool, _data: bytes,
            _models: dict, _detector):
    return analyse_file(_data, name, _models, choice, _detector, tta)


@st.cache_data(show_spinner="Computing the heatmap…", max_entries=256)
def heatmap(digest: str, choice: SliceChoice | None, method: str, target: str, stamp: tuple, _result, _models: dict):
    return sr.explain(_result, _models, method, target)


def analyse_safely(name: str, data: bytes, digest: str, choice: SliceChoice | None, stamp: tuple,
                   models: dict, detector, tta: bool) -> FileResult:
    try:
        return analyse(digest, name, choice, stamp, tta, data, models, detector)
    except Exception as err:  # a bug, not a bad file: one sentence for the user, only the type in the log
        LOG.error("Analysing an upload failed with %s", type(err).__name__)
        return FileResult(name, digest, error=INTERNAL_ERROR.format(name=name))


def slice_picker_ui(info: VolumeInfo, key: str, current: SliceChoice) -> SliceChoice:
    """Plane, slice, frame, channel and display window of a file holding several slices."""
    st.caption(f"This {info.source_format} file holds several slices; choose the one to analyse.")
    columns = iter(st.columns(6))
    axis, index, frame, channel = current.axis, current.index, current.frame, current.channel
    if len(info.slice_axes) > 1:
        axis = next(columns).selectbox("Plane", info.slice_axes, format_func=lambda a: info.axes[a], key=f"{key}_axis",
                                       index=info.slice_axes.index(axis) if axis in info.slice_axes else 0)
    if axis is not None and info.shape[axis] > 1:
        start = index if axis == current.axis and index is not None else info.shape[axis] // 2
        index = next(columns).slider("Slice", 0, info.shape[axis] - 1, start, key=f"{key}_index_{axis}")
    if info.frames > 1:
        frame = next(columns).slider("Time point" if "time" in info.axes else "Frame", 0, info.frames - 1,
                                     frame or 0, key=f"{key}_frame")
    if len(info.channels) > 1:
        channel = next(columns).selectbox("Channel", range(len(info.channels)), index=channel or 0,
                                          format_func=lambda c: info.channels[c], key=f"{key}_channel")
    centre = width = None
    if info.source_format in WINDOWED_FORMATS:
        centre = next(columns).number_input("Window centre", value=current.window_center, key=f"{key}_centre",
                                            help="Empty: the file's own window, else its full range.")
        width = next(columns).number_input("Window width", value=current.window_width, key=f"{key}_width")
    return SliceChoice(axis, index, channel, frame, centre, width)


def view_controls_ui(class_names: list[str], methods: tuple[str, ...], method: str) -> sr.ViewSettings:
    """The overlay and heatmap controls in one row above the pictures; ``method`` is the card's default."""
    columns = st.columns([1.2, 2, 1.6, 1.6, 1.6])
    show = columns[0].toggle("Tumour overlay", value=True, key="show_mask")
    opacity = columns[1].slider("Overlay opacity", 0.0, 1.0, 0.4, 0.05, key="mask_opacity", disabled=not show)
    style = columns[2].radio("Overlay style", ["fill", "outline"], horizontal=True, key="mask_style",
                             disabled=not show)
    method = columns[3].selectbox("Heatmap method", methods, index=methods.index(method), key="cam_method",
                                  disabled=not class_names)
    target = columns[4].selectbox("Heatmap explains", sr.target_options(class_names), key="cam_class",
                                  format_func=class_label, disabled=not class_names or method == ATTENTION,
                                  help="Attention is the same for every type: where the type head read its features.")
    return sr.ViewSettings(show, opacity, style, method, target)


def table_ui(results: list[FileResult], models: dict, cards: dict) -> PatientFields:
    """The batch table with its downloads; files that failed also get their sentence as an error."""
    st.subheader(f"Results for {len(results)} file{'s' if len(results) > 1 else ''}")
    frame = sr.results_table(results)
    columns = {name: st.column_config.NumberColumn(format="%.1f", help=text)
               for name, text in sr.PERCENT_COLUMNS.items()}
    st.dataframe(frame, hide_index=True, width="stretch",
                 column_config={**columns, "Problem": st.column_config.TextColumn(width="large")})
    for result in results:
        if not result.ok:
            st.error(result.error)
    patient = patient_ui()
    with st.container(horizontal=True):
        st.download_button("Download table (CSV)", audited_download(lambda: sr.csv_bytes(frame),
                                                                    "brain_mri_results.csv", results),
                           "brain_mri_results.csv", "text/csv", key="download_csv", icon=":material/download:",
                           on_click="ignore")
        st.download_button("Download PDF report (all slices)", mime="application/pdf",
                           data=audited_download(lambda: sr.batch_report_pdf(results, models, None, patient, cards),
                                                 "brain_mri_report.pdf", [r for r in results if r.ok]),
                           file_name="brain_mri_report.pdf", key="download_pdf_batch",
                           icon=":material/picture_as_pdf:", disabled=not any(r.ok for r in results),
                           on_click="ignore")
    return patient


def slice_view_ui(result: FileResult, models: dict, choice: SliceChoice | None, stamp: tuple,
                  patient: PatientFields, cards: dict, detector, ood_note: str | None) -> None:
    """Everything about one slice: answers, pictures, probabilities, areas and the comparison with its own mask."""
    if not result.ok:
        st.error(result.error)
        return
    analysis = result.analysis
    if analysis.ood:
        st.warning(describe_flag(analysis.ood_score, detector.threshold_, analysis.ood_looks_like),
                   icon=":material/help:")
        if not st.toggle("Show predictions anyway", key=f"show_ood_{result.digest[:16]}"):
            st.image(to_rgb(result.scan.pixels), caption=f"Original ({result.scan.source_format})")
            return
    for column, (label, value, detail) in zip(st.columns(3), sr.headline(analysis), strict=True):
        column.metric(label, value, detail, delta_color="off", delta_arrow="off", border=True)
    st.markdown(describe_findings(analysis))
    for note in analysis.disagreements:
        st.warning(note, icon=":material/compare_arrows:")
    for name in analysis.missing_models:
        missing_model_info(name)
    if ood_note:
        st.info(ood_note)

    network = models.get(TUMOUR_NET)
    view = view_controls_ui(analysis.class_names, available_methods(network), default_method(network))
    cam = heatmap(result.digest, choice, view.cam_method, view.cam_target, stamp, result, models)
    panels_ui(sr.slice_panels(result, cam, view))

    chart, details = st.columns(2)
    if analysis.type_probabilities:
        chart.plotly_chart(make_probability_figure(analysis.type_probabilities), theme=None,
                           key="type_probabilities")
    if analysis.type_spread is not None:
        chart.markdown("**Stability over mirrored and shifted copies** (mean ± spread)\n\n"
                       + "\n".join(f"- {line}" for line in describe_spread(analysis.type_spread, class_label)))
    details.markdown("**Tumour area**\n\n| Measure | Value |\n|---|---|\n"
                     + "\n".join(f"| {label} | {value} |" for label, value in sr.area_details(analysis)))
    report_name = f"brain_mri_report_{Path(result.name).stem}.pdf"
    details.download_button("Download PDF report (this slice)", mime="application/pdf",
                            data=audited_download(lambda: sr.report_pdf([result], [cam], view.cam_method, patient,
                                                                        cards), report_name, [result]),
                            file_name=report_name, key="download_pdf_slice",
                            icon=":material/picture_as_pdf:", on_click="ignore")

    truth = sr.ground_truth_panels(result, view)
    if truth is not None:
        panels, dice = truth
        st.subheader("Compared with the mask stored in the file")
        st.markdown(sr.dice_sentence(dice))
        panels_ui(panels)


def render(uploads: list, tta: bool, installed: Installed, stamp: tuple) -> None:
    """The results of ``uploads`` (Streamlit uploaded files): the table with its downloads, then the chosen slice."""
    models, detector = installed.models, installed.detector
    files = [(upload.name, upload.getvalue()) for upload in uploads]
    digests = [content_digest(data) for _, data in files]
    table_area = st.container()
    st.divider()
    st.subheader("One slice in detail")
    selected = st.selectbox("Slice to view", range(len(files)), format_func=lambda i: files[i][0],
                            key="selected_slice")
    choices = st.session_state.setdefault("slice_choices", {})
    info = describe(digests[selected], files[selected][1], files[selected][0])
    if info is not None:
        key = digests[selected]
        choices[key] = slice_picker_ui(info, f"volume_{key[:16]}", choices.get(key, info.default))
    results = [analyse_safely(name, data, digest, choices.get(digest), stamp, models, detector, tta)
               for (name, data), digest in zip(files, digests, strict=True)]
    audit_analyses(results, choices)
    cards = load_cards()
    with table_area:
        patient = table_ui(results, models, cards)
    slice_view_ui(results[selected], models, choices.get(digests[selected]), stamp, patient, cards, detector,
                  installed.detector_note)
