"""AppTest of the Analyse page: upload, batch table, slice view controls, bad files and missing models."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures_images import brats_bytes, nifti_bytes
from helpers import brain_slice, encode
from streamlit.testing.v1 import AppTest, app_test

from benchmarks.apptest_support import NavigationPagesManager
from core.io.formats import ACCEPTED, FORMATS
from core.models.analysis import analyse_file, content_digest
from core.models.cards import WEIGHTS_ENV
from core.models.registry import MODELS

TIMEOUT = 90  # the first run imports TensorFlow and loads the models
DISAGREEMENT = "A tumour is reported, but the network outlines no region large enough to show."
GOOD = [("first.png", encode(brain_slice(128, 160, seed=1))),
        ("second.jpg", encode(brain_slice(96, 96, seed=2), "JPEG"))]
BAD = [("empty.png", b""), ("letter.png", b"%PDF-1.7\n1 0 obj << >> endobj\n"),
       ("cut.png", encode(brain_slice(seed=3))[:120])]


@pytest.fixture(autouse=True)
def navigation_only(monkeypatch):
    monkeypatch.setattr(app_test, "PagesManager", NavigationPagesManager)


@pytest.fixture
def open_app(monkeypatch):
    """Run app.py (the Analyse page is the default) with the models in ``folder``."""
    def run(folder) -> AppTest:
        monkeypatch.setenv(WEIGHTS_ENV, str(folder))
        return AppTest.from_file("../app.py", default_timeout=TIMEOUT).run()
    return run


def upload(at: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    at.file_uploader(key="upload_slices").set_value([(name, data, "application/octet-stream") for name, data in files])
    return at.run()


def assert_no_exception(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def captions(at: AppTest) -> list[str]:
    return [caption for image in at.get("image") for caption in image.captions]


def test_without_upload_one_sentence_says_what_to_upload(open_app, tiny_weights):
    at = open_app(tiny_weights)
    assert_no_exception(at)
    assert [info.value for info in at.main.info] == [
        f"Upload {ACCEPTED}, or several, to see the tumour type, presence and outline for each."]
    assert all(name in ACCEPTED for f in FORMATS for name in f.listed)
    assert at.file_uploader(key="upload_slices").accept_multiple_files


def test_without_models_one_sentence_names_the_training_command(open_app, tmp_path):
    at = open_app(tmp_path)
    assert_no_exception(at)
    assert len(at.main.info) == 1 and MODELS["tumour_net"].train in at.main.info[0].value
    assert not at.get("file_uploader")


def test_batch_gives_table_row_and_error_sentence_per_file(open_app, tiny_weights):
    at = upload(open_app(tiny_weights), GOOD + BAD)
    assert_no_exception(at)
    table = at.dataframe[0].value
    assert list(table["File"]) == [name for name, _ in GOOD + BAD]
    assert list(table["Tumour type"][:2]) == ["glioma", "glioma"]
    assert list(table["Tumour present"][:2]) == ["yes", "yes"] and all(table["Area (px)"][:2] > 0)
    expected_errors = [analyse_file(data, name, {}).error for name, data in BAD]
    assert [error.value for error in at.error] == expected_errors
    assert list(table["Problem"][2:]) == expected_errors
    assert not any(DISAGREEMENT in warning.value for warning in at.main.warning)  # the blob is outlined
    assert [metric.label for metric in at.metric] == ["Tumour type", "Tumour present", "Tumour area"]
    assert captions(at) == ["Original (PNG)", "Tumour region (red)", "Where the network looked (Grad-CAM++)"]
    assert {button.key for button in at.get("download_button")} == {
        "download_csv", "download_pdf_batch", "download_pdf_slice"}


def test_overlay_and_heatmap_controls_redraw_the_slice(open_app, tiny_weights):
    at = upload(open_app(tiny_weights), GOOD[:1])
    assert at.toggle(key="show_mask").value is True
    at.toggle(key="show_mask").set_value(False).run()
    assert_no_exception(at)
    assert "Tumour region (overlay off)" in captions(at)
    assert at.slider(key="mask_opacity").disabled  # no overlay, nothing to adjust
    at.toggle(key="show_mask").set_value(True).run()
    at.slider(key="mask_opacity").set_value(0.9)
    at.radio(key="mask_style").set_value("outline")
    at.selectbox(key="cam_method").set_value("Grad-CAM")
    at.selectbox(key="cam_class").set_value("glioma")
    at.run()
    assert_no_exception(at)
    assert captions(at)[1:] == ["Tumour region (red)", "Where the network looked (Grad-CAM)"]


def test_selectbox_opens_each_file_including_a_failed_one(open_app, tiny_weights):
    at = upload(open_app(tiny_weights), GOOD + BAD[1:2])
    at.selectbox(key="selected_slice").set_value(1).run()
    assert_no_exception(at)
    assert captions(at)[0] == "Original (JPEG)"
    at.selectbox(key="selected_slice").set_value(2).run()
    assert_no_exception(at)
    assert not at.get("image") and not at.metric
    assert at.error[-1].value.startswith("letter.png is a PDF document")


def test_brats_file_offers_its_channels_and_compares_with_its_mask(open_app, tiny_weights):
    pixels = brain_slice(128, 128, seed=5)
    data = brats_bytes(np.stack([pixels, 1 - pixels], axis=-1), (pixels > 0.9).astype(np.uint8))
    at = upload(open_app(tiny_weights), [("case.h5", data)])
    assert_no_exception(at)
    assert any(text.value.startswith("Dice overlap with the file's mask") for text in at.markdown)
    assert "Mask stored in the file (green)" in captions(at)
    at.selectbox(key=f"volume_{content_digest(data)[:16]}_channel").set_value(1).run()
    assert_no_exception(at)


def test_nifti_volume_offers_plane_and_slice(open_app, tiny_weights):
    volume = np.stack([brain_slice(80, 96, seed=s % 3) for s in range(40)], axis=-1) * 1000
    data = nifti_bytes(volume.astype(np.float32), zooms=(0.5, 0.5, 3.0))
    at = upload(open_app(tiny_weights), [("head.nii", data)])
    key = f"volume_{content_digest(data)[:16]}"
    assert at.selectbox(key=f"{key}_axis").value == 2 and at.slider(key=f"{key}_index_2").value == 20
    at.slider(key=f"{key}_index_2").set_value(0).run()
    assert_no_exception(at)
    at.selectbox(key=f"{key}_axis").set_value(0).run()
    assert_no_exception(at)
    assert at.slider(key=f"{key}_index_0").value == 40
    assert any("mm²" in text.value for text in at.markdown)
    at.number_input(key=f"{key}_centre").set_value(500.0)
    at.number_input(key=f"{key}_width").set_value(0.0).run()
    assert_no_exception(at)
    assert at.error[0].value == "head.nii cannot be shown with window width 0.0; please choose a positive window width."
