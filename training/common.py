"""Pieces every training script shares: seeds, the augmentation pipeline, run metadata, a generated slice."""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
from dataclasses import fields, replace
from datetime import UTC, datetime
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from core.io.scan import ScanSlice


def set_seeds(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)


def make_geometric_augmenter(seed: int) -> keras.Sequential:
    """Left-right flips, small rotations, zoom and shifts; only left-right flips, as scans are never upside down."""
    return keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomRotation(0.03, fill_mode="constant", seed=seed),
        keras.layers.RandomZoom((-0.12, 0.12), fill_mode="constant", seed=seed),
        keras.layers.RandomTranslation(0.05, 0.05, fill_mode="constant", seed=seed),
    ], name="geometric")


def make_intensity_augmenter(seed: int) -> keras.Sequential:
    """Brightness and contrast changes for [0, 1] images (never applied to masks)."""
    return keras.Sequential([
        keras.layers.RandomBrightness(0.1, value_range=(0.0, 1.0), seed=seed),
        keras.layers.RandomContrast(0.2, seed=seed),
    ], name="intensity")


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


def _parse_bool(text: str) -> bool:
    return text.lower() in ("1", "true", "yes")


def add_config_arguments(parser: argparse.ArgumentParser, config_type: type) -> None:
    """One ``--kebab-case`` flag per field of a config dataclass, defaulting to None (= keep the config's value)."""
    for f in fields(config_type):
        kind = _parse_bool if isinstance(f.default, bool) else type(f.default)
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=None)


def config_from_args(args: argparse.Namespace, base: Any) -> Any:
    """``base`` with every flag the user gave applied."""
    return replace(base, **{f.name: getattr(args, f.name) for f in fields(base) if getattr(args, f.name) is not None})


def cli_overrides(config: Any) -> list[str]:
    """The flags that reproduce ``config`` from its defaults, for the command stored in the card."""
    defaults = type(config)()
    return [f"--{f.name.replace('_', '-')}={getattr(config, f.name)}" for f in fields(config)
            if getattr(config, f.name) != getattr(defaults, f.name)]


def synthetic_slice(size: int = 512, seed: int = 0) -> ScanSlice:
    """A head-like bright ellipse with a brighter blob and noise, standing in for an upload."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size] / size - 0.5
    head = ((rows / 0.42) ** 2 + (cols / 0.36) ** 2 < 1).astype(np.float32) * 0.5
    blob = (((rows - 0.1) / 0.08) ** 2 + ((cols + 0.1) / 0.08) ** 2 < 1) * 0.4
    return ScanSlice(pixels=np.clip(head + blob + rng.normal(0, 0.03, head.shape), 0, 1).astype(np.float32))
