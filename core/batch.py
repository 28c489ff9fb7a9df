"""Batch analysis of files and folders for the command line: one result object per input file."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core.analysis import Analysis, analyze
from core.errors import InputError
from core.io import ScanSlice, read_scan
from core.ood import OodDetector
from core.registry import LoadedModel


def expand_paths(paths: Iterable[Path]) -> Iterator[tuple[Path, Path]]:
    """(file, name relative to its argument) for files as given and every file under each folder (recursively,
    sorted); hidden files are skipped. The relative name keeps same-named files of different folders apart."""
    for path in map(Path, paths):
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.is_file() and not file.name.startswith("."):
                    yield file, file.relative_to(path)
        else:
            yield path, Path(path.name)


def result_record(result: FileResult) -> dict:
    """The JSON object for one file: ``error`` is null or one sentence; other keys are null when unknown."""
    path, analysis = result.path, result.analysis
    if analysis is None:
        return {"file": str(path), "error": result.error, "type": None, "probabilities": None,
                "tumour_probability": None, "tumour_present": None, "mask_area_px": None,
                "mask_area_fraction": None, "disagreements": None, "ood": None, "ood_score": None,
                "ood_looks_like": None}
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
        "ood": analysis.ood,
        "ood_score": analysis.ood_score,
        "ood_looks_like": analysis.ood_looks_like,
    }


@dataclass(frozen=True)
class FileResult:
    """One file's decoded slice and analysis, or the one-sentence reason it could not be analysed."""

    path: Path
    scan: ScanSlice | None = None
    analysis: Analysis | None = None
    error: str | None = None


def analyze_file(path: Path, models: dict[str, LoadedModel], detector: OodDetector | None = None) -> FileResult:
    """Read and analyse one file; a file the app cannot read gives its one-sentence error instead."""
    try:
        data = path.read_bytes()
    except OSError as err:
        return FileResult(path, error=f"{path.name} cannot be read ({err.strerror or err}).")
    try:
        scan = read_scan(data, path.name)
    except InputError as err:
        return FileResult(path, error=str(err))
    return FileResult(path, scan, analyze(scan, models, detector))


def write_png(values: np.ndarray, relative: Path, folder: Path) -> Path:
    """Save an H x W array in [0, 1] (a {0, 1} mask or a heatmap) as an 8-bit grey PNG (0-255) with the input's
    stem, in the input's sub-folder of ``folder``."""
    target = folder / relative.with_suffix(".png")
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(np.clip(values, 0.0, 1.0) * 255).astype(np.uint8), mode="L").save(target)
    return target


def write_records(records: list[dict], out: Path | None) -> None:
    """The JSON list a CLI command answers with: to ``out``, or to stdout without one."""
    text = json.dumps(records, indent=1)
    if out is None:
        print(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
