"""Contracts of core.models.metrics on hand-computed cases and synthetic data with a known answer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.models.metrics import (
    binary_summary,
    classification_summary,
    dice_score,
    fit_temperature,
    iou_score,
    reliability_bins,
    softmax,
    threshold_for_sensitivity,
)


def masks(*rows: str) -> np.ndarray:
    """A mask drawn as text, "#" for tumour: masks("#.", "##")."""
    return np.array([[c == "#" for c in row] for row in rows], dtype=np.uint8)


def test_dice_is_one_for_identical_masks() -> None:
    mask = masks("##.", ".#.", "...")
    assert dice_score(mask, mask) == 1.0
    assert iou_score(mask, mask) == 1.0


def test_dice_and_iou_of_a_hand_case() -> None:
    truth = masks("##..", "##..")  # 4 pixels
    predicted = masks(".##.", ".##.")  # 4 pixels, 2 shared
    assert dice_score(truth, predicted) == pytest.approx(2 * 2 / 8)
    assert iou_score(truth, predicted) == pytest.approx(2 / 6)


def test_dice_is_zero_for_disjoint_masks_and_when_one_is_empty() -> None:
    assert dice_score(masks("#.", ".."), masks("..", ".#")) == 0.0
    assert dice_score(masks("#.", ".."), masks("..", "..")) == 0.0
    assert iou_score(masks("..", ".."), masks("#.", "..")) == 0.0


def test_dice_and_iou_are_nan_when_both_masks_are_empty() -> None:
    empty = masks("..", "..")
    assert math.isnan(dice_score(empty, empty))
    assert math.isnan(iou_score(empty, empty))


def test_softmax_rows_sum_to_one_even_for_huge_logits() -> None:
    logits = np.array([[1.0, 2.0, 3.0], [1000.0, -1000.0, 0.0], [0.0, 0.0, 0.0]])
    for temperature in (1.0, 0.1, 7.0):
        probs = softmax(logits, temperature)
        assert np.all(np.isfinite(probs))
        np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    np.testing.assert_allclose(softmax(logits)[2], [1 / 3] * 3)


def test_fit_temperature_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 4.0, size=(3000, 4))
    # Labels drawn from softmax(z / 2.5) are perfectly calibrated at T = 2.5.
    cumulative = softmax(logits, 2.5).cumsum(axis=1)
    labels = np.minimum((rng.random((len(logits), 1)) > cumulative).sum(axis=1), 3)
    assert fit_temperature(logits, labels) == pytest.approx(2.5, rel=0.1)


def binary_probs(confidence: float, correct: int, wrong: int) -> tuple[np.ndarray, np.ndarray]:
    """Two-class rows predicting class 0 with ``confidence``, right ``correct`` times and wrong ``wrong`` times."""
    probs = np.tile([confidence, 1.0 - confidence], (correct + wrong, 1))
    return probs, np.array([0] * correct + [1] * wrong)


def stack(*cases: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([c[0] for c in cases]), np.concatenate([c[1] for c in cases])


def test_ece_is_zero_when_accuracy_equals_confidence_in_every_bin() -> None:
    probs, labels = stack(binary_probs(0.6, 6, 4), binary_probs(0.8, 4, 1))
    result = reliability_bins(probs, labels)
    assert result["ece"] == pytest.approx(0.0, abs=1e-12)
    assert sum(b["count"] for b in result["bins"]) == len(labels)


def test_ece_of_a_hand_case() -> None:
    # Half the samples are 90% confident and always right (gap 0.1), half 70% confident and right half the time
    # (gap 0.2): ECE = 0.5 * 0.1 + 0.5 * 0.2.
    probs, labels = stack(binary_probs(0.9, 4, 0), binary_probs(0.7, 2, 2))
    result = reliability_bins(probs, labels, n_bins=15)
    assert result["ece"] == pytest.approx(0.15)
    filled = [b for b in result["bins"] if b["count"]]
    assert [(b["count"], b["accuracy"]) for b in filled] == [(4, 0.5), (4, 1.0)]
    assert all(b["lower"] <= b["confidence"] <= b["upper"] for b in filled)


@pytest.mark.parametrize("sensitivity", [0.5, 0.8, 0.9, 0.95, 1.0])
def test_threshold_for_sensitivity_is_the_highest_reaching_the_requested_sensitivity(sensitivity: float) -> None:
    scores = np.arange(1, 101) / 100  # 100 positives scored 0.01 ... 1.00
    positives = np.ones(100, dtype=bool)
    threshold = threshold_for_sensitivity(scores, positives, sensitivity)
    achieved = (scores[positives] >= threshold).mean()
    assert achieved >= sensitivity
    # The next positive score up would miss one more positive and fall below the request.
    assert threshold == pytest.approx(round(1.01 - sensitivity, 2))


def test_threshold_for_sensitivity_ignores_negatives() -> None:
    rng = np.random.default_rng(1)
    scores, positives = rng.random(500), rng.random(500) < 0.3
    threshold = threshold_for_sensitivity(scores, positives, 0.95)
    assert (scores[positives] >= threshold).mean() >= 0.95
    assert threshold == threshold_for_sensitivity(np.where(positives, scores, 0.0), positives, 0.95)


def test_binary_summary_counts_a_hand_case() -> None:
    scores = np.array([0.9, 0.8, 0.3, 0.2, 0.6, 0.1])
    positives = np.array([1, 1, 1, 0, 0, 0])
    summary = binary_summary(scores, positives, threshold=0.5)
    # Decided positive: 0.9, 0.8 (true), 0.6 (false); missed: 0.3.
    assert summary["confusion_matrix"] == [[2, 1], [1, 2]]
    assert summary["sensitivity"] == pytest.approx(2 / 3)
    assert summary["specificity"] == pytest.approx(2 / 3)
    assert summary["auc"] == pytest.approx(8 / 9)
    assert (summary["count"], summary["positives"], summary["threshold"]) == (6, 3, 0.5)


def test_classification_summary_has_every_key_the_cards_use() -> None:
    names = ["glioma", "meningioma", "notumor", "pituitary"]
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(4), 10)
    probs = softmax(rng.normal(size=(40, 4)) + 3 * np.eye(4)[labels])
    summary = classification_summary(probs, labels, names)
    assert set(summary) == {"count", "accuracy", "macro_f1", "per_class", "confusion_matrix", "roc", "calibration"}
    assert list(summary["per_class"]) == names and list(summary["roc"]) == names
    assert set(summary["per_class"]["glioma"]) == {"precision", "recall", "f1", "support"}
    assert np.sum(summary["confusion_matrix"]) == summary["count"] == 40
    assert summary["accuracy"] == pytest.approx((probs.argmax(axis=1) == labels).mean())
    assert all(0.0 <= roc["auc"] <= 1.0 for roc in summary["roc"].values())
    assert set(summary["calibration"]) == {"bins", "ece"}
