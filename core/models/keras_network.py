"""The Keras side of a shipped network: its ``.keras`` file, the named outputs an analysis reads, and the forward
pass as a compiled function.

Imported only where Keras is needed (no fresh LiteRT export, a gradient heatmap, training and evaluation), because
importing TensorFlow takes seconds; :mod:`core.models.registry` itself never imports it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core.models import network_layers  # noqa: F401  (registers the network's custom layers for load_model)
from core.models.litert_network import THREADS_ENV

OUTPUT_LAYERS = {"mask": "mask_layer", "attention": "attention_layer"}
"""Named output -> the card's ``architecture`` key naming the layer it is read from (besides the logits)."""


def load_keras(path: Path) -> keras.Model:
    return keras.saving.load_model(path, compile=False)


def output_head(model: keras.Model, architecture: dict) -> keras.Model:
    """``model`` with the outputs :meth:`core.models.registry.LoadedModel.predict_outputs` returns, by name: ``logits``
    (the card's logits layer, else the model's first output), ``embedding`` (that layer's input), ``mask`` and
    ``attention`` (when the card names their layers). The LiteRT export is this same head."""
    outputs = {"logits": model.outputs[0]}
    if architecture.get("logits_layer"):
        logits = model.get_layer(architecture["logits_layer"])
        outputs = {"logits": logits.output, "embedding": logits.input}
    for output, key in OUTPUT_LAYERS.items():
        if architecture.get(key):
            outputs[output] = model.get_layer(architecture[key]).output
    return keras.Model(model.inputs, outputs)


def keras_runner(model: keras.Model, architecture: dict) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
    """The forward pass of :func:`output_head` as a ``tf.function`` (``model.predict`` is 2-3x slower per slice)."""
    head = output_head(model, architecture)
    # No autograph: a plain model call needs no conversion, and converting writes generated code to /tmp.
    predict = tf.function(lambda x: head(x, training=False), reduce_retracing=True, autograph=False)

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        outputs = predict(tf.convert_to_tensor(batch, dtype=tf.float32))
        return {name: np.asarray(value) for name, value in outputs.items()}
    return run


def type_view(model: keras.Model, architecture: dict) -> keras.Model:
    """The network up to its type probabilities as a flat single-output model (tf-keras-vis needs one output);
    the model itself when it has a single output."""
    layer = architecture.get("type_layer")
    return model if layer is None else keras.Model(model.inputs, model.get_layer(layer).output)


if THREADS_ENV in os.environ:  # set before TensorFlow runs its first op, which fixes its thread pools
    tf.config.threading.set_intra_op_parallelism_threads(int(os.environ[THREADS_ENV]))
    tf.config.threading.set_inter_op_parallelism_threads(int(os.environ[THREADS_ENV]))
