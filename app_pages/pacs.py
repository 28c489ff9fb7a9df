"""PACS: find a patient's study on the hospital's PACS, analyse one of its MR series, send the results back as DICOM."""

import os
from collections.abc import Callable

import streamlit as st

from app_pages.access_ui import audit_study, current_viewer, read_secrets, record
from app_pages.analysis_ui import tumour_network
from app_pages.common import attempt as common_attempt
from app_pages.common import load_cards
from core.app import audit
from core.models.cards import TUMOUR_NET, weights_dir
from core.pacs import view as pv
from core.pacs.client import PacsClient, StudyQuery, search_sentence
from core.pacs.connection import PacsError, read_config
from core.pacs.export import read_model_version, send_results
from core.pacs.study import fetch_and_analyse, parse_instance_numbers
from core.present.figures import make_probability_figure
from core.present.overlay import overlay_mask
from core.study import view as sv
from core.study.report import summary_sentence

INTERNAL_ERROR = "The PACS request failed because of an internal error; please try again or report this."
STUDIES, SERIES, ANALYSIS, SENT = "pacs_studies", "pacs_series_list", "pacs_analysis", "pacs_sent"


def attempt(action: Callable):
    """``action()``, or None after showing its one sentence (:func:`app_pages.common.attempt`)."""
    return common_attempt(action, "A PACS request", INTERNAL_ERROR)


def search_form_ui() -> StudyQuery | None:
    """The search form; the query once it is submitted, else None."""
    with st.form("pacs_search"):
        columns = st.columns([1, 1, 1.3, 0.7])
        patient_id = columns[0].text_input("Patient ID", key="pacs_patient_id")
        name = columns[1].text_input("Patient name", key="pacs_patient_name", help="Family name first; a prefix "
                                     "matches (Doe finds Doe^Jane), * and ? are wildcards.")
        dates = columns[2].date_input("Study date (from, to)", value=(), key="pacs_dates", format="YYYY-MM-DD")
        only_mr = columns[3].checkbox("MR only", value=True, key="pacs_only_mr")
        if not st.form_submit_button("Search", icon=":material/search:", key="pacs_search_button"):
            return None
    dates = (*dates, None, None)
    return StudyQuery(patient_id, name, dates[0], dates[1], "MR" if only_mr else None)


def series_of(client: PacsClient, study_uid: str) -> list | None:
    """The study's series, listed once per chosen study (None after showing why they could not be listed)."""
    held = st.session_state.get(SERIES)
    if held is None or held[0] != study_uid:
        listing = attempt(lambda: client.list_series(study_uid))
        if listing is None:
            return None
        st.session_state[SERIES] = (study_uid, listing)
    return st.session_state[SERIES][1]


def results_ui(view: sv.StudyView) -> None:
    st.subheader(view.title)
    st.write(summary_sentence(view.result))
    if view.result.geometry_note:
        st.warning(view.result.geometry_note, icon=":material/straighten:")
    st.dataframe([{"Measure": m.label, "Value": m.value, "Detail": m.detail or ""}
                  for m in sv.study_measures(view.volume, view.result)], hide_index=True, key="pacs_measures")
    columns = st.columns(2)
    focus = view.focus_slice
    columns[0].image(overlay_mask(view.volume.pixels[focus], view.result.mask[focus]),
                     caption=sv.slice_caption(view, focus), width="stretch")
    columns[1].plotly_chart(make_probability_figure(view.result.probabilities, "Tumour type"), theme=None,
                            key="pacs_type")
    st.plotly_chart(sv.slice_curve_figure(view, focus), theme=None, key="pacs_curve")


st.title("PACS")
try:
    config = read_config(read_secrets(), os.environ)
except PacsError as err:  # not configured (or misconfigured): what to set, as for a missing model
    st.info(str(err))
    st.stop()
st.caption(f"DICOMweb service at {config.server}")
if config.transport_note:
    st.warning(config.transport_note, icon=":material/lock_open:")
client = PacsClient(config)

query = search_form_ui()
if query is not None:
    for slot in (SERIES, ANALYSIS, SENT):
        st.session_state.pop(slot, None)
    st.session_state[STUDIES] = attempt(lambda: client.search_studies(query))
studies = st.session_state.get(STUDIES)
if not studies:
    if studies is not None:
        st.info(search_sentence(studies))
    elif query is None:
        st.info("Search for a patient's studies by ID, name or date.")
    st.stop()
st.caption(search_sentence(studies))
st.dataframe(pv.study_table(studies), hide_index=True, key="pacs_study_table")
study = st.selectbox("Study", studies, index=None, format_func=pv.study_label, placeholder="Choose a study",
                     key="pacs_study")
if study is None:
    st.stop()
listing = series_of(client, study.uid)
if listing is None:
    st.stop()
st.dataframe(pv.series_table(listing), hide_index=True, key="pacs_series_table")
series = st.selectbox("Series", listing, index=pv.first_analysable(listing), format_func=lambda s: s.label,
                      key="pacs_series")
instances = st.text_input("Only these slices (instance numbers; empty analyses the whole series)",
                          key="pacs_instances", placeholder="e.g. 3-7, 10")

model = tumour_network()[0]
if st.button("Analyse", key="pacs_analyse", type="primary", icon=":material/radiology:"):
    st.session_state.pop(SENT, None)
    with st.spinner("Fetching the series and analysing every slice…"):
        st.session_state[ANALYSIS] = attempt(lambda: fetch_and_analyse(
            client, study.uid, series, model, parse_instance_numbers(instances) if instances.strip() else None))
analysis = st.session_state.get(ANALYSIS)
if analysis is None or analysis.series_uid != series.uid:
    st.stop()
audit_study(analysis.view, ())
results_ui(analysis.view)

if st.button("Send results to PACS", key="pacs_send", icon=":material/cloud_upload:",
             help="Stores a DICOM SEG, the outlined slices and the PDF report in this study."):
    with st.spinner("Sending the results…"):
        version = read_model_version(TUMOUR_NET, weights_dir())
        sent = attempt(lambda: send_results(client, analysis, version, load_cards()))
    if sent is not None:
        st.session_state[SENT] = pv.sent_sentence(sent, config.server)
        record(audit.AuditEvent("pacs_send", current_viewer().user or "", answer=audit.study_answer(
            analysis.view.result), detail=st.session_state[SENT]))
if st.session_state.get(SENT):
    st.success(st.session_state[SENT], icon=":material/check_circle:")
