"""Read and write a model's JSON card (``weights/<name>.json``), the one source of every number the app shows."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"


def _clean(value: Any) -> Any:
    """Make a value JSON-safe: NaN/inf become None, NumPy scalars and tuples become plain Python."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_evaluation(card: dict, path: Path) -> Path:
    """Write a card as indented JSON (NaN stored as null) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(card), indent=1) + "\n", encoding="utf-8")
    return path


def read_evaluation(path: Path) -> dict:
    """Read a card written by :func:`write_evaluation`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def card_path(name: str, weights_dir: Path = WEIGHTS_DIR) -> Path:
    return Path(weights_dir) / f"{name}.json"
