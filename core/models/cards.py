"""Read and write a model's JSON card (``weights/<name>.json``), the one source of every number the app shows."""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"
WEIGHTS_ENV = "BRAIN_MRI_WEIGHTS_DIR"
"""Environment variable that points the app at another weights folder (tests use it)."""


@dataclass(frozen=True)
class Headline:
    """One result a model is known by: its label, its path into the card, and its format ("percent" or "score").

    ``lead`` marks the few the sidebar and the model card's summary show; the PDF's model table prints them all.
    """

    label: str
    path: tuple[str, ...]
    kind: str = "score"
    lead: bool = False


@dataclass(frozen=True)
class ModelEntry:
    """A shipped model as the app speaks of it: its title, the command that reproduces its ``.keras`` and card, and
    the results it is known by."""

    title: str
    train: str
    headlines: tuple[Headline, ...] = ()


TUMOUR_NET = "tumour_net"
MODELS = {
    TUMOUR_NET: ModelEntry(
        "Tumour network", "python -m training.train_tumour_net && python -m training.evaluate_tumour_net", (
            Headline("Type accuracy, official test", ("type", "test", "kaggle_official", "accuracy"), "percent",
                     lead=True),
            Headline("Type macro-F1", ("type", "test", "kaggle_official", "macro_f1"), lead=True),
            Headline("Type accuracy, deduplicated test", ("type", "test", "kaggle_deduplicated", "accuracy"),
                     "percent"),
            Headline("Calibration temperature", ("calibration", "temperature")),
            Headline("Validation ECE after calibration", ("calibration", "val_ece_after")),
            Headline("Presence sensitivity, Kaggle test", ("presence", "test", "kaggle_official", "sensitivity"),
                     "percent", lead=True),
            Headline("Presence specificity, Kaggle test", ("presence", "test", "kaggle_official", "specificity"),
                     "percent", lead=True),
            Headline("Presence specificity, LGG test", ("presence", "test", "lgg_test_patients", "specificity"),
                     "percent"),
            Headline("Presence threshold on 1 - P(no tumour)", ("presence", "threshold")),
            Headline("BRISC validation mean Dice", ("segmentation", "brisc_validation", "dice", "mean"), lead=True),
            Headline("LGG test per-patient mean Dice",
                     ("segmentation", "lgg_test_patients", "per_patient_mean_dice")),
        )),
}
"""The shipped models, by file stem. One network answers type, presence and outline (:mod:`core.models.tumour`), so
the three can never contradict each other. A new model is an entry here, its training script writing its ``.keras``
and card, and what it adds to :func:`core.models.analysis.analyze`."""
DATA_ENV = "BRAIN_MRI_DATA_DIR"
"""Environment variable that points the metric pages at the shared data folder, for the misclassified gallery."""
DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"


def weights_dir() -> Path:
    """The weights folder in use: ``$BRAIN_MRI_WEIGHTS_DIR`` when set, else the repository's ``weights/``."""
    return Path(os.environ.get(WEIGHTS_ENV) or WEIGHTS_DIR)


def data_dir() -> Path:
    """The shared data folder that card paths are relative to: ``$BRAIN_MRI_DATA_DIR`` or ``../shared/data``."""
    return Path(os.environ.get(DATA_ENV) or DATA_DIR)


def _clean(value: Any) -> Any:
    """Make a value JSON-safe: NaN/inf become None, NumPy scalars and tuples become plain Python."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "tolist") and getattr(value, "ndim", 0) > 0:
        return _clean(value.tolist())
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_evaluation(card: dict, path: Path) -> Path:
    """Write a card as indented JSON (NaN stored as null) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so a reader (the running app) never sees a half-written card.
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, suffix=".tmp", delete=False) as handle:
        handle.write(json.dumps(_clean(card), indent=1) + "\n")
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, path)
    return path


def read_evaluation(path: Path) -> dict:
    """Read a card written by :func:`write_evaluation`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_cards(folder: Path | None = None) -> dict[str, dict]:
    """Every JSON card in the weights folder, by stem, without loading any model (cheap, for metric pages)."""
    return {path.stem: read_evaluation(path) for path in sorted(Path(folder or weights_dir()).glob("*.json"))}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file in 1 MiB chunks: ties a card (the guard's, the external test's) to the network it measured."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
