"""Pieces the Analyse, Study and PACS pages share: the models loading in the background, and the patient fields.

Importing this module never imports TensorFlow: a page draws its uploader first, starts the load with
:func:`start_model_load`, and waits on it with :func:`installed_models` only when there is something to analyse.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from pathlib import Path

import streamlit as st

from app_pages.common import missing_model_info
from core.models.cards import TUMOUR_NET, weights_dir
from core.models.installed import Installed, models_present, start_loading, weights_stamp
from core.report.patient import PATIENT_FIELDS, PatientFields

LOG = logging.getLogger(__name__)
LOAD_FAILED = ("The models could not be loaded because of an internal error; reload the page to try again, or report "
               "this.")
LOADING = "Loading TensorFlow and the models (once per server start)…"


@st.cache_resource(show_spinner=False)
def _loading(folder: str, stamp: tuple) -> Future[Installed]:
    """One background load per weights stamp, shared by every page and session."""
    return start_loading(Path(folder))


def start_model_load() -> bool:
    """Start loading the installed models in the background (once); False, after the sentence naming the command
    that trains the network, when none is installed."""
    folder = weights_dir()
    if not models_present(folder):
        missing_model_info(TUMOUR_NET)
        return False
    _loading(str(folder), weights_stamp(folder))
    return True


def installed_models() -> tuple[Installed, tuple]:
    """The loaded models and their weights stamp (a cache key), waiting for the background load with a message.

    A load that failed is one sentence (its type in the log), and is forgotten so that the next run tries again.
    """
    folder = weights_dir()
    stamp = weights_stamp(folder)
    future = _loading(str(folder), stamp)
    if not future.done():
        with st.spinner(LOADING):
            future.exception()
    if future.exception() is not None:
        LOG.error("Loading the models failed with %s", type(future.exception()).__name__)
        _loading.clear()
        st.error(LOAD_FAILED)
        st.stop()
    return future.result(), stamp


def tumour_network():
    """The installed tumour network (a :class:`core.models.registry.LoadedModel`) and its weights stamp; without it, the
    sentence naming the command that trains it, and the run stops."""
    installed, stamp = installed_models()
    model = installed.models.get(TUMOUR_NET)
    if model is None:
        missing_model_info(TUMOUR_NET)
        st.stop()
    return model, stamp


def patient_ui() -> PatientFields:
    """The optional patient fields of a PDF report (empty: a de-identified report)."""
    with st.expander("Patient and study details for the PDF report (optional; empty gives a de-identified report)"):
        columns = st.columns(3)
        fields = [name for name in PATIENT_FIELDS if name != "notes"]
        values = {name: columns[number % 3].text_input(PATIENT_FIELDS[name].label, key=f"patient_{name}")
                  for number, name in enumerate(fields)}
        values["notes"] = st.text_area(PATIENT_FIELDS["notes"].label, key="patient_notes")
    return PatientFields(**values)
