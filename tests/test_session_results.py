"""What the Analyse page relies on from core.app.session_results: per-file results, the table, pictures and reports."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures_images import brats_bytes, nifti_bytes
from helpers import brain_slice, encode
from PIL import Image

from core.app import session_results as sr
from core.io.read import ScanSlice
from core.models.analysis import FileResult, analyse_file, content_digest
from core.models.cards import MODELS, WEIGHTS_DIR
from core.models.registry import load_available_models

BAD_FILES = {
    "empty.png": b"",
    "letter.png": b"%PDF-1.7\n1 0 obj << >> endobj\n",
    "cut.png": encode(brain_slice(seed=3))[:120],
}


@pytest.fixture(scope="module")
def models(tiny_weights):
    return load_available_models(tiny_weights)


@pytest.fixture(scope="module")
def result(models):
    return analyse_file(encode(brain_slice(128, 160, seed=1)), "first.png", models)


def test_upload_is_keyed_by_the_sha256_of_its_bytes(result):
    data = encode(brain_slice(128, 160, seed=1))
    assert result.digest == content_digest(data) == hashlib.sha256(data).hexdigest()


def test_analysed_upload_carries_slice_and_every_models_answer(result):
    assert result.ok and result.error is None
    assert result.scan.pixels.shape == (128, 160)
    assert result.analysis.predicted_type == "glioma"
    assert result.analysis.tumour_present is True
    assert result.analysis.mask.shape == (128, 160)
    assert 0 < result.analysis.mask_area_px < 128 * 160 // 10  # the bright blob, not the whole head


@pytest.mark.parametrize("name", BAD_FILES)
def test_bad_file_gives_its_one_sentence_instead_of_raising(models, name):
    bad = analyse_file(BAD_FILES[name], name, models)
    assert not bad.ok and bad.analysis is None and bad.scan is None
    assert bad.error.startswith(name) and bad.error.endswith(".") and "please upload" in bad.error


def test_table_has_one_row_per_file_in_upload_order_with_numbers_to_sort_by(models, result):
    second = analyse_file(encode(brain_slice(96, 96, seed=2)), "second.png", models)
    failed = analyse_file(b"", "empty.png", models)
    frame = sr.results_table([result, failed, second])
    assert list(frame.columns) == sr.TABLE_COLUMNS
    assert list(frame["File"]) == ["first.png", "empty.png", "second.png"]
    assert frame.loc[0, "Tumour type"] == "glioma" and frame.loc[0, "Tumour present"] == "yes"
    assert frame.loc[0, "Answers disagree"] == "no"
    assert frame.loc[0, "Confidence (%)"] == pytest.approx(100 * result.analysis.type_confidence, abs=0.05)
    assert frame.loc[0, "Area (px)"] == result.analysis.mask_area_px
    assert frame.loc[1, "Problem"] == failed.error and pd.isna(frame.loc[1, "Area (px)"])
    for column in [*sr.PERCENT_COLUMNS, "Area (px)"]:
        assert pd.api.types.is_numeric_dtype(frame[column])


def test_csv_reads_back_as_the_same_table(models, result):
    frame = sr.results_table([result, analyse_file(b"", "empty.png", models)])
    back = pd.read_csv(io.BytesIO(sr.csv_bytes(frame)), encoding="utf-8-sig", keep_default_na=False)
    assert list(back.columns) == sr.TABLE_COLUMNS
    assert list(back["File"]) == ["first.png", "empty.png"]
    assert back.loc[1, "Problem"].startswith("empty.png is empty")


def test_missing_network_reads_not_installed_everywhere():
    partial = analyse_file(encode(brain_slice(seed=4)), "slice.png", {})
    row = sr.results_table([partial]).iloc[0]
    assert row["Tumour type"] == row["Tumour present"] == sr.NOT_INSTALLED and pd.isna(row["Area (px)"])
    assert sr.headline(partial.analysis)[2] == ("Tumour area", sr.NOT_INSTALLED, None)
    assert MODELS["tumour_net"].train in sr.area_details(partial.analysis)[0][1]
    panels = sr.slice_panels(partial, None, sr.ViewSettings())
    assert panels[1].image is None and sr.NOT_INSTALLED in panels[1].note
    assert sr.explain(partial, {}) is None


def test_headline_and_areas_name_the_units(result):
    (_, kind, kind_detail), (_, present, present_detail), (_, area, area_detail) = sr.headline(result.analysis)
    assert (kind, present) == ("glioma", "yes")
    assert kind_detail.endswith("% probability") and present_detail.startswith("tumour probability ")
    assert area == f"{result.analysis.mask_area_px:,} px" and "of brain · " in area_detail
    details = dict(sr.area_details(result.analysis))
    assert details["Area in mm²"] == "not known (the file states no pixel spacing)"


def test_nifti_spacing_gives_area_in_mm2(models):
    volume = np.stack([brain_slice(80, 96, seed=s) for s in range(3)], axis=-1) * 1000
    analysed = analyse_file(nifti_bytes(volume.astype(np.float32), zooms=(0.5, 0.5, 3.0)), "head.nii", models)
    assert analysed.analysis.mask_area_mm2 == pytest.approx(0.25 * analysed.analysis.mask_area_px)
    assert dict(sr.area_details(analysed.analysis))["Area in mm²"].endswith("mm²")


def test_panels_follow_the_view_settings(result):
    on = sr.slice_panels(result, None, sr.ViewSettings(show_mask=True, opacity=0.8))
    off = sr.slice_panels(result, None, sr.ViewSettings(show_mask=False))
    outline = sr.slice_panels(result, None, sr.ViewSettings(style="outline", opacity=1.0))
    assert [panel.image.shape for panel in on[:2]] == [(128, 160, 3)] * 2
    assert np.array_equal(off[1].image, on[0].image)  # overlay off shows the plain slice
    assert not np.array_equal(on[1].image, on[0].image)
    assert (outline[1].image != on[0].image).any(axis=-1).sum() < (on[1].image != on[0].image).any(axis=-1).sum()


def test_heatmap_has_slice_shape_for_predicted_and_chosen_class(models, result):
    predicted = sr.explain(result, models, "Grad-CAM++")
    chosen = sr.explain(result, models, "Grad-CAM", target="glioma")
    for heatmap in (predicted, chosen):
        assert heatmap.shape == result.scan.pixels.shape and 0.0 <= heatmap.min() <= heatmap.max() <= 1.0
    class_names = models["tumour_net"].class_names
    assert sr.target_options(class_names) == [sr.PREDICTED_CLASS, *class_names]
    panels = sr.slice_panels(result, predicted, sr.ViewSettings(cam_method="Grad-CAM++"))
    assert panels[2].image.shape == (128, 160, 3) and "Grad-CAM++" in panels[2].caption


def test_ground_truth_is_compared_with_dice(models):
    pixels = brain_slice(128, 128, seed=5)
    truth = (pixels > 0.9).astype(np.uint8)
    analysed = analyse_file(brats_bytes(np.stack([pixels, pixels], axis=-1), truth), "brats.h5", models)
    panels, dice = sr.ground_truth_panels(analysed, sr.ViewSettings())
    assert [panel.image.shape for panel in panels] == [(128, 128, 3)] * 2
    assert dice > 0.8
    assert sr.dice_sentence(dice).startswith(f"Dice overlap with the file's mask: {dice:.3f}")
    assert "undefined" in sr.dice_sentence(float("nan"))
    assert sr.ground_truth_panels(FileResult("x", "0", ScanSlice(pixels)), sr.ViewSettings()) is None


def test_describe_upload_offers_choices_only_for_volumes():
    frames = [Image.fromarray((brain_slice(seed=s) * 255).astype(np.uint8)) for s in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:])
    assert sr.describe_upload(buffer.getvalue(), "stack.tif").frames == 3
    assert sr.describe_upload(encode(brain_slice()), "plain.png") is None
    assert sr.describe_upload(b"%PDF-1.4", "letter.png") is None


def test_reports_are_pdfs_of_the_readable_files(models, result):
    failed = analyse_file(b"", "empty.png", models)
    single = sr.report_pdf([result], [sr.explain(result, models)], "Grad-CAM++", None, {})
    batch = sr.batch_report_pdf([result, failed], models, "Grad-CAM++", None, {})
    assert single.startswith(b"%PDF") and batch.startswith(b"%PDF")
    with pytest.raises(ValueError):
        sr.report_pdf([failed], [None], "Grad-CAM++", None, {})


def test_module_does_not_import_streamlit():
    code = "import core.app.session_results, sys; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code],
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.skipif(not all((WEIGHTS_DIR / f"{name}.keras").exists() for name in MODELS),
                    reason="the trained models are not all in weights/ yet")
def test_one_slice_gives_every_result_within_a_second_once_warm():
    installed = load_available_models(WEIGHTS_DIR)
    data = encode(brain_slice(512, 512, seed=6), "JPEG")
    sr.explain(analyse_file(data, "warm.jpg", installed), installed)  # load and trace once
    start = time.perf_counter()
    fresh = analyse_file(encode(brain_slice(512, 512, seed=7), "JPEG"), "fresh.jpg", installed)
    sr.slice_panels(fresh, sr.explain(fresh, installed), sr.ViewSettings())
    assert time.perf_counter() - start <= 1.0
