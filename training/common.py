"""Pieces every training script shares: seeds, the augmentation pipeline, run metadata."""

from __future__ import annotations

import os
import platform
import random
import sys
from datetime import UTC, datetime

import keras
import numpy as np
import tensorflow as tf


def set_seeds(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)


def make_augmenter(seed: int) -> keras.Sequential:
    """Geometric and intensity augmentation for a batch of [0, 1] images: flips, small rotations, zoom, shifts,
    brightness and contrast. Only left-right flips: scans are never shown upside down."""
    return keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomRotation(0.03, fill_mode="constant", seed=seed),
        keras.layers.RandomZoom((-0.12, 0.12), fill_mode="constant", seed=seed),
        keras.layers.RandomTranslation(0.05, 0.05, fill_mode="constant", seed=seed),
        keras.layers.RandomBrightness(0.1, value_range=(0.0, 1.0), seed=seed),
        keras.layers.RandomContrast(0.2, seed=seed),
    ], name="augment")


def make_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, augment: bool) -> tf.data.Dataset:
    """Batches of (float32 image, target) from in-memory arrays, shuffled and augmented when training."""
    data = tf.data.Dataset.from_tensor_slices((x, y))
    if augment:
        data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size).map(lambda a, b: (tf.cast(a, tf.float32), b), num_parallel_calls=tf.data.AUTOTUNE)
    if augment:
        augmenter = make_augmenter(seed)
        data = data.map(lambda a, b: (tf.clip_by_value(augmenter(a, training=True), 0.0, 1.0), b),
                        num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


def run_metadata(command: list[str], wall_time_s: float) -> dict:
    """Who, when and where a model was trained, for its card."""
    return {
        "command": " ".join(["python", "-m", *command]) if command else " ".join(sys.argv),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_time_s": round(wall_time_s, 1),
        "hardware": {"cpu_count": os.cpu_count(), "machine": platform.machine(), "processor": platform.processor()},
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
                     "numpy": np.__version__},
    }


def predict_logits(model: keras.Model, x: np.ndarray, layer: str = "logits", batch_size: int = 64) -> np.ndarray:
    """Pre-softmax outputs of ``model`` for an array of inputs."""
    head = keras.Model(model.inputs, model.get_layer(layer).output)
    return np.concatenate([np.asarray(head(tf.cast(x[i:i + batch_size], tf.float32), training=False))
                           for i in range(0, len(x), batch_size)])
