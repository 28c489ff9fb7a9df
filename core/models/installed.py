"""The installed models and input guard, loaded in a background thread so that a page draws before they load.

Importing this module is cheap: :func:`start_loading` loads the models in a thread of its own (through LiteRT when
their export is fresh, in well under a second; else through Keras, which imports TensorFlow). A page draws its
uploader at once and waits on the future only when it has a file to analyse. Once the future is set, the same thread
loads each network's Keras model too, which only the gradient heatmaps need and which imports TensorFlow.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.models.cards import MODELS

if TYPE_CHECKING:
    from core.models.ood import OodDetector
    from core.models.registry import LoadedModel

MODEL_SUFFIXES = (".keras", ".tflite", ".npz")
"""Files that hold weights (the network's Keras file and LiteRT export, the guard's arrays); cards are ``.json``."""


@dataclass(frozen=True)
class Installed:
    """What an analysis needs: the models by name, the guard (None when absent or out of date) and, then, why."""

    models: dict[str, LoadedModel]
    detector: OodDetector | None
    detector_note: str | None


def weights_stamp(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """(name, mtime, size) of every weights file and card, so caches refresh when a training run replaces one."""
    return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in Path(folder).iterdir()
                        if p.suffix in (*MODEL_SUFFIXES, ".json")))


def models_present(folder: Path) -> bool:
    """Whether any shipped model has both its weights and its card in ``folder`` (checked without TensorFlow)."""
    return any((Path(folder) / f"{name}.keras").is_file() and (Path(folder) / f"{name}.json").is_file()
               for name in MODELS)


def load_installed(folder: Path) -> Installed:
    """Load every installed model and the guard, and run each model once so the first real slice is not the one
    that pays for tracing its compiled predictor."""
    from core.models.ood import load_detector  # a model without a fresh LiteRT export imports TensorFlow: only here
    from core.models.registry import ModelMissingError, load_available_models

    models = load_available_models(Path(folder))
    for model in models.values():
        size = model.spec.size
        model.predict_outputs(np.zeros((1, size, size, model.spec.channels), np.float32))
    try:
        return Installed(models, load_detector(Path(folder)), None)
    except ModelMissingError as err:
        return Installed(models, None, str(err))


def start_loading(folder: Path) -> Future[Installed]:
    """:func:`load_installed` in a daemon thread; the future holds its result or its exception."""
    future: Future[Installed] = Future()

    def run() -> None:
        try:
            installed = load_installed(folder)
        except BaseException as err:  # handed to whoever waits on the future, which re-raises it there
            future.set_exception(err)
            return
        future.set_result(installed)
        for model in installed.models.values():  # then the Keras models, so a first gradient heatmap is quick too
            with suppress(Exception):  # a Keras model that cannot load fails again, with its sentence, when asked
                _ = model.type_model

    threading.Thread(target=run, name="load-models", daemon=True).start()
    return future
