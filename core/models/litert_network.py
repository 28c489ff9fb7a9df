"""A shipped network's forward pass through LiteRT, next to its ``.keras`` file.

LiteRT loads a network in milliseconds, where importing TensorFlow alone takes about 7 s on the project's 2-core
machine, and runs a slice faster too. So a server draws its first result sooner and a command-line report starts at
once. ``training.export_litert`` writes ``NAME.tflite`` (the same named outputs as
:func:`core.models.keras_network.output_head`) and ``NAME_litert.json``, which records the SHA-256 of the ``.keras``
file it was exported from and the measured agreement of both. An export whose source no longer matches (a new training
run replaced the ``.keras`` file) is not used: the model then runs through Keras, as it does when no export exists.
Gradient heatmaps (Grad-CAM, Grad-CAM++, Score-CAM) always need the Keras model.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.models.cards import file_sha256, read_evaluation

EXPORT_SUFFIX = ".tflite"
THREADS_ENV = "ANALYSIS_THREADS"
"""Threads a network runs on, through LiteRT or TensorFlow (default: every core); one-CPU workers set 1."""

Runner = Callable[[np.ndarray], dict[str, np.ndarray]]


def export_paths(folder: Path, name: str) -> tuple[Path, Path]:
    """The export of model ``name`` in ``folder`` and its card."""
    return Path(folder) / f"{name}{EXPORT_SUFFIX}", Path(folder) / f"{name}_litert.json"


def fresh_export(folder: Path, name: str) -> Path | None:
    """The ``.tflite`` export of ``name`` when it exists and was made from the ``.keras`` file now in ``folder``."""
    export, card = export_paths(folder, name)
    weights = Path(folder) / f"{name}.keras"
    if not (export.is_file() and card.is_file() and weights.is_file()):
        return None
    return export if read_evaluation(card).get("source_sha256") == file_sha256(weights) else None


def litert_runner(export: Path) -> Runner:
    """A thread-safe batch predictor over a ``.tflite`` export: a dict of named output arrays for an N x S x S x C
    float32 batch. One interpreter serves every caller, one call at a time (an interpreter is not reentrant)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(export), num_threads=int(os.environ.get(THREADS_ENV, os.cpu_count())))
    (signature,) = interpreter.get_signature_list().values()
    (input_name,) = signature["inputs"]
    run_signature, lock = interpreter.get_signature_runner(), threading.Lock()

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        with lock:
            outputs = run_signature(**{input_name: np.ascontiguousarray(batch, dtype=np.float32)})
            return {name: np.array(value) for name, value in outputs.items()}  # copies: the buffers are reused
    return run
