"""The background model load: pages draw their uploader before TensorFlow loads, and analyse once it has."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest
from fake_cards import write_fake_cards
from helpers import brain_slice, encode
from streamlit.testing.v1 import AppTest, app_test

from app_pages import analysis_ui
from benchmarks.apptest_support import NavigationPagesManager
from core.models.cards import WEIGHTS_ENV
from core.models.installed import Installed, load_installed, start_loading, weights_stamp

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 90


@pytest.fixture(autouse=True)
def navigation_only(monkeypatch):
    monkeypatch.setattr(app_test, "PagesManager", NavigationPagesManager)


@pytest.fixture
def held_load(monkeypatch):
    """Replace the background load by a future the test completes (or never does); the cached load is forgotten
    before and after, so no other test sees it."""
    future: Future[Installed] = Future()
    future.starts = 0

    def start(folder: Path) -> Future[Installed]:
        future.starts += 1
        return future

    analysis_ui._loading.clear()
    monkeypatch.setattr(analysis_ui, "start_loading", start)
    yield future
    analysis_ui._loading.clear()


def imports_tensorflow(code: str) -> bool:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys; print('tensorflow' in sys.modules)"], cwd=REPO,
                         capture_output=True, text=True, timeout=120, check=True)
    return out.stdout.strip().splitlines()[-1] == "True"


def test_weights_stamp_follows_cards_and_guard_arrays(tmp_path):
    card, arrays = tmp_path / "tumour_net.json", tmp_path / "ood.npz"
    card.write_text("{}")
    arrays.write_bytes(b"1")
    before = weights_stamp(tmp_path)
    card.write_text('{"task": "retrained"}')
    assert weights_stamp(tmp_path) != before
    before = weights_stamp(tmp_path)
    arrays.write_bytes(b"22")
    assert weights_stamp(tmp_path) != before


def test_the_page_modules_and_both_metric_pages_never_import_tensorflow(tmp_path):
    write_fake_cards(tmp_path / "weights", tmp_path / "data")
    assert not imports_tensorflow(
        "import app_pages.analysis_ui, app_pages.common, core.models.installed, core.report.patient")
    for page in ("app_pages/performance.py", "app_pages/model_card.py"):
        assert not imports_tensorflow(
            "import os; from streamlit.testing.v1 import AppTest, app_test\n"
            "from benchmarks.apptest_support import NavigationPagesManager\n"
            "app_test.PagesManager = NavigationPagesManager\n"
            f"os.environ[{WEIGHTS_ENV!r}] = {str(tmp_path / 'weights')!r}\n"
            f"at = AppTest.from_file('app.py', default_timeout=60).switch_page({page!r}).run()\n"
            "assert not at.exception and at.title, [e.message for e in at.exception]"), page


def test_the_load_runs_the_network_once_and_reports_a_missing_guard(tiny_weights):
    installed = start_loading(tiny_weights).result(timeout=TIMEOUT)
    assert set(installed.models) == {"tumour_net"}
    assert installed.detector is None and "fit_ood" in installed.detector_note
    assert load_installed(tiny_weights).models["tumour_net"].class_names == installed.models["tumour_net"].class_names


def test_the_uploader_is_drawn_while_the_models_are_still_loading(held_load, tiny_weights, monkeypatch):
    monkeypatch.setenv(WEIGHTS_ENV, str(tiny_weights))
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT).run()  # the load never finishes here
    assert not at.exception, [e.message for e in at.exception]
    assert at.file_uploader(key="upload_slices") is not None and at.toggle(key="use_tta") is not None
    assert not held_load.done()


def test_a_file_uploaded_during_the_load_is_analysed_once_it_finishes(held_load, tiny_weights, monkeypatch):
    monkeypatch.setenv(WEIGHTS_ENV, str(tiny_weights))
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT).run()
    finish = threading.Timer(1.0, lambda: held_load.set_result(load_installed(tiny_weights)))
    finish.start()
    at.file_uploader(key="upload_slices").set_value(("scan.png", encode(brain_slice(seed=4)), "image/png"))
    at.run()
    finish.join()
    assert not at.exception, [e.message for e in at.exception]
    assert list(at.dataframe[0].value["File"]) == ["scan.png"]


def test_a_failed_load_is_one_sentence_and_is_retried(held_load, tiny_weights, monkeypatch):
    monkeypatch.setenv(WEIGHTS_ENV, str(tiny_weights))
    held_load.set_exception(OSError("disk gone"))
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT).run()
    at.file_uploader(key="upload_slices").set_value(("scan.png", encode(np.zeros((8, 8), np.uint8)), "image/png"))
    at.run()
    assert [error.value for error in at.error] == [analysis_ui.LOAD_FAILED] and not at.exception
    starts = held_load.starts
    at.run()
    assert held_load.starts == starts + 1  # the failed load was forgotten, so this run started another
