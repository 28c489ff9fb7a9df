"""Flat Keras functional models (no nested sub-models, so tf-keras-vis Grad-CAM can reach every layer)."""

from __future__ import annotations

import keras
from keras import layers

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


def build_tumour_net(size: int, base: int = 16, depth: int = 4, dropout: float = 0.3,
                     name: str = "tumour_net") -> keras.Model:
    """One shared encoder, a 4-class tumour-type head and a segmentation decoder: one forward pass answers both.

    Encoder: a thin full-resolution branch, a stride-2 stem, then ``depth`` residual stages (``base`` doubling) and a
    residual bottleneck at size / 2**(depth + 1). Type head: global average pooling of the bottleneck (named
    ``last_conv``, the Grad-CAM target) -> dropout -> ``logits`` -> softmax ``type``. Decoder: U-Net up-sampling with
    skip connections back to size / 2, bilinear to full size, the full-resolution branch, sigmoid ``mask``. Both
    outputs are float32 under a mixed-precision policy. Flat functional graph, so tf-keras-vis reaches every layer.
    """
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

    pooled = layers.Dropout(dropout)(layers.GlobalAveragePooling2D()(encoded))
    logits = layers.Dense(4, dtype="float32", name="logits")(pooled)
    type_probs = layers.Activation("softmax", dtype="float32", name="type")(logits)

    x = encoded
    for stage in reversed(range(depth)):
        x = layers.Conv2DTranspose(base * 2**stage, 2, strides=2, padding="same")(x)
        x = conv_bn_relu(conv_bn_relu(layers.Concatenate()([x, skips[stage]]), base * 2**stage), base * 2**stage)
    x = layers.UpSampling2D(interpolation="bilinear")(x)
    x = conv_bn_relu(layers.Concatenate()([x, full_res]), max(base // 2, 8))
    mask = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="mask")(x)
    return keras.Model(inputs, {"type": type_probs, "mask": mask}, name=name)
