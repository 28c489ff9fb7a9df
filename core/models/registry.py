"""Find, load and describe the shipped models; each ``.keras`` file travels with its JSON card.

Importing this module does not import TensorFlow: a model with a fresh LiteRT export runs without it, and its Keras
model is loaded only when something needs it (a gradient heatmap).

A model without its card is refused: the card holds the class names, the input contract and every metric shown.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.models.cards import MODELS, read_evaluation, weights_dir
from core.models.litert_network import Runner, fresh_export, litert_runner
from core.models.metrics import softmax
from core.models.preprocess import InputSpec

if TYPE_CHECKING:
    import keras


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
    """A shipped network, its card, and its forward pass.

    ``source`` is the Keras model, or the path of its ``.keras`` file, loaded (with TensorFlow) on first use of
    :attr:`model`. ``runner`` is a forward pass that needs no TensorFlow (:mod:`core.models.litert_network`); without
    one, the forward pass is the Keras model's (:func:`core.models.keras_network.keras_runner`).
    """

    name: str
    source: Any
    card: dict
    runner: Runner | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @functools.cached_property
    def model(self) -> keras.Model:
        """The Keras model (loaded here when ``source`` is a path; Keras imports TensorFlow)."""
        with self._lock:
            if isinstance(self.source, str | Path):
                from core.models.keras_network import load_keras

                self.source = load_keras(Path(self.source))
            return self.source

    @functools.cached_property
    def type_model(self) -> keras.Model:
        """The network up to its type probabilities (:func:`core.models.keras_network.type_view`), for tf-keras-vis."""
        from core.models.keras_network import type_view

        return type_view(self.model, self.card.get("architecture", {}))

    @functools.cached_property
    def _run(self) -> Runner:
        if self.runner is not None:
            return self.runner
        from core.models.keras_network import keras_runner

        return keras_runner(self.model, self.card.get("architecture", {}))

    @property
    def spec(self) -> InputSpec:
        return InputSpec.from_dict(self.card["input"])

    @property
    def class_names(self) -> list[str]:
        return list(self.card.get("class_names", []))

    def type_probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated N x K type probabilities: the softmax of N x K logits over the card's temperature (fitted on
        validation; 1, i.e. uncalibrated, for a card without one)."""
        return softmax(logits, float(self.card.get("calibration", {}).get("temperature", 1.0)))

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

    @property
    def engine(self) -> str:
        """What runs the forward pass: "LiteRT" or "Keras"."""
        return "LiteRT" if self.runner is not None else "Keras"

    def predict_raw(self, batch: np.ndarray) -> np.ndarray:
        """The model's raw output for a batch of preprocessed inputs (logits when the card names a logits layer)."""
        return self.predict_outputs(batch)["logits"]


def load_model(name: str, folder: Path | None = None) -> LoadedModel:
    """Model ``name`` of ``folder`` (default: :func:`core.models.cards.weights_dir`) with its card ``name.json``, run
    through its LiteRT export when that is fresh (:func:`core.models.litert_network.fresh_export`), else through Keras.

    Raises:
        ModelMissingError: either file is absent.
    """
    folder = Path(folder or weights_dir())
    weights, card = folder / f"{name}.keras", folder / f"{name}.json"
    train = MODELS[name].train if name in MODELS else "its training script"
    if not weights.exists():
        raise ModelMissingError(f"The {name} model is not installed; train it with `{train}`.")
    if not card.exists():
        raise ModelMissingError(f"The {name} model has no evaluation card ({card.name}); re-run `{train}`.")
    export = fresh_export(folder, name)
    if export is None:
        from core.models.keras_network import load_keras

        return LoadedModel(name, load_keras(weights), read_evaluation(card))
    return LoadedModel(name, weights, read_evaluation(card), litert_runner(export))


def load_available_models(folder: Path | None = None) -> dict[str, LoadedModel]:
    """Every shipped model that is present; absent ones are simply left out."""
    loaded = {}
    for name in MODELS:
        try:
            loaded[name] = load_model(name, folder)
        except ModelMissingError:
            continue
    return loaded
