"""The gradient heatmap methods through tf-keras-vis, and "Attention" read from a Keras model (for evaluation).

Split from :mod:`core.models.gradcam`, which dispatches here, because these need the Keras model and so TensorFlow; the
methods and their references are described there.
"""

from __future__ import annotations

import functools
import threading
import weakref

import keras
import numpy as np
from tf_keras_vis import ModelVisualization
from tf_keras_vis.gradcam import Gradcam
from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
from tf_keras_vis.scorecam import Scorecam
from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
from tf_keras_vis.utils.scores import CategoricalScore

from core.models.gradcam import ATTENTION, min_max
from core.models.registry import flip_average

SCORECAM_MAX_N = 16
"""Activation channels Score-CAM keeps (those with the largest spatial variance, "Faster Score-CAM").

Score-CAM needs no gradients but re-runs the model once per kept channel, masked by that channel's activation. With
16 channels a slice costs one batch of 16 forward passes, a few times the cost of Grad-CAM; keeping all 256 channels
of a typical last block takes about ten times longer again. The channels dropped are the spatially flattest, which
add least to the map.
"""

_VISUALISERS: dict[str, type[ModelVisualization]] = {
    "Grad-CAM++": GradcamPlusPlus,
    "Grad-CAM": Gradcam,
    "Score-CAM": Scorecam,
}
_cache: weakref.WeakKeyDictionary[keras.Model, dict[str, ModelVisualization | keras.Model]] = \
    weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def compute_cam(model: keras.Model, method: str, batch: np.ndarray, layer: str, class_index: int,
                flip: bool = False) -> np.ndarray:
    """The raw class activation map at ``layer``'s resolution (h x w float32, min-max normalised to [0, 1]).

    ``layer`` is used as named, not replaced by the nearest convolution before it: cards name the rectified
    activation, whose feature maps are the ones the CAM papers weight. For "Attention", ``layer`` is the attention
    layer and ``class_index`` is unused (the weights are the same for every class); ``flip`` averages them with the
    mirrored slice's, as :class:`~core.models.registry.LoadedModel` does when its card adopts flip averaging.
    """
    if method == ATTENTION:
        view = _attention_view(model, layer)

        def run(images: np.ndarray) -> dict[str, np.ndarray]:
            return {ATTENTION: np.asarray(view(images, training=False))}

        return min_max((flip_average(run, batch) if flip else run(batch))[ATTENTION][0, ..., 0])
    options = {}
    if method == "Score-CAM":
        channels = int(model.get_layer(layer).output.shape[-1])
        options = {"max_N": min(SCORECAM_MAX_N, channels), "batch_size": SCORECAM_MAX_N}
    cam = _visualiser(model, method)(
        CategoricalScore(class_index),
        batch,
        penultimate_layer=layer,
        seek_penultimate_conv_layer=False,
        expand_cam=False,
        **options,
    )
    return np.asarray(cam, dtype=np.float32)[0]



def _attention_view(model: keras.Model, layer: str) -> keras.Model:
    """A view of ``model`` that ends at its attention layer, built once per model."""
    with _cache_lock:
        per_model = _cache.setdefault(model, {})
        key = f"{ATTENTION}:{layer}"
        if key not in per_model:
            per_model[key] = keras.Model(model.inputs, model.get_layer(layer).output)
        return per_model[key]


def _visualiser(model: keras.Model, method: str) -> ModelVisualization:
    """The tf-keras-vis visualiser for ``(model, method)``, built on first use and kept while the model lives.

    Building clones the model, so it is done once, not per slice. ``ReplaceToLinear`` swaps the output softmax for
    the identity on that clone (tf-keras-vis's default ``clone=True``, checked with Keras 3), so scores are logits,
    whose gradients do not vanish when the softmax saturates, and the caller's model keeps its softmax.
    """
    with _cache_lock:
        per_method = _cache.setdefault(model, {})
        if method not in per_method:
            visualiser = _VISUALISERS[method](model, model_modifier=ReplaceToLinear(), clone=True)
            if method == "Score-CAM":
                # Score-CAM calls the clone's predict() with Keras's default progress bar; keep the server log clean.
                visualiser.model.predict = functools.partial(visualiser.model.predict, verbose=0)
            per_method[method] = visualiser
        return per_method[method]
