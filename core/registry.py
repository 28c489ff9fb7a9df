"""Find, load and describe the shipped models; each ``.keras`` file travels with its JSON card.

A model without its card is refused: the card holds the class names, the input contract and every metric shown.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core import network_layers  # noqa: F401  (registers the network's custom layers for load_model)
from core.cards import MODELS, read_evaluation, weights_dir
from core.preprocess import InputSpec


class ModelMissingError(FileNotFoundError):
    """A model's weights or card are not in the weights folder; the message names the command that trains it."""


def flip_average(run: Callable[[np.ndarray], dict[str, np.ndarray]], batch: np.ndarray) -> dict[str, np.ndarray]:
    """Test-time flip averaging: ``run`` on the batch and its left-right mirror in one call, outputs averaged.

    Spatial outputs (N x H x W x C) of the mirrored half are mirrored back first; the others (logits) are averaged
    as they are. Brains are roughly symmetric left-right and training flips them, so both views are in distribution.
    """
    both = {name: np.asarray(value) for name, value in run(np.concatenate([batch, batch[:, :, ::-1]])).items()}
    half = len(batch)
    return {name: (value[:half] + (value[half:, :, ::-1] if value.ndim == 4 else value[half:])) / 2
            for name, value in both.items()}


@dataclass
class LoadedModel:
    """A Keras model, its card, and a compiled batch predictor (``model.predict`` is 2-3x slower per slice)."""

    name: str
    model: keras.Model
    card: dict
    _predict: tf.types.experimental.GenericFunction = field(init=False, repr=False)

    def __post_init__(self) -> None:
        architecture = self.card.get("architecture", {})
        outputs = {"logits": self.model.outputs[0]}
        if architecture.get("logits_layer"):
            logits = self.model.get_layer(architecture["logits_layer"])
            outputs = {"logits": logits.output, "embedding": logits.input}
        for output, layer in (("mask", "mask_layer"), ("attention", "attention_layer")):
            if architecture.get(layer):
                outputs[output] = self.model.get_layer(architecture[layer]).output
        head = keras.Model(self.model.inputs, outputs)
        # No autograph: a plain model call needs no conversion, and converting writes generated code to /tmp.
        self._predict = tf.function(lambda x: head(x, training=False), reduce_retracing=True, autograph=False)

    @functools.cached_property
    def type_model(self) -> keras.Model:
        """The network up to its type probabilities as a flat single-output model (tf-keras-vis needs one output);
        the model itself when it has a single output."""
        layer = self.card.get("architecture", {}).get("type_layer")
        return self.model if layer is None else keras.Model(self.model.inputs, self.model.get_layer(layer).output)

    @property
    def spec(self) -> InputSpec:
        return InputSpec.from_dict(self.card["input"])

    @property
    def class_names(self) -> list[str]:
        return list(self.card.get("class_names", []))

    def predict_outputs(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """One forward pass over a batch of preprocessed inputs, as a dict of arrays.

        ``logits``: the card's logits layer (else the model's output); ``embedding``: the pooled features that layer
        classifies (with a logits layer); ``mask``: N x S x S x 1 probabilities (with a ``mask_layer``);
        ``attention``: N x h x w x 1 pooling weights of the type head (with an ``attention_layer``). Averaged with the
        mirrored batch (:func:`flip_average`) when the card's ``test_time_flip.adopted`` says validation chose it.
        """
        if self.flips:
            return flip_average(self._run, batch)
        return self._run(batch)

    @property
    def flips(self) -> bool:
        return bool((self.card.get("test_time_flip") or {}).get("adopted"))

    def _run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        outputs = self._predict(tf.convert_to_tensor(batch, dtype=tf.float32))
        return {name: np.asarray(value) for name, value in outputs.items()}

    def predict_raw(self, batch: np.ndarray) -> np.ndarray:
        """The model's raw output for a batch of preprocessed inputs (logits when the card names a logits layer)."""
        return self.predict_outputs(batch)["logits"]


def load_model(name: str, folder: Path | None = None) -> LoadedModel:
    """Load ``folder/name.keras`` with its card ``name.json`` (default folder: :func:`core.cards.weights_dir`).

    Raises:
        ModelMissingError: either file is absent.
    """
    folder = Path(folder or weights_dir())
    weights, card = folder / f"{name}.keras", folder / f"{name}.json"
    train = MODELS.get(name, {}).get("train", "its training script")
    if not weights.exists():
        raise ModelMissingError(f"The {name} model is not installed; train it with `{train}`.")
    if not card.exists():
        raise ModelMissingError(f"The {name} model has no evaluation card ({card.name}); re-run `{train}`.")
    return LoadedModel(name, keras.saving.load_model(weights, compile=False), read_evaluation(card))


def load_available_models(folder: Path | None = None) -> dict[str, LoadedModel]:
    """Every shipped model that is present; absent ones are simply left out."""
    loaded = {}
    for name in MODELS:
        try:
            loaded[name] = load_model(name, folder)
        except ModelMissingError:
            continue
    return loaded
