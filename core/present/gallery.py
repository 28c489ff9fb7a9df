"""Thumbnails of the test images a model got wrong, read from the data set named in its card when it is on disk.

This is the only place the metric pages touch image files; an image that moved or cannot be read is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from core.io.errors import InputError
from core.io.read import read_image
from core.models.cards import data_dir
from core.models.preprocess import resize


def dataset_root(card: Mapping | None) -> Path | None:
    """The folder named by the card's ``data.root`` (relative to :func:`core.models.cards.data_dir`), or None."""
    root = ((card or {}).get("data") or {}).get("root")
    return None if not root else data_dir() / root


def dataset_present(card: Mapping | None) -> bool:
    """True when the folder in the card's ``data.root`` exists on this machine."""
    root = dataset_root(card)
    return root is not None and root.is_dir()


def load_thumbnail(path: str | Path, size: int = 160) -> np.ndarray | None:
    """The image at ``path`` as H x W float32 in [0, 1], its longer side ``size`` pixels.

    Decoded through :func:`core.io.read.read_image`, as uploads are. Returns None when the file is missing or
    unreadable, so a gallery can skip it.
    """
    path = Path(path)
    try:
        pixels = read_image(path.read_bytes(), path.name).pixels
    except (OSError, InputError):
        return None
    scale = size / max(pixels.shape)
    shape = (max(1, round(pixels.shape[0] * scale)), max(1, round(pixels.shape[1] * scale)))
    return np.clip(resize(pixels, shape), 0.0, 1.0)


def misclassified_files(misclassified: Sequence[Mapping], data_root: str | Path, limit: int = 24) -> list[dict]:
    """Up to ``limit`` misclassified entries whose file exists, most confident mistakes first.

    Relative ``file`` entries are taken relative to ``data_root``; each returned entry carries its resolved ``path``.
    """
    found = []
    for entry in sorted(misclassified or [], key=lambda e: -(e.get("probability") or 0.0)):
        path = Path(entry.get("file", ""))
        path = path if path.is_absolute() else Path(data_root) / path
        if entry.get("file") and path.is_file():
            found.append({**entry, "path": str(path)})
        if len(found) == limit:
            break
    return found
