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


def build_classifier(size: int, channels: int, n_classes: int, width: int = 32, depth: int = 4,
                     dropout: float = 0.3, name: str = "tumour_type_cnn") -> keras.Model:
    """Residual CNN: a stride-2 stem, ``depth`` residual stages doubling the width, global pooling, softmax.

    The last stage's output is named ``last_conv`` (the Grad-CAM target); the pre-softmax layer is ``logits`` so
    temperature scaling can read it. One class gives a sigmoid output (a binary detector). The output activation is
    float32 even under a mixed-precision policy.
    """
    inputs = keras.Input((size, size, channels), name="image")
    x = conv_bn_relu(inputs, width, stride=2, name="stem")
    for stage in range(depth):
        if stage:
            x = layers.MaxPooling2D()(x)
        last = stage == depth - 1
        x = residual_block(x, width * 2**stage, name="last_conv" if last else f"stage{stage}")
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    logits = layers.Dense(n_classes, dtype="float32", name="logits")(x)
    activation = "softmax" if n_classes > 1 else "sigmoid"
    outputs = layers.Activation(activation, dtype="float32", name="probs")(logits)
    return keras.Model(inputs, outputs, name=name)


def _unet_block(x, filters: int, residual: bool):
    if residual:
        return residual_block(x, filters)
    return conv_bn_relu(conv_bn_relu(x, filters), filters)


def build_unet(size: int, base: int = 16, depth: int = 4, residual: bool = False, name: str = "unet") -> keras.Model:
    """U-Net (Ronneberger et al., 2015) whose encoder starts at half resolution.

    A stride-2 stem moves the expensive levels to size/2 (4x cheaper on a CPU); a thin full-resolution branch is
    concatenated back before the output so edges stay sharp. ``residual=True`` gives the ResUNet variant (residual
    blocks, Zhang et al., 2018). Output: size x size x 1 tumour probability (float32 sigmoid).
    """
    inputs = keras.Input((size, size, 1), name="image")
    full_res = conv_bn_relu(inputs, base // 2)
    x = conv_bn_relu(full_res, base, stride=2)
    skips = []
    for level in range(depth):
        x = _unet_block(x, base * 2**level, residual)
        skips.append(x)
        x = layers.MaxPooling2D()(x)
    x = _unet_block(x, base * 2**depth, residual)
    for level in reversed(range(depth)):
        x = layers.Conv2DTranspose(base * 2**level, 2, strides=2, padding="same")(x)
        x = _unet_block(layers.Concatenate()([x, skips[level]]), base * 2**level, residual)
    x = layers.UpSampling2D(interpolation="bilinear")(x)
    x = conv_bn_relu(layers.Concatenate()([x, full_res]), base // 2)
    outputs = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="mask")(x)
    return keras.Model(inputs, outputs, name=name)
