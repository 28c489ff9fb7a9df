"""Contracts of core.models.uncertainty (test-time augmentation of the tumour-type answer)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from helpers import CLASS_NAMES, brain_slice

from core.io.read import ScanSlice
from core.models.analysis import analyze
from core.models.metrics import softmax
from core.models.preprocess import InputSpec
from core.models.registry import LoadedModel, load_model
from core.models.uncertainty import VIEWS, TypeSpread, describe_spread, make_views, predict_type_tta, shift
from core.present.findings import class_label


@dataclass
class FixedLogits:
    """Stands in for a LoadedModel: answers every batch with ``logits`` (one row per view) and counts its calls."""

    logits: np.ndarray
    temperature: float = 1.0
    calls: int = 0
    spec = InputSpec(size=32)
    class_names = CLASS_NAMES

    @property
    def card(self) -> dict:
        return {"calibration": {"temperature": self.temperature}}

    type_probabilities = LoadedModel.type_probabilities  # reads only the card

    def predict_raw(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        assert batch.shape == (len(VIEWS), 32, 32, 1)
        return self.logits


def test_views_are_the_slice_its_mirror_and_two_zero_filled_shifts() -> None:
    image = np.random.default_rng(0).uniform(size=(50, 50, 1)).astype(np.float32)
    views = make_views(image)
    assert views.shape == (4, 50, 50, 1) and VIEWS == ("original", "mirrored", "shifted left", "shifted right")
    np.testing.assert_array_equal(views[0], image)
    np.testing.assert_array_equal(views[1], image[:, ::-1])
    np.testing.assert_array_equal(views[2][:, :-2], image[:, 2:])
    np.testing.assert_array_equal(views[3][:, 2:], image[:, :-2])
    assert not views[2][:, -2:].any() and not views[3][:, :2].any()


def test_shift_by_zero_keeps_the_image() -> None:
    image = np.arange(12, dtype=np.float32).reshape(3, 4, 1)
    np.testing.assert_array_equal(shift(image, 0), image)


def test_mean_and_spread_are_taken_over_calibrated_views_in_one_batch() -> None:
    logits = np.array([[2.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0], [2.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    model = FixedLogits(logits, temperature=2.0)
    result = predict_type_tta(ScanSlice(brain_slice(40, 40)), model)
    probs = softmax(logits, 2.0)
    assert model.calls == 1
    assert list(result.mean) == CLASS_NAMES
    np.testing.assert_allclose(list(result.mean.values()), probs.mean(axis=0))
    np.testing.assert_allclose(list(result.spread.values()), probs.std(axis=0))
    np.testing.assert_allclose(result.views["glioma"], probs[:, 0])
    assert sum(result.mean.values()) == pytest.approx(1.0)


def test_a_model_that_ignores_the_image_has_no_spread_and_matches_the_single_pass(tiny_weights: Path) -> None:
    model = load_model("tumour_net", tiny_weights)  # its logits are fixed by their bias, whatever the image
    scan = ScanSlice(brain_slice(72, 96, seed=4))
    result = predict_type_tta(scan, model)
    assert max(result.spread.values()) < 1e-3
    single = analyze(scan, {"tumour_net": model}).type_probabilities
    np.testing.assert_allclose(list(result.mean.values()), list(single.values()), atol=1e-3)


def test_spread_is_described_most_probable_first_in_whole_percent() -> None:
    result = TypeSpread(mean={"glioma": 0.1, "notumor": 0.874, "pituitary": 0.026},
                        spread={"glioma": 0.02, "notumor": 0.031, "pituitary": 0.0}, views={})
    assert describe_spread(result, class_label) == ["no tumour: 87% ± 3%", "glioma: 10% ± 2%", "pituitary: 3% ± 0%"]
