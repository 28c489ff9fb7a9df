"""Privacy and safety: uploads never touch the disk, nothing connects to the network, telemetry is off, uploads are
limited in size."""

from __future__ import annotations

import builtins
import io
import os
import shutil
import socket
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from helpers import brain_slice, encode
from streamlit.testing.v1 import AppTest, app_test

from benchmarks.apptest_support import NavigationPagesManager
from core.app import session_results as sr
from core.models import ood
from core.models.analysis import analyse_file
from core.models.cards import WEIGHTS_ENV, read_cards
from core.models.preprocess import preprocess_slice
from core.models.registry import load_available_models
from core.models.uncertainty import predict_type_tta
from core.report.patient import PatientFields

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 90
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
UPLOAD = encode(brain_slice(128, 160, seed=11))
PHOTO = encode(np.random.default_rng(3).uniform(size=(120, 150)).astype(np.float32), "JPEG")


@pytest.fixture(autouse=True)
def navigation_only(monkeypatch):
    monkeypatch.setattr(app_test, "PagesManager", NavigationPagesManager)


@pytest.fixture(scope="module")
def weights(tiny_weights: Path, tmp_path_factory) -> Path:
    """The tiny models plus an out-of-distribution detector fitted on brain-like slices.

    The models are run once here, before any test watches the disk: TensorFlow's autograph writes the generated
    source of a traced function to the temp folder on its first call (code, never image data), which passing
    ``autograph=False`` to ``tf.function`` avoids altogether.
    """
    folder = tmp_path_factory.mktemp("privacy_weights")
    for path in tiny_weights.iterdir():
        shutil.copy(path, folder / path.name)
    classifier = load_available_models(folder)["tumour_net"]
    slices = np.stack([preprocess_slice(brain_slice(72, 96, seed=s), classifier.spec) for s in range(40)])
    ood.save_detector(ood.fit_detector(slices[:30], np.zeros(30, dtype=int), slices[30:], classifier), folder)
    analyse_file(encode(brain_slice(seed=99)), "warm-up.png", load_available_models(folder))
    return folder


@pytest.fixture
def disk_writes(monkeypatch, tmp_path) -> Callable[[], list[str]]:
    """A function listing every attempt to open a file for writing, and every file in a fresh temp folder, since
    the test started.

    ``open``, ``io.open`` and ``os.open`` (which ``tempfile``, ``pathlib``, Pillow and NumPy end up in) record
    write modes; Python's and TensorFlow's temp folder is pointed at an empty folder that must stay empty.
    """
    attempts: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def watched_open(file, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wax+"):
            attempts.append(f"open({file!r}, {mode!r})")
        return real_open(file, mode, *args, **kwargs)

    def watched_os_open(path, flags, *args, **kwargs):
        if flags & WRITE_FLAGS:
            attempts.append(f"os.open({path!r}, {flags:#o})")
        return real_os_open(path, flags, *args, **kwargs)

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(builtins, "open", watched_open)
    monkeypatch.setattr(io, "open", watched_open)
    monkeypatch.setattr(os, "open", watched_os_open)
    return lambda: attempts + [f"in the temp folder: {path.name}" for path in temp.iterdir()]


@pytest.fixture
def connections(monkeypatch) -> list[str]:
    """Every attempt to resolve a host name or open a connection from now on; each one fails."""
    attempts: list[str] = []

    def refuse(*args, **kwargs):
        attempts.append(repr(args[1:] if args and isinstance(args[0], socket.socket) else args))
        raise OSError("network access is blocked in this test")

    for owner, name in ((socket.socket, "connect"), (socket.socket, "connect_ex"), (socket, "create_connection"),
                        (socket, "getaddrinfo")):
        monkeypatch.setattr(owner, name, refuse)
    return attempts


def analyse_everything(data: bytes, folder: Path) -> bytes:
    """What the app does with one upload, from bytes to the PDF report, with every optional extra switched on."""
    models, detector = load_available_models(folder), ood.load_detector(folder)
    result = analyse_file(data, "scan.png", models)
    assert result.ok, result.error
    ood.ood_score(result.scan.pixels, models["tumour_net"], detector)
    predict_type_tta(result.scan, models["tumour_net"])
    heatmaps = [sr.explain(result, models, method) for method in ("Grad-CAM++", "Grad-CAM", "Score-CAM")]
    return sr.report_pdf([result], heatmaps[:1], "Grad-CAM++", PatientFields(name="Test Patient"), read_cards(folder))


def run_app(folder: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv(WEIGHTS_ENV, str(folder))
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT).run()
    at.file_uploader(key="upload_slices").set_value([("scan.png", UPLOAD, "image/png"),
                                                     ("holiday.jpg", PHOTO, "image/jpeg")])
    return at.run()


def test_analysis_heatmaps_and_report_of_an_upload_write_nothing_to_disk(weights: Path, disk_writes) -> None:
    assert analyse_everything(UPLOAD, weights).startswith(b"%PDF")
    assert disk_writes() == []


def test_analysis_heatmaps_and_report_work_with_the_network_blocked(weights: Path, connections) -> None:
    assert analyse_everything(UPLOAD, weights).startswith(b"%PDF")
    assert connections == []


def test_app_run_with_uploads_writes_nothing_and_connects_nowhere(weights: Path, monkeypatch, disk_writes,
                                                                  connections) -> None:
    at = run_app(weights, monkeypatch)
    assert not at.exception, [e.message for e in at.exception]
    assert list(at.dataframe[0].value["File"]) == ["scan.png", "holiday.jpg"]
    assert disk_writes() == [] and connections == []


def test_a_whole_study_and_its_report_write_nothing_and_connect_nowhere(weights: Path, disk_writes,
                                                                      connections) -> None:
    from study_builders import nifti_study

    from core.models.registry import load_model
    from core.study.report import view_report_pdf
    from core.study.view import open_study

    view = open_study([("study.nii", nifti_study()[0])], load_model("tumour_net", weights))
    assert view_report_pdf(view, PatientFields(name="Test Patient"), read_cards(weights)).startswith(b"%PDF")
    assert disk_writes() == [] and connections == []


def test_streamlit_telemetry_is_off_and_uploads_are_size_limited() -> None:
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["browser"]["gatherUsageStats"] is False
    assert 1 <= config["server"]["maxUploadSize"] <= 200  # megabytes; Streamlit's default is 200


def test_a_pacs_round_trip_writes_nothing_and_connects_only_to_the_pacs(weights: Path, orthanc, disk_writes,
                                                                       monkeypatch) -> None:
    """Issue 13: a series fetched from a PACS, analysed and sent back as SEG, captures and PDF stays in memory."""
    from orthanc_server import load_synthetic_study

    from core.models.cards import TUMOUR_NET
    from core.models.registry import load_model
    from core.pacs.client import PacsClient
    from core.pacs.connection import read_config
    from core.pacs.export import read_model_version, send_results
    from core.pacs.study import fetch_and_analyse

    study = load_synthetic_study(orthanc, "P-PRIVATE", "Private^Pat", "20240601")
    targets, real_connect = [], socket.socket.connect

    def watched_connect(self, address):
        targets.append(tuple(address[:2]))
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", watched_connect)
    client = PacsClient(read_config({}, orthanc.environ))
    series = next(s for s in client.list_series(study.study_uid) if s.modality == "MR")
    analysis = fetch_and_analyse(client, study.study_uid, series, load_model(TUMOUR_NET, weights))
    sent = send_results(client, analysis, read_model_version(TUMOUR_NET, weights), read_cards(weights))
    assert sent.segmentation is not None
    assert disk_writes() == []
    assert set(targets) == {("127.0.0.1", orthanc.port)}
