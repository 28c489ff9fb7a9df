"""Pieces the Analyse and Study pages share: the loaded models and the patient fields of a report.

Kept apart from :mod:`pages.common` because loading models imports TensorFlow, which the metric pages never need.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.registry import LoadedModel, load_available_models
from core.report import PATIENT_LABELS, PatientFields


@st.cache_resource(show_spinner="Loading the models…")
def load_models(folder: str, stamp: tuple) -> dict[str, LoadedModel]:
    """Every installed model, loaded once per weights stamp and shared by every page and session."""
    return load_available_models(Path(folder))


def patient_ui() -> PatientFields:
    """The optional patient fields of a PDF report (empty: a de-identified report)."""
    with st.expander("Patient and study details for the PDF report (optional; empty gives a de-identified report)"):
        columns = st.columns(3)
        fields = [field for field in PATIENT_LABELS if field != "notes"]
        values = {field: columns[number % 3].text_input(PATIENT_LABELS[field], key=f"patient_{field}")
                  for number, field in enumerate(fields)}
        values["notes"] = st.text_area(PATIENT_LABELS["notes"], key="patient_notes")
    return PatientFields(**values)
