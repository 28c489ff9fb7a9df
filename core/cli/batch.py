"""Batch analysis of files and folders for the command line: one result object per input file.

Both engines of ``python -m core predict``, the local loop (:func:`analyse_locally`) and the Ray actors
(:mod:`core.cli.batch_ray`), turn a file into its record with :func:`file_record`, so they cannot write different
objects for the same file.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from core.io.errors import InputError
from core.models.analysis import FileResult, analyse_file
from core.models.cards import MODELS, TUMOUR_NET
from core.models.gradcam import gradcam_heatmap
from core.models.installed import models_present
from core.models.litert_network import THREADS_ENV
from core.models.ood import OodDetector, load_available_detector
from core.models.registry import LoadedModel, load_available_models

Source = tuple[str, Path]
"""One input of a batch: the file as given (a path or a URI, the record's ``file``) and its name relative to the
argument it came from (where its mask and heatmap PNGs go, so same-named files of different folders stay apart)."""
MANIFEST_COLUMN = "path"
MANIFEST_SUFFIXES = (".csv", ".parquet")


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


def read_manifest(path: Path) -> list[Source]:
    """The files an archive's manifest lists, in its order: a CSV (with a header row) or Parquet file whose
    ``path`` column holds one file path or URI (``s3://``, ``gs://``, ``file://``) per row; blank rows are skipped.

    Each file's relative name is its path without the root, scheme or ``..`` parts, so masks and heatmaps of an
    archive keep its folder structure and never land outside their folder.

    Raises:
        InputError: the manifest is missing, unreadable, neither .csv nor .parquet, or has no ``path`` column.
    """
    path = Path(path)
    if path.suffix.lower() not in MANIFEST_SUFFIXES:
        raise InputError(f"{path.name} is not a manifest; please give a .csv or .parquet file with a "
                         f"'{MANIFEST_COLUMN}' column.")
    try:
        entries = _read_csv_column(path) if path.suffix.lower() == ".csv" else _read_parquet_column(path)
    except (OSError, ValueError, csv.Error) as err:  # pyarrow's ArrowInvalid is a ValueError
        raise InputError(f"The manifest {path.name} cannot be read ({err}).") from err
    if entries is None:
        raise InputError(f"The manifest {path.name} has no '{MANIFEST_COLUMN}' column; it needs one naming a "
                         "file path or URI per row.")
    files = [str(entry).strip() for entry in entries if entry is not None and str(entry).strip()]
    return [(file, _archive_relative(file)) for file in files]


def _read_csv_column(path: Path) -> list[str] | None:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if MANIFEST_COLUMN not in (reader.fieldnames or []):
            return None
        return [row[MANIFEST_COLUMN] for row in reader]


def _read_parquet_column(path: Path) -> list | None:
    import pyarrow.parquet as pq  # only manifests and Parquet output need pyarrow

    if MANIFEST_COLUMN not in pq.read_schema(path).names:
        return None
    return pq.read_table(path, columns=[MANIFEST_COLUMN]).column(MANIFEST_COLUMN).to_pylist()


def _archive_relative(file: str) -> Path:
    parts = [part for part in PurePosixPath(file.split("://", 1)[-1]).parts if part not in ("/", ".", "..")]
    return Path(*parts) if parts else Path(_file_name(file))


def _file_name(file: str | Path) -> str:
    """The last part of a path or URI, which error sentences name."""
    return str(file).rstrip("/").rsplit("/", 1)[-1]


def list_sources(paths: Iterable[Path], manifest: Path | None = None) -> list[Source]:
    """Every input of a run: the files under ``paths`` (:func:`expand_paths`), then those ``manifest`` lists."""
    sources = [(str(file), relative) for file, relative in expand_paths(paths)]
    return sources + (read_manifest(manifest) if manifest is not None else [])


def result_record(file: Path | str, result: FileResult) -> dict:
    """The JSON object for one file (a path or URI as given): ``error`` is null or one sentence; other keys are null
    when unknown."""
    analysis = result.analysis
    if analysis is None:
        return {"file": str(file), "error": result.error, "type": None, "probabilities": None,
                "tumour_probability": None, "tumour_present": None, "mask_area_px": None,
                "mask_area_fraction": None, "disagreements": None, "ood": None, "ood_score": None,
                "ood_looks_like": None}
    return {
        "file": str(file),
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


def read_file_bytes(file: Path | str) -> bytes:
    """A local file's bytes, or those of a URI through the filesystem its scheme names (pyarrow: s3, gs, hdfs, file).

    Raises:
        OSError: the file cannot be read. ValueError: the URI's scheme is not one pyarrow knows.
    """
    if "://" not in str(file):
        return Path(file).read_bytes()
    from pyarrow import fs  # only URIs need it

    filesystem, inner = fs.FileSystem.from_uri(str(file))
    with filesystem.open_input_stream(inner) as stream:
        return stream.read()


def analyze_file(path: Path | str, models: dict[str, LoadedModel], detector: OodDetector | None = None) -> FileResult:
    """Read and analyse one file (a path or a URI); a file the app cannot read gives its one-sentence error."""
    name = _file_name(path)
    try:
        data = read_file_bytes(path)
    except (OSError, ValueError) as err:
        return FileResult(name, error=f"{name} cannot be read ({getattr(err, 'strerror', None) or err}).")
    return analyse_file(data, name, models, detector=detector)


@dataclass(frozen=True)
class ImageFolders:
    """Where a batch saves each shown (gated) mask and each default heatmap as PNGs; None saves none."""

    masks: Path | None = None
    heatmaps: Path | None = None


def file_record(file: Path | str, relative: Path, models: dict[str, LoadedModel], detector: OodDetector | None,
                folders: ImageFolders) -> dict:
    """Analyse one file into its record, saving its mask and heatmap PNGs when ``folders`` asks for them.

    The mask is the shown (gated) one as a 0/255 PNG, the heatmap the card's default method and layer for the
    predicted type as an 8-bit grey PNG, both at the input's own size; ``mask_file``/``heatmap_file`` name them
    (null when the file has none).
    """
    result = analyze_file(file, models, detector)
    record = result_record(file, result)
    if folders.masks is not None:
        has_mask = result.analysis is not None and result.analysis.mask is not None
        record["mask_file"] = str(write_png(result.analysis.mask, relative, folders.masks)) if has_mask else None
    if folders.heatmaps is not None:
        heatmap = gradcam_heatmap(models[TUMOUR_NET], result.scan.pixels, attention=result.analysis.attention) \
            if result.analysis is not None and TUMOUR_NET in models else None
        record["heatmap_file"] = None if heatmap is None else str(write_png(heatmap, relative, folders.heatmaps))
    return record


def require_models(folder: Path) -> None:
    """Stop, naming the training command, when ``folder`` holds no model: before a file is read or a worker starts.

    Raises:
        SystemExit: no model of :data:`core.models.cards.MODELS` is in ``folder`` with both its ``.keras`` and its card.
    """
    if not models_present(folder):
        raise SystemExit(f"No models found in {folder}; train one with `{MODELS[TUMOUR_NET].train}`.")


def load_analysers(folder: Path) -> tuple[dict[str, LoadedModel], OodDetector | None]:
    """The installed models and input guard of ``folder``, as each engine loads them once."""
    return load_available_models(folder), load_available_detector(folder)


def limit_threads(threads: int) -> None:
    """Run the networks (LiteRT or TensorFlow) on ``threads`` threads; call it before the first model loads.

    N one-thread workers on N cores scale; N workers that each start one thread per core fight over the cores.
    """
    os.environ[THREADS_ENV] = str(threads)


def analyse_locally(sources: list[Source], folder: Path, folders: ImageFolders) -> Iterator[list[dict]]:
    """The local engine: this process analyses the files one by one, yielding each record as it is done."""
    models, detector = load_analysers(folder)
    for file, relative in sources:
        yield [file_record(file, relative, models, detector, folders)]


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
