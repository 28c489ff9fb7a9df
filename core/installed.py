"""The installed models and input guard, loaded in a background thread so that a page draws before TensorFlow loads.

Importing this module is cheap: TensorFlow is imported by :func:`load_installed`, which :func:`start_loading` runs in
a thread of its own. A page draws its uploader at once and waits on the future only when it has a file to analyse.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.cards import MODELS

if TYPE_CHECKING:
    from core.ood import OodDetector
    from core.registry import LoadedModel

MODEL_SUFFIXES = (".keras", ".npz")
"""Files that hold weights (the network's Keras file, the guard's arrays); cards are ``.json``."""


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
    from core.ood import load_detector  # imports TensorFlow: only here, never when a page module is imported
    from core.registry import ModelMissingError, load_available_models

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
            future.set_result(load_installed(folder))
        except BaseException as err:  # handed to whoever waits on the future, which re-raises it there
            future.set_exception(err)

    threading.Thread(target=run, name="load-models", daemon=True).start()
    return future
