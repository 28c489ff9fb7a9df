"""The Study page once the models are loaded: the study's volume, slice browser, per-slice curve and 3D view.

Imported by :mod:`app_pages.study` only after the background load finished, because it imports TensorFlow."""

from collections.abc import Callable

import streamlit as st

from app_pages.access_ui import audit_study, audited_download
from app_pages.analysis_ui import patient_ui
from app_pages.common import attempt, load_cards, panels_ui
from core.present.figures import make_probability_figure
from core.study import view as sv
from core.study.report import view_report_pdf
from core.study.series import SeriesInfo
from core.study.upload import list_series

INTERNAL_ERROR = ("The study could not be analysed because of an internal error; please try another upload or report "
                  "this.")


def remembered(slot: str, key: tuple, compute: Callable):
    """``compute()`` once per ``key`` in this session; only the latest key is kept, so an old study frees its memory.

    Slider moves and toggles rerun the page with the same key, so they never read or analyse the upload again.
    """
    held = st.session_state.get(slot)
    if held is None or held[0] != key:
        st.session_state[slot] = (key, compute())
    return st.session_state[slot][1]


def series_picker_ui(series: list[SeriesInfo]) -> str | None:
    """The UID of the series to analyse: the only one, or the user's choice among several (None until chosen)."""
    if len(series) <= 1:
        return None
    described = {info.uid: f"{info.description} · {info.slices} images · UID …{info.uid[-8:]}" for info in series}
    return st.selectbox(f"This upload holds {len(series)} DICOM series; choose the one to analyse", list(described),
                        index=None, format_func=described.get, placeholder="Choose a series", key="study_series")


def metrics_ui(measures: list[sv.Measure]) -> None:
    for start in range(0, len(measures), 3):
        for column, measure in zip(st.columns(3), measures[start : start + 3], strict=False):
            column.metric(measure.label, measure.value, measure.detail, delta_color="off", delta_arrow="off",
                          border=True)


@st.fragment
def slice_browser_ui(view: sv.StudyView) -> None:
    """Slider, overlay and heatmap toggles, the shown slice and the curve; a move reruns only this part."""
    controls = st.columns([4, 1.5, 2])
    index = view.focus_slice
    if view.slices > 1:
        index = controls[0].slider("Slice", 0, view.slices - 1, index, key=f"study_slice_{view.key[:16]}")
    show = controls[1].toggle("Tumour overlay", value=True, key="study_overlay")
    cam = controls[2].toggle("Heatmap of this slice", key="study_heatmap",
                             help=f"{view.heatmap_method} for the shown slice, computed when asked for.")
    st.caption(sv.slice_caption(view, index))
    panels_ui(sv.slice_panels(view, index, show, cam))
    st.plotly_chart(sv.slice_curve_figure(view, index), theme=None, key="study_curve")


def open_view(files: list[tuple[str, bytes]], model, stamp: tuple) -> sv.StudyView | None:
    """The analysed study (once per upload, series and weights), or None after saying what is missing or wrong."""
    key = sv.upload_key(files)

    def analysed() -> sv.StudyView | None:
        series = remembered("study_series_list", (key,), lambda: list_series(files))
        uid = series_picker_ui(series)
        if len(series) > 1 and uid is None:
            st.info("Choose a series to see its tumour volume, every slice and a 3D view.")
            return None
        with st.spinner("Analysing every slice…"):
            return remembered("study_view", (key, uid, stamp), lambda: sv.open_study(files, model, uid))
    return attempt(analysed, "Analysing a study", INTERNAL_ERROR)


def render(uploads: list, model, stamp: tuple) -> None:
    """Read the uploaded study, let the user pick a series, analyse it once and show everything about it."""
    files = [(upload.name, upload.getvalue()) for upload in uploads]
    view = open_view(files, model, stamp)
    if view is None:
        return
    audit_study(view, files)
    st.caption(view.description)
    if view.result.geometry_note:
        st.warning(view.result.geometry_note, icon=":material/straighten:")
    metrics_ui(sv.study_measures(view.volume, view.result))
    st.plotly_chart(make_probability_figure(view.result.probabilities, "Tumour type over the tumour-bearing slices"),
                    theme=None, key="study_type")
    st.subheader("Slices")
    slice_browser_ui(view)
    st.subheader("3D view")
    st.plotly_chart(view.surface_figure, theme=None, key="study_3d")
    patient = patient_ui()
    st.download_button("Download study report (PDF)", mime="application/pdf", key="download_study_pdf",
                       data=audited_download(lambda: view_report_pdf(view, patient, load_cards()),
                                             "brain_mri_study_report.pdf", files=files),
                       file_name="brain_mri_study_report.pdf", icon=":material/picture_as_pdf:",
                       on_click="ignore")
