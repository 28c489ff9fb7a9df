"""Contracts of core.models.analysis with the tiny network: shapes, ranges, calibration, areas, one decision."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import CLASS_NAMES, brain_slice, encode

from core.io.read import ScanSlice, read_image
from core.models.analysis import Analysis, analyze, describe_disagreements
from core.models.metrics import softmax
from core.models.preprocess import find_head_mask, preprocess_slice
from core.models.registry import LoadedModel, load_available_models

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
    tiny = models["tumour_net"]
    hot = LoadedModel("tumour_net", tiny.model, {**tiny.card, "calibration": {"temperature": 7.0}})
    logits = hot.predict_raw(preprocess_slice(scan.pixels, hot.spec)[None])
    probabilities = analyze(scan, {"tumour_net": hot}).type_probabilities
    np.testing.assert_allclose(list(probabilities.values()), softmax(logits, 7.0)[0], rtol=1e-5)
    assert max(probabilities.values()) < max(analyze(scan, models).type_probabilities.values())


def test_presence_is_one_minus_no_tumour_against_the_card_threshold(scan: ScanSlice, models: dict) -> None:
    result = analyze(scan, models)
    assert result.tumour_probability == pytest.approx(1.0 - result.type_probabilities["notumor"])
    assert result.tumour_present == (result.tumour_probability >= models["tumour_net"].card["presence"]["threshold"])


def test_mask_has_the_input_size_and_binary_values_with_consistent_areas(scan: ScanSlice, models: dict) -> None:
    result = analyze(ScanSlice(scan.pixels, pixel_spacing_mm=(0.5, 0.8)), models)
    assert result.mask.shape == (HEIGHT, WIDTH) and result.mask.dtype == np.uint8
    assert set(np.unique(result.mask)) <= {0, 1} and result.mask_area_px > 0
    assert result.mask_area_px == int(result.mask.sum())
    assert result.mask_area_fraction == pytest.approx(result.mask_area_px / (HEIGHT * WIDTH))
    assert result.brain_area_fraction == pytest.approx(result.mask_area_px / find_head_mask(scan.pixels).sum())
    assert result.mask_area_mm2 == pytest.approx(result.mask_area_px * 0.4)


def test_no_tumour_answer_hides_the_mask(scan: ScanSlice, models: dict) -> None:
    tiny = models["tumour_net"]
    strict = LoadedModel("tumour_net", tiny.model, {**tiny.card, "presence": {"threshold": 1.01}})
    result = analyze(scan, {"tumour_net": strict})
    assert result.tumour_present is False and result.mask_area_px == 0 and result.disagreements == []


def test_absent_network_is_listed_and_leaves_every_field_empty(scan: ScanSlice) -> None:
    result = analyze(scan, {})
    assert result.missing_models == ["tumour_net"]
    assert result.type_probabilities is None and result.mask is None and result.tumour_probability is None


def test_the_one_possible_disagreement_is_a_tumour_too_small_to_outline() -> None:
    assert describe_disagreements(Analysis(predicted_type="pituitary", tumour_present=True, mask_area_px=0)) == [
        "A tumour is reported, but the network outlines no region large enough to show."
    ]
    assert describe_disagreements(Analysis(predicted_type="glioma", tumour_present=True, mask_area_px=25)) == []
    assert describe_disagreements(Analysis(predicted_type="notumor", tumour_present=False, mask_area_px=0)) == []
