"""Find, load and describe the shipped models; each ``.keras`` file travels with its JSON card.

A model without its card is refused: the card holds the class names, the input contract and every metric shown.
"""

from __future__ import annotations

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
        output_layer = self.card.get("architecture", {}).get("logits_layer")
        head = self.model if output_layer is None else keras.Model(
            self.model.inputs, self.model.get_layer(output_layer).output)
        self._predict = tf.function(lambda x: head(x, training=False), reduce_retracing=True, autograph=False)

    @property
    def spec(self) -> InputSpec:
        return InputSpec.from_dict(self.card["input"])

    @property
    def class_names(self) -> list[str]:
        return list(self.card.get("class_names", []))

    def predict_raw(self, batch: np.ndarray) -> np.ndarray:
        """The model's raw output for a batch of preprocessed inputs (logits when the card names a logits layer)."""
        return np.asarray(self._predict(tf.convert_to_tensor(batch, dtype=tf.float32)))


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
