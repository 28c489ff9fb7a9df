"""Pieces the Analyse, Study and PACS pages share: the loaded models and the patient fields of a report.

Kept apart from :mod:`pages.common` because loading models imports TensorFlow, which the metric pages never need.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages.common import missing_model_info
from core import session_results as sr
from core.cards import TUMOUR_NET, weights_dir
from core.registry import LoadedModel, load_available_models
from core.report import PATIENT_LABELS, PatientFields


@st.cache_resource(show_spinner="Loading the models…")
def load_models(folder: str, stamp: tuple) -> dict[str, LoadedModel]:
    """Every installed model, loaded once per weights stamp and shared by every page and session."""
    return load_available_models(Path(folder))


def tumour_network() -> tuple[LoadedModel, tuple]:
    """The installed tumour network and its weights stamp (a cache key); without it, the sentence naming the
    command that trains it, and the run stops."""
    folder = weights_dir()
    stamp = sr.weights_stamp(folder)
    model = load_models(str(folder), stamp).get(TUMOUR_NET)
    if model is None:
        missing_model_info(TUMOUR_NET)
        st.stop()
    return model, stamp


def patient_ui() -> PatientFields:
    """The optional patient fields of a PDF report (empty: a de-identified report)."""
    with st.expander("Patient and study details for the PDF report (optional; empty gives a de-identified report)"):
        columns = st.columns(3)
        fields = [field for field in PATIENT_LABELS if field != "notes"]
        values = {field: columns[number % 3].text_input(PATIENT_LABELS[field], key=f"patient_{field}")
                  for number, field in enumerate(fields)}
        values["notes"] = st.text_area(PATIENT_LABELS["notes"], key="patient_notes")
    return PatientFields(**values)
