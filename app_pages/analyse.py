"""Analyse: upload slices, read the network's answer per file in one table, then look at one slice in detail.

The title, uploader and toggle are drawn before TensorFlow is imported: the models load in the background
(:mod:`app_pages.analysis_ui`), and the results module, which imports TensorFlow, is imported once they are ready.
"""

import streamlit as st

from app_pages.analysis_ui import installed_models, start_model_load
from core.io.formats import ACCEPTED, ACCEPTED_EXTENSIONS


def results_ui(uploads: list, tta: bool) -> None:
    installed, stamp = installed_models()
    from app_pages.analyse_results import render  # imports TensorFlow, which the load above has imported already

    render(uploads, tta, installed, stamp)


st.title("Analyse")
if not start_model_load():
    st.stop()
uploads = st.file_uploader("Brain MRI slices", key="upload_slices", accept_multiple_files=True,
                           type=ACCEPTED_EXTENSIONS, help="Files stay in this session's memory and are never saved.")
tta = st.toggle("Stability check: also analyse mirrored and shifted copies of each slice", key="use_tta",
                help="Shows how much the tumour-type probabilities move between the copies (mean ± spread).")
if not uploads:
    st.info(f"Upload {ACCEPTED}, or several, to see the tumour type, presence and outline for each.")
    st.stop()
results_ui(uploads, tta)
