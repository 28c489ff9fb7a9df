"""Contracts of core.models.registry: a model loads only with its card, and its predictor follows the card."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import CLASS_NAMES

from core.models.cards import MODELS, WEIGHTS_ENV, read_cards, write_evaluation
from core.models.metrics import softmax
from core.models.registry import ModelMissingError, load_available_models, load_model


def test_model_without_its_card_is_refused_naming_the_train_command(tmp_path: Path, tiny_weights: Path) -> None:
    shutil.copy(tiny_weights / "tumour_net.keras", tmp_path / "tumour_net.keras")
    with pytest.raises(ModelMissingError) as err:
        load_model("tumour_net", tmp_path)
    assert "tumour_net.json" in str(err.value) and MODELS["tumour_net"].train in str(err.value)


def test_missing_weights_are_refused_even_with_a_card(tmp_path: Path, tiny_weights: Path) -> None:
    shutil.copy(tiny_weights / "tumour_net.json", tmp_path / "tumour_net.json")
    with pytest.raises(ModelMissingError) as err:
        load_model("tumour_net", tmp_path)
    assert "python -m training.train_tumour_net" in str(err.value)
    assert issubclass(ModelMissingError, FileNotFoundError)


def test_empty_weights_folder_gives_no_models(tmp_path: Path) -> None:
    assert load_available_models(tmp_path) == {}
    assert read_cards(tmp_path) == {}


def test_saved_network_loads_with_its_card_and_answers_in_one_pass(tiny_weights: Path) -> None:
    models = load_available_models(tiny_weights)
    assert set(models) == set(MODELS)
    network = models["tumour_net"]
    assert network.class_names == CLASS_NAMES
    size = network.spec.size
    assert network.model.input_shape[1:] == (size, size, network.spec.channels)
    batch = np.random.default_rng(0).random((3, size, size, 1), dtype=np.float32)
    outputs = network.predict_outputs(batch)
    assert outputs["logits"].shape == (3, 4) and outputs["mask"].shape == (3, size, size, 1)
    # The card names the logits layer, so the logits are what the model's softmax turns into probabilities.
    np.testing.assert_allclose(softmax(outputs["logits"]), network.model(batch, training=False)["type"], atol=1e-5)
    np.testing.assert_allclose(network.predict_raw(batch), outputs["logits"])
    assert network.type_model.output_shape == (None, 4)


def test_predict_raw_gives_the_model_output_when_the_card_names_no_logits_layer(tmp_path: Path) -> None:
    import keras

    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(4, activation="softmax")(keras.layers.Flatten()(inputs))
    keras.Model(inputs, outputs).save(tmp_path / "tumour_net.keras")
    write_evaluation({"input": {"size": 8}, "class_names": CLASS_NAMES}, tmp_path / "tumour_net.json")
    model = load_model("tumour_net", tmp_path)
    probs = model.predict_raw(np.random.default_rng(0).random((2, 8, 8, 1), dtype=np.float32))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert model.type_model is model.model


def test_models_load_from_the_folder_named_by_the_environment(
    tiny_weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WEIGHTS_ENV, str(tiny_weights))
    assert load_model("tumour_net").card["presence"]["threshold"] == 0.5


def test_flip_average_mirrors_spatial_outputs_back_and_averages_the_rest() -> None:
    from core.models.registry import flip_average

    batch = np.random.default_rng(0).random((2, 4, 6, 1)).astype(np.float32)
    seen = []

    def run(images: np.ndarray) -> dict[str, np.ndarray]:
        seen.append(len(images))
        return {"mask": images, "logits": images.mean(axis=(1, 2, 3))[:, None] * np.arange(3)}

    out = flip_average(run, batch)
    assert seen == [4]  # one call for both views
    np.testing.assert_allclose(out["mask"], batch, rtol=1e-6)  # an equivariant output comes back unchanged
    np.testing.assert_allclose(out["logits"], run(batch)["logits"], rtol=1e-6)


def test_card_adopting_flip_averaging_makes_the_answers_mirror_invariant(tmp_path: Path, tiny_weights: Path) -> None:
    from helpers import brain_slice

    from core.models.cards import read_evaluation
    from core.models.preprocess import preprocess_slice

    shutil.copy(tiny_weights / "tumour_net.keras", tmp_path / "tumour_net.keras")
    write_evaluation({**read_evaluation(tiny_weights / "tumour_net.json"), "test_time_flip": {"adopted": True}},
                     tmp_path / "tumour_net.json")
    network = load_model("tumour_net", tmp_path)
    assert network.flips and not load_model("tumour_net", tiny_weights).flips
    x = preprocess_slice(brain_slice(), network.spec)[None]
    plain, mirrored = network.predict_outputs(x), network.predict_outputs(x[:, :, ::-1])
    np.testing.assert_allclose(plain["logits"], mirrored["logits"], atol=1e-5)
    np.testing.assert_allclose(plain["mask"], mirrored["mask"][:, :, ::-1], atol=1e-5)
