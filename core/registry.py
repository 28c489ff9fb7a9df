"""Find, load and describe the shipped models; each ``.keras`` file travels with its JSON card.

A model without its card is refused: the card holds the class names, the input contract and every metric shown.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core.cards import MODELS, read_evaluation, weights_dir
from core.preprocess import InputSpec


class ModelMissingError(FileNotFoundError):
    """A model's weights or card are not in the weights folder; the message names the command that trains it."""


@dataclass
class LoadedModel:
    """A Keras model, its card, and a compiled batch predictor (``model.predict`` is 2-3x slower per slice)."""

    name: str
    model: keras.Model
    card: dict
    _predict: tf.types.experimental.GenericFunction = field(init=False, repr=False)

    def __post_init__(self) -> None:
        architecture = self.card.get("architecture", {})
        outputs = {"logits": self.model.get_layer(architecture["logits_layer"]).output} \
            if architecture.get("logits_layer") else {"logits": self.model.outputs[0]}
        if architecture.get("mask_layer"):
            outputs["mask"] = self.model.get_layer(architecture["mask_layer"]).output
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
        """One forward pass over a batch of preprocessed inputs: ``logits`` (the card's logits layer, else the
        model's output) and, when the card names a ``mask_layer``, ``mask`` (N x S x S x 1 probabilities)."""
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
