"""The two custom layers of the tumour network's type head: attention from its own tumour map, and pooling by it.

The type head does not average the whole image: it pools the encoder's features with weights taken from the
network's segmentation output (a floor keeps every position in play, so a tumour-free slice is pooled evenly). The
same weights are the heatmap "Attention": they are exactly where the type decision drew its features from. Importing
this module registers both layers, so ``keras.saving.load_model`` can rebuild a saved network.
"""

from __future__ import annotations

import keras
from keras import ops

ATTENTION_LAYER = "attention"
"""The layer whose output (N x h x w x 1, summing to 1 per slice) is the attention heatmap."""


@keras.saving.register_keras_serializable(package="tumour_net")
class MaskAttention(keras.layers.Layer):
    """Tumour-map probabilities, averaged down to the feature grid, plus ``floor``, normalised to sum to 1.

    Inputs: ``[mask (N x H x W x 1), features (N x h x w x C)]`` with H a multiple of h. The mask is a constant
    to this layer (no gradient), so the type loss never bends the segmentation towards whatever helps the type.
    """

    def __init__(self, floor: float = 0.005, **kwargs):
        super().__init__(**kwargs)
        self.floor = floor

    def call(self, inputs):
        mask, features = inputs
        factor = mask.shape[1] // features.shape[1]
        pooled = ops.average_pool(ops.stop_gradient(ops.cast(mask, "float32")), factor, factor)
        weights = pooled + self.floor
        return weights / ops.sum(weights, axis=(1, 2), keepdims=True)

    def compute_output_shape(self, input_shapes):
        mask_shape, feature_shape = input_shapes
        return (mask_shape[0], feature_shape[1], feature_shape[2], 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "floor": self.floor}


@keras.saving.register_keras_serializable(package="tumour_net")
class WeightedPooling(keras.layers.Layer):
    """Sum of features weighted by a per-position map: ``[features (N x h x w x C), weights (N x h x w x 1)]``."""

    def call(self, inputs):
        features, weights = inputs
        return ops.sum(ops.cast(features, "float32") * ops.cast(weights, "float32"), axis=(1, 2))

    def compute_output_shape(self, input_shapes):
        feature_shape, _ = input_shapes
        return (feature_shape[0], feature_shape[-1])
