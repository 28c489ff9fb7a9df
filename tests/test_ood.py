"""Contracts of core.models.ood (the out-of-distribution guard) and its fitting script, on the tiny untrained net."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import astuple
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import brain_slice, encode

from core.io.read import read_scan
from core.models import ood
from core.models.cards import file_sha256
from core.models.preprocess import preprocess_slice
from core.models.registry import LoadedModel, ModelMissingError, load_model
from training.fit_ood import GuardData, ImageSet, OodConfig, fit_and_evaluate, preprocess_uploads
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


def image_set(x: np.ndarray, kind: str, family: str, source: str) -> ImageSet:
    return ImageSet(x, np.array([kind] * len(x)), np.array([family] * len(x)), np.array([source] * len(x)))


def outliers(classifier: LoadedModel, seed: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise images and text pages, read like uploads."""
    rng = np.random.default_rng(seed)
    noise = [OodImage(category, name, encode(np.asarray(image.convert("L"), dtype=np.float32) / 255))
             for category, name, image in make_noise(rng)][:count]
    pages = [OodImage(category, name, encode(np.asarray(image.convert("L"), dtype=np.float32) / 255))
             for category, name, image in make_text_pages(rng, count=count)]
    return preprocess_uploads(noise, classifier), preprocess_uploads(pages, classifier)


@pytest.fixture(scope="module")
def guard_data(classifier: LoadedModel) -> GuardData:
    noise, pages = outliers(classifier, 1, 4)
    test_noise, test_pages = outliers(classifier, 2, 3)
    dev = ImageSet(*(np.concatenate(parts) for parts in zip(
        astuple(image_set(noise, "noise", "photo_or_microscopy", "a")),
        astuple(image_set(pages, "text", "document", "b")), strict=True)))
    test = ImageSet(*(np.concatenate(parts) for parts in zip(
        astuple(image_set(test_noise, "noise", "photo_or_microscopy", "c")),
        astuple(image_set(test_pages, "text", "document", "d")), strict=True)))
    fit = brain_batch(classifier, range(40))
    return GuardData(fit=fit, clusters=np.zeros(40, dtype=int), cluster_names=["brain"], head_brains=fit,
                     other_brain_fit=image_set(brain_batch(classifier, range(40, 50)), "x/t1", "brain_mri", "x"),
                     threshold={"kaggle_validation": brain_batch(classifier, range(50, 90)),
                                "x (other half)": brain_batch(classifier, range(90, 100))},
                     brain_test={"held_out/t2": brain_batch(classifier, range(100, 120))},
                     non_brain_dev=dev, generated=image_set(noise[:2], "generated noise", "photo_or_microscopy", "g"),
                     non_brain_test=test)


def test_fit_and_evaluate_compares_candidates_and_reports_by_source_and_kind(
        classifier: LoadedModel, guard_data: GuardData, weights: Path) -> None:
    detector = fit_and_evaluate(classifier, guard_data, OodConfig())
    card = detector.card
    assert set(card["candidates"]) == {"distances alone", "head, C = 0.1", "head, C = 1"}
    chosen = card["candidates"][card["candidate"]]
    assert chosen["development_flag_rate"] == max(c["development_flag_rate"] for c in card["candidates"].values())
    results = card["results"]
    assert set(results["brain_false_flags"]) == {"kaggle_validation", "x (other half)", "held_out/t2"}
    assert set(results["non_brain"]["by_kind"]) == {"noise", "text"}
    assert results["brain_false_flags"]["held_out/t2"]["count"] == 20
    assert set(card["threshold_by_source"]) == {"kaggle_validation", "x (other half)"}
    assert detector.threshold_ == pytest.approx(max(card["threshold_by_source"].values()))
    assert results["brain_false_flags"]["kaggle_validation"]["flag_rate"] <= 0.02
    if detector.head_ is not None:  # a head survives saving with the same scores and families
        ood.save_detector(detector, weights)
        loaded = ood.load_detector(weights)
        batch = guard_data.non_brain_test.x
        assert ood.ood_verdicts(batch, classifier, loaded)[1] == ood.ood_verdicts(batch, classifier, detector)[1]
        np.testing.assert_allclose(ood.ood_scores(batch, classifier, loaded),
                                   ood.ood_scores(batch, classifier, detector), rtol=1e-6)


def test_head_names_a_family_only_when_it_holds_most_of_the_non_brain_probability() -> None:
    families = ("brain_mri", "ct", "document")
    head = ood.OutlierHead(families, np.zeros(2), np.ones(2), np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]]),
                           np.zeros(3))
    rows = np.array([[2.0, 0.0], [0.0, 2.0], [2.0, 2.0], [-3.0, -3.0]])
    assert head.looks_like(rows) == ["ct", "document", None, None]
    odds = head.log_odds(rows)
    assert odds[0] > 0 and odds[3] < 0


def test_threshold_keeps_every_source_within_its_false_flag_share() -> None:
    scores = {"a": np.arange(100.0), "b": np.arange(50.0) + 10}
    threshold, by_source = ood.source_threshold(scores, 98.0)
    assert by_source == {"a": 98.0, "b": 59.0} and threshold == 98.0
    assert all((values > threshold).mean() <= 0.02 for values in scores.values())


def test_flag_sentence_names_what_the_image_looks_like() -> None:
    sentence = ood.describe_flag(4.0, 1.0, "mri_other_body")
    assert sentence.startswith("This image looks like an MRI of another body part rather than the brain MRI")


def test_non_brain_set_has_200_readable_images_in_many_categories_and_is_reproducible() -> None:
    images = make_ood_images(seed=0)
    assert len(images) >= 200
    assert len(Counter(image.category for image in images)) >= 10
    assert all(read_scan(image.data, image.name).pixels.ndim == 2 for image in images)
    assert len({image.name for image in images}) == len(images)
    assert [image.data for image in make_ood_images(seed=0)[-30:]] == [image.data for image in images[-30:]]
