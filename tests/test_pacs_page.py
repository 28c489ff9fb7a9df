"""The PACS page (AppTest): one sentence without a configured PACS, and against a real Orthanc the search table, the
series table, "Analyse" and "Send results to PACS", a non-MR series and a wrong password; credentials never shown.

Runs the page on its own (``app_pages/pacs.py``); the Orthanc parts skip where Orthanc is not installed.
"""

from __future__ import annotations

import pytest
from orthanc_server import Orthanc, SyntheticStudy, load_synthetic_study
from streamlit.testing.v1 import AppTest
from study_builders import CUBE_SLICES

from core.models.cards import WEIGHTS_ENV
from core.pacs.client import PacsClient
from core.pacs.connection import read_config

TIMEOUT = 90  # "Analyse" imports TensorFlow and loads the network on its first click
PAGE = "../app_pages/pacs.py"
VARIABLES = ("DICOMWEB_URL", "DICOMWEB_USERNAME", "DICOMWEB_PASSWORD", "DICOMWEB_TOKEN", "DICOMWEB_CA_BUNDLE")


@pytest.fixture
def environ(monkeypatch, tiny_weights):
    """A clean PACS environment on the tiny network; returns a function that sets the PACS variables."""
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv(WEIGHTS_ENV, str(tiny_weights))
    return lambda values: [monkeypatch.setenv(k, v) for k, v in values.items()]


@pytest.fixture(scope="module")
def study(orthanc: Orthanc) -> SyntheticStudy:
    return load_synthetic_study(orthanc, "P-PAGE", "Pagetest^Ada", "20240515")


def assert_no_exception(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def shown_text(at: AppTest) -> str:
    """Every sentence and caption on the page, to check that no credential is among them."""
    parts = [e.value for kind in ("info", "error", "warning", "success", "caption", "markdown") for e in at.get(kind)]
    return "\n".join(str(part) for part in parts)


def search(at: AppTest, patient_id: str) -> AppTest:
    at.text_input(key="pacs_patient_id").set_value(patient_id)
    at.button(key="pacs_search_button").click()
    return at.run()


def analyse_series(index: int) -> AppTest:
    """The page after searching the test patient, choosing the study and series ``index`` (0: CT, 1: MR) and
    clicking "Analyse"."""
    at = search(AppTest.from_file(PAGE, default_timeout=TIMEOUT).run(), "P-PAGE")
    at.selectbox(key="pacs_study").select_index(0).run()
    at.selectbox(key="pacs_series").select_index(index).run()
    at.button(key="pacs_analyse").click().run()
    assert_no_exception(at)
    return at


def test_without_a_configured_pacs_the_page_says_what_to_set(environ) -> None:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert_no_exception(at)
    assert [i.value for i in at.info] == ["No PACS is configured; set url in the [pacs] section of "
                                          ".streamlit/secrets.toml or the DICOMWEB_URL environment variable."]


def test_search_lists_the_study_then_its_series(environ, orthanc, study) -> None:
    environ(orthanc.environ)
    at = search(AppTest.from_file(PAGE, default_timeout=TIMEOUT).run(), "P-PAGE")
    assert_no_exception(at)
    assert at.caption[0].value == f"DICOMweb service at {orthanc.rest_url}"
    assert "1 matching study found." in [c.value for c in at.caption]
    table = at.dataframe[0].value
    assert list(table["Patient"]) == ["Pagetest, Ada"] and list(table["Date"]) == ["2024-05-15"]
    at.selectbox(key="pacs_study").select_index(0).run()
    series = at.dataframe[1].value
    assert list(series["Modality"]) == ["CT", "MR"] and list(series["Images"]) == [1, 8]
    assert orthanc.password not in shown_text(at)


def test_search_that_finds_nothing_says_so(environ, orthanc, study) -> None:
    environ(orthanc.environ)
    at = search(AppTest.from_file(PAGE, default_timeout=TIMEOUT).run(), "NOBODY")
    assert_no_exception(at)
    assert at.info[0].value.startswith("No study matches this search")


def test_analyse_then_send_stores_the_results_in_the_study(environ, orthanc, study) -> None:
    environ(orthanc.environ)
    at = analyse_series(1)
    assert any(m.value.startswith(f"A tumour was found on {len(CUBE_SLICES)} of") for m in at.markdown)
    at.button(key="pacs_send").click().run()
    assert_no_exception(at)
    assert at.success[0].value.startswith(f"Stored in the study on the PACS at {orthanc.rest_url}: a DICOM SEG")
    stored = {s.modality for s in PacsClient(read_config({}, orthanc.environ)).list_series(study.study_uid)}
    assert {"SEG", "OT", "DOC"} <= stored


def test_non_mr_series_gets_one_sentence(environ, orthanc, study) -> None:
    environ(orthanc.environ)
    at = analyse_series(0)
    assert [e.value for e in at.error] == ['Series 2 "HEAD CT" is a CT series, not MR; only MR series of the brain '
                                           "can be analysed."]


def test_wrong_password_gets_one_sentence_and_the_password_is_never_shown(environ, orthanc, study) -> None:
    environ({**orthanc.environ, "DICOMWEB_PASSWORD": "not-the-password"})
    at = search(AppTest.from_file(PAGE, default_timeout=TIMEOUT).run(), "P-PAGE")
    assert_no_exception(at)
    (error,) = at.error
    assert error.value.startswith(f"The PACS at {orthanc.rest_url} refused the sign-in (HTTP 401)")
    assert "not-the-password" not in shown_text(at)
