"""Contracts of core.ood (the out-of-distribution guard) and its fitting script, on the tiny untrained network."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import brain_slice, encode

from core import ood
from core.cards import file_sha256
from core.io import read_scan
from core.preprocess import preprocess_slice
from core.registry import LoadedModel, ModelMissingError, load_model
from training.fit_ood import BrainSlices, OodConfig, fit_and_evaluate
from training.ood_images import OodImage, make_noise, make_ood_images, make_text_pages


def brain_batch(classifier: LoadedModel, seeds: range) -> np.ndarray:
    """Preprocessed brain-like slices of varying size, one per seed."""
    return np.stack([preprocess_slice(brain_slice(64 + seed % 5 * 8, 80, seed=seed), classifier.spec)
                     for seed in seeds])


@pytest.fixture(scope="module")
def weights(tiny_weights: Path, tmp_path_factory) -> Path:
    """A private copy of the tiny weights, so saving a detector leaves the shared folder as it was."""
    folder = tmp_path_factory.mktemp("ood_weights")
    for path in tiny_weights.iterdir():
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="module")
def classifier(weights: Path) -> LoadedModel:
    return load_model("tumour_net", weights)


@pytest.fixture(scope="module")
def detector(classifier: LoadedModel) -> ood.OodDetector:
    train = brain_batch(classifier, range(60))
    return ood.fit_detector(train, np.arange(60) % 2, brain_batch(classifier, range(100, 200)), classifier)


def test_embedding_is_the_pooled_feature_vector_feeding_the_head(classifier: LoadedModel) -> None:
    batch = brain_batch(classifier, range(3))
    features = ood.embed(batch, classifier)
    assert features.shape == (3, classifier.model.get_layer("logits").input.shape[-1])
    view = keras.Model(classifier.model.inputs, classifier.model.get_layer("logits").input)
    np.testing.assert_allclose(features, np.asarray(view(batch)), rtol=1e-5, atol=1e-6)


def test_model_without_a_logits_layer_is_refused(classifier: LoadedModel) -> None:
    card = {**classifier.card, "architecture": {"mask_layer": "mask"}}
    with pytest.raises(ValueError, match="no logits layer"):
        ood.embed(brain_batch(classifier, range(2)), LoadedModel("tumour_net", classifier.model, card))


def test_mahalanobis_is_zero_at_a_mean_and_measured_to_the_nearest_mean() -> None:
    means = np.array([[0.0, 0.0], [10.0, 0.0]])
    precision = np.diag([1.0, 4.0])  # variance 1 along x, 0.25 along y
    points = np.array([[10.0, 0.0], [0.0, 1.0], [7.0, 0.0]])
    np.testing.assert_allclose(ood.mahalanobis_distance(points, means, precision), [0.0, 2.0, 3.0])


def test_reconstruction_error_is_zero_inside_the_component_span() -> None:
    components = np.eye(4)[:2]
    mean = np.full(4, 0.5)
    inside, outside = mean + np.array([1.0, -2.0, 0.0, 0.0]), mean + np.array([0.0, 0.0, 2.0, 0.0])
    np.testing.assert_allclose(ood.reconstruction_error(np.stack([inside, outside]), mean, components), [0.0, 1.0])


def test_threshold_leaves_at_most_two_percent_of_validation_slices_flagged(
        classifier: LoadedModel, detector: ood.OodDetector) -> None:
    scores = ood.ood_scores(brain_batch(classifier, range(100, 200)), classifier, detector)
    assert (scores > detector.threshold_).mean() <= 0.02
    assert detector.card["counts"] == {"fit": 60, "threshold": 100}
    assert detector.means_.shape[0] == detector.card["clusters"] == 2


def test_noise_and_text_pages_are_flagged_but_a_new_brain_slice_is_not(
        classifier: LoadedModel, detector: ood.OodDetector) -> None:
    rng = np.random.default_rng(0)
    others = [image for _, _, image in [*make_noise(rng), *make_text_pages(rng, count=3)]]
    for image in others:
        pixels = read_scan(encode(np.asarray(image.convert("L"), dtype=np.float32) / 255)).pixels
        score = ood.ood_score(pixels, classifier, detector)
        assert ood.is_out_of_distribution(score, detector), score
    brain = ood.ood_score(brain_slice(80, 80, seed=999), classifier, detector)
    assert not ood.is_out_of_distribution(brain, detector)


def test_flag_sentence_gives_score_and_threshold() -> None:
    sentence = ood.describe_flag(3.14159, 1.2)
    assert "score 3.14; brain slices score up to 1.20" in sentence and sentence.endswith("2D brain MRI slice.")


def test_saved_detector_loads_with_the_same_scores(classifier: LoadedModel, detector: ood.OodDetector,
                                                   weights: Path) -> None:
    card_path = ood.save_detector(detector, weights)
    assert card_path == weights / "ood.json"
    loaded = ood.load_detector(weights)
    batch = brain_batch(classifier, range(300, 305))
    np.testing.assert_allclose(ood.ood_scores(batch, classifier, loaded), ood.ood_scores(batch, classifier, detector))
    assert loaded.threshold_ == detector.threshold_
    assert loaded.card["model_sha256"] == file_sha256(weights / "tumour_net.keras")


def test_absent_detector_is_not_installed_and_names_the_fit_command(tiny_weights: Path) -> None:
    assert ood.load_available_detector(tiny_weights) is None
    with pytest.raises(ModelMissingError, match=r"not installed; fit it with `python -m training\.fit_ood`"):
        ood.load_detector(tiny_weights)


def test_detector_of_another_network_is_refused(detector: ood.OodDetector, weights: Path, tmp_path: Path) -> None:
    ood.save_detector(detector, weights)
    for path in weights.iterdir():
        shutil.copy(path, tmp_path / path.name)
    with open(tmp_path / "tumour_net.keras", "ab") as handle:  # a retrained network: other bytes
        handle.write(b"\0")
    assert ood.load_available_detector(tmp_path) is None
    with pytest.raises(ModelMissingError, match="another network"):
        ood.load_detector(tmp_path)


def test_fit_and_evaluate_reports_false_flags_per_brain_set_and_flags_per_category(classifier: LoadedModel) -> None:
    rng = np.random.default_rng(1)
    images = [OodImage(category, name, encode(np.asarray(image.convert("L"), dtype=np.float32) / 255))
              for category, name, image in [*make_noise(rng), *make_text_pages(rng, count=2)]]
    brain = BrainSlices(fit=brain_batch(classifier, range(40)), clusters=np.zeros(40, dtype=int),
                        threshold=brain_batch(classifier, range(40, 90)),
                        evaluate={"held_out": brain_batch(classifier, range(90, 110))}, cluster_names=["brain"])
    card = fit_and_evaluate(classifier, brain, images, OodConfig()).card
    results = card["results"]
    assert results["brain_false_flags"]["held_out"]["count"] == 20
    assert set(results["non_brain"]["by_category"]) == {"noise", "document"}
    assert results["non_brain"]["flag_rate"] == 1.0
    assert results["roc_auc_against_non_brain"]["held_out"]["combined"] == pytest.approx(1.0)
    assert "No real chest X-ray" in card["data"]["non_brain"]
    points = {point["percentile"]: point for point in results["operating_points"]}
    assert points[98.0]["threshold"] == pytest.approx(card["threshold"])
    assert points[99.5]["held_out"] <= points[95.0]["held_out"]


def test_non_brain_set_has_200_readable_images_in_many_categories_and_is_reproducible() -> None:
    images = make_ood_images(seed=0)
    assert len(images) >= 200
    assert len(Counter(image.category for image in images)) >= 10
    assert all(read_scan(image.data, image.name).pixels.ndim == 2 for image in images)
    assert len({image.name for image in images}) == len(images)
    assert [image.data for image in make_ood_images(seed=0)[-30:]] == [image.data for image in images[-30:]]
