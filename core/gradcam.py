"""Class activation maps: where in a slice the classifier found the evidence for its answer.

Computing stays apart from display, as in keras-io's Grad-CAM example and MONAI's ``GradCAM``: this module returns a
heatmap in [0, 1] at the slice's own size, and :mod:`core.overlay` colours and blends it.

The maps come from tf-keras-vis 0.8.7:

- Grad-CAM: Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization",
  ICCV 2017, https://arxiv.org/abs/1610.02391
- Grad-CAM++: Chattopadhyay et al., "Grad-CAM++: Improved Visual Explanations for Deep Convolutional Networks",
  WACV 2018, https://arxiv.org/abs/1710.11063 (the default: it localises small or multiple regions better).
- Score-CAM: Wang et al., "Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural Networks",
  CVPR Workshops 2020, https://arxiv.org/abs/1910.01279, run as Faster Score-CAM (see :data:`SCORECAM_MAX_N`).

A network whose type head pools its features by its own tumour map (:mod:`core.network_layers`) also offers
"Attention": those pooling weights, the exact share each position had in the features the type was read from. It
needs no gradients and is the same for every class.

The target layer of each method and the default method are the ones the model's card names under
``architecture.heatmap_layers`` (or the single ``architecture.gradcam_layer``), ``architecture.attention_layer`` and
``architecture.gradcam_method``, chosen by ``training.evaluate_tumour_net`` on how often each method's peak falls
inside the expert tumour mask of validation slices. The maps explain the type head: a multi-output network is
viewed through a flat model that ends at its ``architecture.type_layer``.
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

from core.preprocess import find_brain_box, preprocess_slice, resize
from core.registry import LoadedModel, flip_average

ATTENTION = "Attention"
GRADIENT_METHODS: tuple[str, ...] = ("Grad-CAM++", "Grad-CAM", "Score-CAM")
METHODS: tuple[str, ...] = (ATTENTION, *GRADIENT_METHODS)
"""Every heatmap method; a model offers those :func:`available_methods` lists, its card names the default."""

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


def _architecture(model: LoadedModel | None) -> dict:
    return ((model.card if model is not None else {}).get("architecture")) or {}


def available_methods(model: LoadedModel | None) -> tuple[str, ...]:
    """The methods this model can show: "Attention" only when its card names an ``attention_layer``."""
    return METHODS if _architecture(model).get("attention_layer") else GRADIENT_METHODS


def default_method(model: LoadedModel | None) -> str:
    """The heatmap method the model's card recommends (the first available one when it names none)."""
    method = _architecture(model).get("gradcam_method")
    return method if method in available_methods(model) else available_methods(model)[0]


def can_explain(model: LoadedModel | None) -> bool:
    """Whether the card names a layer for at least one heatmap method."""
    architecture = _architecture(model)
    return bool(architecture.get("attention_layer") or architecture.get("heatmap_layers")
                or architecture.get("gradcam_layer"))


def heatmap_layer(model: LoadedModel, method: str) -> str | None:
    """The layer ``method`` reads on this model, as its card names it."""
    architecture = _architecture(model)
    if method == ATTENTION:
        return architecture.get("attention_layer")
    return (architecture.get("heatmap_layers") or {}).get(method) or architecture.get("gradcam_layer")


def gradcam_heatmap(
    model: LoadedModel, pixels: np.ndarray, class_index: int | None = None, method: str | None = None,
    attention: np.ndarray | None = None,
) -> np.ndarray:
    """Where the classifier looked when scoring ``class_index`` on one slice.

    Args:
        model: a classifier whose card names its target layer under ``architecture.gradcam_layer``.
        pixels: H x W float32 slice in [0, 1] (``ScanSlice.pixels``), preprocessed here exactly as for prediction.
        class_index: output index to explain; None explains the predicted class.
        method: one of :func:`available_methods`; None uses :func:`default_method`.
        attention: this slice's attention weights from a forward pass already made (``Analysis.attention``), so
            "Attention" costs no second pass; ignored by the other methods.

    Returns:
        H x W float32 heatmap in [0, 1] at the slice's own size. When the model's input spec crops to the brain, the
        model never saw the rest of the image, so the map fills the brain box and is 0 outside it.

    Raises:
        ValueError: ``method`` is not one the model offers, or the card names no target layer.
    """
    method = method or default_method(model)
    if method not in available_methods(model):
        raise ValueError(f"Unknown heatmap method {method!r}; choose one of {', '.join(available_methods(model))}.")
    layer = heatmap_layer(model, method)
    if layer is None:
        raise ValueError(f"The {model.name} model's card names no gradcam_layer, so it cannot show a heatmap.")
    batch = preprocess_slice(pixels, model.spec)[None]
    if method == ATTENTION:
        cam = _min_max(model.predict_outputs(batch)["attention"][0, ..., 0] if attention is None else attention)
    else:
        if class_index is None:
            class_index = int(np.argmax(model.predict_raw(batch)[0]))
        cam = compute_cam(model.type_model, method, batch, layer, class_index)
    box = find_brain_box(pixels) if model.spec.crop else (0, 0, *pixels.shape)
    return _place_heatmap(cam, pixels.shape, box)


def compute_cam(model: keras.Model, method: str, batch: np.ndarray, layer: str, class_index: int,
                flip: bool = False) -> np.ndarray:
    """The raw class activation map at ``layer``'s resolution (h x w float32, min-max normalised to [0, 1]).

    ``layer`` is used as named, not replaced by the nearest convolution before it: cards name the rectified
    activation, whose feature maps are the ones the CAM papers weight. For "Attention", ``layer`` is the attention
    layer and ``class_index`` is unused (the weights are the same for every class); ``flip`` averages them with the
    mirrored slice's, as :class:`~core.registry.LoadedModel` does when its card adopts flip averaging.
    """
    if method == ATTENTION:
        view = _attention_view(model, layer)

        def run(images: np.ndarray) -> dict[str, np.ndarray]:
            return {ATTENTION: np.asarray(view(images, training=False))}

        return _min_max((flip_average(run, batch) if flip else run(batch))[ATTENTION][0, ..., 0])
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


def _min_max(weights: np.ndarray) -> np.ndarray:
    """Attention weights scaled to [0, 1] like tf-keras-vis's maps (all zero when they are flat)."""
    weights = np.asarray(weights, dtype=np.float32)
    span = float(weights.max() - weights.min())
    return (weights - weights.min()) / span if span > 0 else np.zeros_like(weights)


def _place_heatmap(cam: np.ndarray, shape: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    """Resize ``cam`` bilinearly into ``box`` (top, left, bottom, right) of an all-zero ``shape`` map."""
    top, left, bottom, right = box
    heatmap = np.zeros(shape, dtype=np.float32)
    heatmap[top:bottom, left:right] = np.clip(resize(cam, (bottom - top, right - left)), 0.0, 1.0)
    return heatmap


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
