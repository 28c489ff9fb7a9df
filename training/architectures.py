"""Flat Keras functional models (no nested sub-models, so tf-keras-vis Grad-CAM can reach every layer)."""

from __future__ import annotations

import keras
from keras import layers

from core.models.network_layers import ATTENTION_LAYER, MaskAttention, WeightedPooling

NETWORK_LAYERS = {"logits_layer": "logits", "mask_layer": "mask", "type_layer": "type"}
"""The card's ``architecture`` keys naming the layers of :func:`build_tumour_net` that the app reads
(:func:`core.models.keras_network.output_head`); training and evaluation read them through the same head."""

BN_MOMENTUM = 0.9
"""Faster-moving batch-norm statistics than Keras' 0.99, so short schedules still end with usable inference stats."""


def conv_bn_relu(x, filters: int, stride: int = 1, name: str | None = None):
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                      name=None if name is None else f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=None if name is None else f"{name}_bn")(x)
    return layers.Activation("relu", name=name)(x)


def residual_block(x, filters: int, name: str | None = None):
    """Two 3x3 convolutions with an identity (or 1x1 projection) shortcut (He et al., 2016)."""
    shortcut = x
    if x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, use_bias=False)(x)
        shortcut = layers.BatchNormalization(momentum=BN_MOMENTUM)(shortcut)
    y = conv_bn_relu(x, filters)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM)(y)
    return layers.Activation("relu", name=name)(layers.Add()([shortcut, y]))


POOLINGS = ("mask", "gap")
"""How the type head pools the encoder: by the network's own tumour map, or a plain global average (until 2026-12)."""


def build_tumour_net(size: int, base: int = 16, depth: int = 4, dropout: float = 0.3, pooling: str = "mask",
                     name: str = "tumour_net") -> keras.Model:
    """One shared encoder, a 4-class tumour-type head and a segmentation decoder: one forward pass answers both.

    Encoder: a thin full-resolution branch, a stride-2 stem, then ``depth`` residual stages (``base`` doubling) and a
    residual bottleneck at size / 2**(depth + 1) (named ``last_conv``). Decoder: U-Net up-sampling with skip connections
    back to size / 2, bilinear to full size, the full-resolution branch, sigmoid ``mask``. Type head,
    ``pooling="mask"``: the bottleneck up-sampled to the last stage's grid and joined with that stage, pooled with the
    weights of :class:`~core.models.network_layers.MaskAttention` (the mask averaged onto that grid, layer
    ``attention``); ``pooling="gap"``: global average of the bottleneck. Then dropout -> ``logits`` -> softmax ``type``.
    Outputs are float32 under a mixed-precision policy. Flat functional graph, so tf-keras-vis reaches every layer.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
    inputs = keras.Input((size, size, 1), name="image")
    full_res = conv_bn_relu(inputs, max(base // 2, 8), name="full_res")
    x = conv_bn_relu(full_res, base, stride=2, name="stem")
    skips = []
    for stage in range(depth):
        if stage:
            x = layers.MaxPooling2D()(x)
        x = residual_block(x, base * 2**stage, name=f"stage{stage}")
        skips.append(x)
    x = layers.MaxPooling2D()(x)
    encoded = residual_block(x, base * 2 ** (depth - 1) * 2, name="last_conv")

    x = encoded
    for stage in reversed(range(depth)):
        x = layers.Conv2DTranspose(base * 2**stage, 2, strides=2, padding="same")(x)
        x = conv_bn_relu(conv_bn_relu(layers.Concatenate()([x, skips[stage]]), base * 2**stage), base * 2**stage)
    x = layers.UpSampling2D(interpolation="bilinear")(x)
    x = conv_bn_relu(layers.Concatenate()([x, full_res]), max(base // 2, 8))
    mask = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="mask")(x)

    if pooling == "mask":
        features = layers.Concatenate(name="head_features")([layers.UpSampling2D()(encoded), skips[-1]])
        attention = MaskAttention(name=ATTENTION_LAYER)([mask, features])
        pooled = WeightedPooling(name="attention_pool")([features, attention])
    else:
        pooled = layers.GlobalAveragePooling2D()(encoded)
    logits = layers.Dense(4, dtype="float32", name="logits")(layers.Dropout(dropout)(pooled))
    type_probs = layers.Activation("softmax", dtype="float32", name="type")(logits)
    return keras.Model(inputs, {"type": type_probs, "mask": mask}, name=name)
