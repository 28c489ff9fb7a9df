"""Shared fixtures: a folder of tiny untrained models whose answers are fixed by their output biases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.cards import write_evaluation
from core.preprocess import InputSpec

CLASS_NAMES = ["glioma", "meningioma", "notumor", "pituitary"]
TINY_SIZE = 64
BIAS = 6.0
"""Logit bias that makes an untrained head answer the same on every image (softmax/sigmoid about 0.99)."""


def _bias_logits(model, index: int) -> None:
    """Make output ``index`` of the ``logits`` layer win by :data:`BIAS`, whatever the image."""
    layer = model.get_layer("logits")
    kernel, bias = layer.get_weights()
    bias = np.zeros_like(bias)
    bias[index] = BIAS
    layer.set_weights([kernel * 0.01, bias])


def build_bright_segmenter(size: int, threshold: float = 0.8):
    """A one-layer "segmenter" that outlines pixels brighter than ``threshold`` (after preprocessing).

    An untrained U-Net marks nearly every pixel, which tests nothing; this one finds the bright blob of
    :func:`helpers.brain_slice`, so masks, areas and Dice scores have known, plausible values.
    """
    import keras

    inputs = keras.Input((size, size, 1), name="image")
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="mask")(inputs)
    model = keras.Model(inputs, outputs, name="bright_segmenter")
    steepness = 40.0
    model.get_layer("mask").set_weights([np.full((1, 1, 1, 1), steepness), np.array([-steepness * threshold])])
    return model


def save_disagreeing_models(weights_dir: Path) -> Path:
    """Classifier, presence model and segmenter (64 x 64 input) that always disagree in the same way.

    The classifier says "notumor" and the presence model says "tumour" on every slice, so each analysis carries
    the disagreement sentence; the segmenter outlines bright pixels. The cards hold what the app reads (class
    names, input spec, temperature, threshold, logits and Grad-CAM layers).
    """
    import keras

    from training.architectures import build_classifier

    keras.utils.set_random_seed(0)
    spec = InputSpec(size=TINY_SIZE).to_dict()
    classifier = build_classifier(size=TINY_SIZE, channels=1, n_classes=4, width=8, depth=2)
    _bias_logits(classifier, CLASS_NAMES.index("notumor"))
    presence = build_classifier(size=TINY_SIZE, channels=1, n_classes=1, width=8, depth=2)
    _bias_logits(presence, 0)
    models = {
        "classifier": (classifier, {"class_names": CLASS_NAMES, "calibration": {"temperature": 1.0},
                                    "architecture": {"gradcam_layer": "last_conv", "logits_layer": "logits"}}),
        "presence": (presence, {"threshold": 0.5, "architecture": {"logits_layer": "logits"}}),
        "segmenter": (build_bright_segmenter(TINY_SIZE), {}),
    }
    weights_dir.mkdir(parents=True, exist_ok=True)
    for name, (model, card) in models.items():
        model.save(weights_dir / f"{name}.keras")
        write_evaluation({"name": name, "input": spec, **card}, weights_dir / f"{name}.json")
    return weights_dir


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A weights folder with all three tiny models, built once per test session."""
    return save_disagreeing_models(tmp_path_factory.mktemp("tiny_weights"))
