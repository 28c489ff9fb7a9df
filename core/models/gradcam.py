"""Class activation maps: where in a slice the classifier found the evidence for its answer.

Computing stays apart from display, as in keras-io's Grad-CAM example and MONAI's ``GradCAM``: this module returns a
heatmap in [0, 1] at the slice's own size, and :mod:`core.present.overlay` colours and blends it.

The maps come from tf-keras-vis 0.8.7:

- Grad-CAM: Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization",
  ICCV 2017, https://arxiv.org/abs/1610.02391
- Grad-CAM++: Chattopadhyay et al., "Grad-CAM++: Improved Visual Explanations for Deep Convolutional Networks",
  WACV 2018, https://arxiv.org/abs/1710.11063 (the default: it localises small or multiple regions better).
- Score-CAM: Wang et al., "Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural Networks",
  CVPR Workshops 2020, https://arxiv.org/abs/1910.01279, run as Faster Score-CAM
  (see :data:`core.models.gradient_cams.SCORECAM_MAX_N`).

A network whose type head pools its features by its own tumour map (:mod:`core.models.network_layers`) also offers
"Attention": those pooling weights, the exact share each position had in the features the type was read from. It
needs no gradients and is the same for every class.

The target layer of each method and the default method are the ones the model's card names under
``architecture.heatmap_layers`` (or the single ``architecture.gradcam_layer``), ``architecture.attention_layer`` and
``architecture.gradcam_method``, chosen by ``training.evaluate_tumour_net`` on how often each method's peak falls
inside the expert tumour mask of validation slices. The maps explain the type head: a multi-output network is
viewed through a flat model that ends at its ``architecture.type_layer``. The gradient methods run in
:mod:`core.models.gradient_cams`, imported on first use, since they need TensorFlow and "Attention" does not.
"""

from __future__ import annotations

import numpy as np

from core.models.preprocess import find_brain_box, preprocess_slice, resize
from core.models.registry import LoadedModel

ATTENTION = "Attention"
GRADIENT_METHODS: tuple[str, ...] = ("Grad-CAM++", "Grad-CAM", "Score-CAM")
METHODS: tuple[str, ...] = (ATTENTION, *GRADIENT_METHODS)
"""Every heatmap method; a model offers those :func:`available_methods` lists, its card names the default."""

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
        cam = min_max(model.predict_outputs(batch)["attention"][0, ..., 0] if attention is None else attention)
    else:
        if class_index is None:
            class_index = int(np.argmax(model.predict_raw(batch)[0]))
        from core.models.gradient_cams import compute_cam  # imports TensorFlow, which "Attention" never needs

        cam = compute_cam(model.type_model, method, batch, layer, class_index)
    box = find_brain_box(pixels) if model.spec.crop else (0, 0, *pixels.shape)
    return _place_heatmap(cam, pixels.shape, box)


def min_max(weights: np.ndarray) -> np.ndarray:
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
