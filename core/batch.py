"""Batch analysis of files and folders for the command line: one result object per input file."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from core.analysis import Analysis, analyze
from core.errors import InputError
from core.io import read_image
from core.registry import LoadedModel


def expand_paths(paths: Iterable[Path]) -> Iterator[Path]:
    """Files as given, and every file under each folder (recursively, sorted); hidden files are skipped."""
    for path in map(Path, paths):
        if path.is_dir():
            yield from (p for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith("."))
        else:
            yield path


def result_record(path: Path, analysis: Analysis | None, error: str | None) -> dict:
    """The JSON object for one file: ``error`` is null or one sentence; other keys are null when unknown."""
    if analysis is None:
        return {"file": str(path), "error": error, "type": None, "probabilities": None,
                "tumour_probability": None, "tumour_present": None, "mask_area_px": None,
                "mask_area_fraction": None}
    return {
        "file": str(path),
        "error": None,
        "type": analysis.predicted_type,
        "probabilities": analysis.type_probabilities,
        "tumour_probability": analysis.tumour_probability,
        "tumour_present": analysis.tumour_present,
        "mask_area_px": analysis.mask_area_px,
        "mask_area_fraction": analysis.mask_area_fraction,
        "disagreements": analysis.disagreements,
    }


def analyze_file(path: Path, models: dict[str, LoadedModel]) -> tuple[Analysis | None, str | None]:
    """Read and analyse one file; a file the app cannot read gives its one-sentence error instead."""
    try:
        data = path.read_bytes()
    except OSError as err:
        return None, f"{path.name} cannot be read ({err.strerror or err})."
    try:
        return analyze(read_image(data, path.name), models), None
    except InputError as err:
        return None, str(err)


def write_mask(mask: np.ndarray, source: Path, masks_dir: Path) -> Path:
    """Save a {0, 1} mask as a 0/255 PNG named after the input's stem."""
    masks_dir.mkdir(parents=True, exist_ok=True)
    target = masks_dir / f"{source.stem}.png"
    Image.fromarray((mask * 255).astype(np.uint8), mode="L").save(target)
    return target
