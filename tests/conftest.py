"""Shared fixtures: a folder holding a tiny untrained network whose answers are fixed by its output biases, and the
browser tests' chromium page and screenshot folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from browser_support import chromium_page, kept_screens

from core.models.cards import write_evaluation
from core.models.preprocess import InputSpec

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


def build_tiny_network(size: int = TINY_SIZE):
    """A flat two-headed network with the tumour network's layer names and fixed answers.

    The type head (a convolution named ``last_conv`` for Grad-CAM, pooled by the mask's ``attention`` as in the real
    network, ``logits``, softmax ``type``) says "glioma" on every slice. The ``mask`` head outlines pixels brighter
    than 0.8 after preprocessing: an untrained U-Net marks nearly every pixel, which tests nothing, while this finds
    the bright blob of :func:`helpers.brain_slice`, so masks, areas and Dice scores have known, plausible values.
    """
    import keras

    from core.models.network_layers import ATTENTION_LAYER, MaskAttention, WeightedPooling

    inputs = keras.Input((size, size, 1), name="image")
    features = keras.layers.Conv2D(4, 3, strides=4, padding="same", activation="relu", name="last_conv")(inputs)
    mask = keras.layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="mask")(inputs)
    pooled = WeightedPooling()([features, MaskAttention(name=ATTENTION_LAYER)([mask, features])])
    logits = keras.layers.Dense(len(CLASS_NAMES), dtype="float32", name="logits")(pooled)
    probs = keras.layers.Activation("softmax", dtype="float32", name="type")(logits)
    model = keras.Model(inputs, {"type": probs, "mask": mask}, name="tiny_tumour_net")
    _bias_logits(model, CLASS_NAMES.index("glioma"))
    steepness = 40.0
    model.get_layer("mask").set_weights([np.full((1, 1, 1, 1), steepness), np.array([-steepness * 0.8])])
    return model


TINY_CARD = {
    "class_names": CLASS_NAMES,
    "calibration": {"temperature": 1.0},
    "presence": {"threshold": 0.5},
    "segmentation": {"min_component_px": 4},
    "architecture": {"gradcam_layer": "last_conv", "gradcam_method": "Grad-CAM++", "logits_layer": "logits",
                     "mask_layer": "mask", "type_layer": "type", "attention_layer": "attention"},
}
"""What the app reads from the network's card: classes, input, temperature, presence threshold, speck size, layers."""


def save_tiny_network(weights_dir: Path) -> Path:
    """``weights_dir/tumour_net.keras`` (64 x 64 input) and its card; returns the folder."""
    import keras

    keras.utils.set_random_seed(0)
    weights_dir.mkdir(parents=True, exist_ok=True)
    build_tiny_network().save(weights_dir / "tumour_net.keras")
    write_evaluation({"name": "tumour_net", "input": InputSpec(size=TINY_SIZE).to_dict(), **TINY_CARD},
                     weights_dir / "tumour_net.json")
    return weights_dir


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A weights folder with the tiny network, built once per test session."""
    return save_tiny_network(tmp_path_factory.mktemp("tiny_weights"))


@pytest.fixture
def page(tmp_path):
    """A page of Debian's chromium in a fresh profile, for the browser tests (see ``browser_support``)."""
    with chromium_page(tmp_path / "profile") as page:
        yield page


@pytest.fixture
def screens(request, tmp_path):
    """Folder for a browser test's screenshots, copied at the end (even when it fails) to its module's
    ``SCREENS_COPY`` for a human look."""
    with kept_screens(tmp_path / "screens", request.module.SCREENS_COPY) as folder:
        yield folder


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory):
    """A running Orthanc PACS with DICOMweb and a test user (:mod:`orthanc_server`), one per test session; tests
    that use it skip where Orthanc is not installed."""
    from orthanc_server import running_orthanc

    with running_orthanc(tmp_path_factory.mktemp("orthanc")) as server:
        yield server
