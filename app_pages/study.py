"""Study: a whole NIfTI volume or DICOM series: tumour volume, slice browser, per-slice curve and a 3D view.

Like the Analyse page, the uploader is drawn before TensorFlow is imported; the results module imports it once the
background load (:mod:`app_pages.analysis_ui`) is done.
"""

import streamlit as st

from app_pages.analysis_ui import start_model_load, tumour_network
from core.study.upload import ACCEPTED_STUDY


def results_ui(uploads: list) -> None:
    model, stamp = tumour_network()
    from app_pages.study_results import render  # imports TensorFlow, which the load above has imported already

    render(uploads, model, stamp)


st.title("Study")
if not start_model_load():
    st.stop()
uploads = st.file_uploader("A whole study", key="upload_study", accept_multiple_files=True,
                           help="Files stay in this session's memory and are never saved.")
if not uploads:
    for slot in ("study_series_list", "study_view"):  # a removed upload frees its study
        st.session_state.pop(slot, None)
    st.info(f"Upload {ACCEPTED_STUDY} to see the tumour volume, every slice and a 3D view.")
    st.stop()
results_ui(uploads)
