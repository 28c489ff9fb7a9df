"""Contracts of core.analysis with tiny models: shapes, ranges, calibration, consistent areas and disagreement notes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import CLASS_NAMES, brain_slice, encode

from core.analysis import Analysis, analyze, describe_disagreements, predict_type
from core.io import ScanSlice, read_image
from core.metrics import softmax
from core.preprocess import find_head_mask, preprocess_slice
from core.registry import LoadedModel, load_available_models

HEIGHT, WIDTH = 70, 90  # not square, so a mask resized back to the wrong shape would show


@pytest.fixture(scope="module")
def models(tiny_weights: Path) -> dict[str, LoadedModel]:
    return load_available_models(tiny_weights)


@pytest.fixture(scope="module")
def scan() -> ScanSlice:
    return read_image(encode(brain_slice(HEIGHT, WIDTH, seed=3)), "scan.png")


def test_analysis_gives_calibrated_probabilities_that_sum_to_one(scan: ScanSlice, models: dict) -> None:
    result = analyze(scan, models)
    assert result.class_names == CLASS_NAMES and list(result.type_probabilities) == CLASS_NAMES
    assert sum(result.type_probabilities.values()) == pytest.approx(1.0)
    assert result.predicted_type == max(result.type_probabilities, key=result.type_probabilities.get)
    assert result.missing_models == []


def test_type_probabilities_are_divided_by_the_card_temperature(scan: ScanSlice, models: dict) -> None:
    tiny = models["classifier"]
    hot = LoadedModel("classifier", tiny.model, {**tiny.card, "calibration": {"temperature": 7.0}})
    logits = hot.predict_raw(preprocess_slice(scan.pixels, hot.spec)[None])
    probabilities = predict_type(scan, hot)
    np.testing.assert_allclose(list(probabilities.values()), softmax(logits, 7.0)[0], rtol=1e-5)
    assert max(probabilities.values()) < max(predict_type(scan, tiny).values())  # a higher temperature softens


def test_presence_is_a_probability_compared_with_the_card_threshold(scan: ScanSlice, models: dict) -> None:
    result = analyze(scan, models)
    assert 0.0 <= result.tumour_probability <= 1.0
    assert result.tumour_present == (result.tumour_probability >= models["presence"].card["threshold"])


def test_mask_has_the_input_size_and_binary_values_with_consistent_areas(scan: ScanSlice, models: dict) -> None:
    result = analyze(ScanSlice(scan.pixels, pixel_spacing_mm=(0.5, 0.8)), models)
    assert result.mask.shape == (HEIGHT, WIDTH) and result.mask.dtype == np.uint8
    assert set(np.unique(result.mask)) <= {0, 1}
    assert result.mask_area_px == int(result.mask.sum())
    assert result.mask_area_fraction == pytest.approx(result.mask_area_px / (HEIGHT * WIDTH))
    assert result.brain_area_fraction == pytest.approx(result.mask_area_px / find_head_mask(scan.pixels).sum())
    assert result.mask_area_mm2 == pytest.approx(result.mask_area_px * 0.4)


def test_absent_models_are_listed_and_leave_their_fields_empty(scan: ScanSlice, models: dict) -> None:
    result = analyze(scan, {"classifier": models["classifier"]})
    assert result.missing_models == ["presence", "segmenter"]
    assert result.mask is None and result.tumour_probability is None and result.mask_area_mm2 is None
    assert analyze(scan, {}).type_probabilities is None


def test_type_no_tumour_against_presence_tumour_is_described_in_one_sentence() -> None:
    analysis = Analysis(class_names=CLASS_NAMES, predicted_type="notumor", tumour_probability=0.87,
                        tumour_present=True)
    assert describe_disagreements(analysis) == [
        "The type model says no tumour, but the presence model finds a tumour (probability 87%)."
    ]


def test_analysis_carries_the_disagreement_of_its_models(scan: ScanSlice, models: dict) -> None:
    # The tiny classifier always answers "notumor" and the tiny presence model always finds a tumour.
    result = analyze(scan, models)
    assert (result.predicted_type, result.tumour_present) == ("notumor", True)
    assert result.disagreements[0].startswith("The type model says no tumour, but the presence model finds a tumour")


def test_type_tumour_against_presence_clear_and_empty_mask_are_described() -> None:
    analysis = Analysis(predicted_type="glioma", tumour_probability=0.1, tumour_present=False, mask_area_px=25)
    assert describe_disagreements(analysis) == [
        "The type model says glioma, but the presence model finds no tumour (tumour probability 10%).",
        "No tumour is reported, but the segmentation model outlines 25 pixels as tumour.",
    ]
    agreeing = Analysis(predicted_type="glioma", tumour_probability=0.9, tumour_present=True, mask_area_px=25)
    assert describe_disagreements(agreeing) == []
    assert describe_disagreements(Analysis(predicted_type="pituitary", mask_area_px=0)) == [
        "A tumour is reported, but the segmentation model outlines no tumour region."
    ]

