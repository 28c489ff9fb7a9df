"""Flat Keras functional models (no nested sub-models, so tf-keras-vis Grad-CAM can reach every layer)."""

from __future__ import annotations

import keras
from keras import layers


def conv_bn_relu(x, filters: int, stride: int = 1, name: str | None = None):
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                      name=None if name is None else f"{name}_conv")(x)
    x = layers.BatchNormalization(name=None if name is None else f"{name}_bn")(x)
    return layers.Activation("relu", name=name)(x)


def residual_block(x, filters: int, name: str | None = None):
    """Two 3x3 convolutions with an identity (or 1x1 projection) shortcut (He et al., 2016)."""
    shortcut = x
    if x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, use_bias=False)(x)
        shortcut = layers.BatchNormalization()(shortcut)
    y = conv_bn_relu(x, filters)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    return layers.Activation("relu", name=name)(layers.Add()([shortcut, y]))


def build_classifier(size: int, channels: int, n_classes: int, width: int = 32, depth: int = 4,
                     dropout: float = 0.3) -> keras.Model:
    """Residual CNN: a stride-2 stem, ``depth`` residual stages doubling the width, global pooling, softmax.

    The last stage's output is named ``last_conv`` (the Grad-CAM target); the pre-softmax layer is ``logits`` so
    temperature scaling can read it. The softmax is float32 even under a mixed-precision policy.
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
    outputs = layers.Activation("softmax", dtype="float32", name="probs")(logits)
    return keras.Model(inputs, outputs, name="tumour_type_cnn")
