"""Contracts of core.registry: a model loads only with its card, and its predictor follows the card."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import CLASS_NAMES

from core.cards import MODELS, WEIGHTS_ENV, read_cards, read_evaluation, write_evaluation
from core.metrics import softmax
from core.registry import ModelMissingError, load_available_models, load_model


def test_model_without_its_card_is_refused_naming_the_train_command(tmp_path: Path, tiny_weights: Path) -> None:
    shutil.copy(tiny_weights / "classifier.keras", tmp_path / "classifier.keras")
    with pytest.raises(ModelMissingError) as err:
        load_model("classifier", tmp_path)
    assert "classifier.json" in str(err.value) and MODELS["classifier"]["train"] in str(err.value)


def test_missing_weights_are_refused_even_with_a_card(tmp_path: Path, tiny_weights: Path) -> None:
    shutil.copy(tiny_weights / "segmenter.json", tmp_path / "segmenter.json")
    with pytest.raises(ModelMissingError) as err:
        load_model("segmenter", tmp_path)
    assert "python -m training.train_segmenter" in str(err.value)
    assert issubclass(ModelMissingError, FileNotFoundError)


def test_empty_weights_folder_gives_no_models(tmp_path: Path) -> None:
    assert load_available_models(tmp_path) == {}
    assert read_cards(tmp_path) == {}


def test_saved_model_loads_with_its_card_and_predicts(tiny_weights: Path) -> None:
    models = load_available_models(tiny_weights)
    assert set(models) == set(MODELS)
    classifier = models["classifier"]
    assert classifier.class_names == CLASS_NAMES
    size = classifier.spec.size
    assert classifier.model.input_shape[1:] == (size, size, classifier.spec.channels)
    batch = np.random.default_rng(0).random((3, size, size, 1), dtype=np.float32)
    logits = classifier.predict_raw(batch)
    assert logits.shape == (3, 4)
    # The card names the logits layer, so predict_raw returns the values the model's softmax turns into probs.
    np.testing.assert_allclose(softmax(logits), classifier.model(batch, training=False), atol=1e-5)
    assert models["segmenter"].predict_raw(batch).shape == (3, size, size, 1)


def test_predict_raw_gives_the_model_output_when_the_card_names_no_logits_layer(
    tmp_path: Path, tiny_weights: Path
) -> None:
    shutil.copy(tiny_weights / "classifier.keras", tmp_path / "classifier.keras")
    card = read_evaluation(tiny_weights / "classifier.json")
    card.pop("architecture")
    write_evaluation(card, tmp_path / "classifier.json")
    classifier = load_model("classifier", tmp_path)
    size = classifier.spec.size
    probs = classifier.predict_raw(np.random.default_rng(0).random((2, size, size, 1), dtype=np.float32))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_models_load_from_the_folder_named_by_the_environment(
    tiny_weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WEIGHTS_ENV, str(tiny_weights))
    assert load_model("presence").card["threshold"] == 0.5
