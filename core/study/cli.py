"""``python -m core volume``: whole studies from the shell, one JSON object per study.

    python -m core volume PATH [PATH ...] --json OUT.json [--mask-out mask.nii.gz] [--series UID] [--report OUT.pdf]

PATH is a NIfTI file, a folder holding one DICOM series (any file names, any order, sub-folders included) or a
``.zip`` of one. A study that cannot be read gets an ``error`` row and the run goes on, as ``python -m core predict``
does; the exit status is 0 when the run completed. ``--report`` writes the Study page's PDF report, one study page per
analysed study.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nibabel as nib
from tqdm import tqdm

from core.cli.batch import expand_paths, write_records
from core.cli.report import add_patient_arguments, patient_from_args
from core.io.errors import InputError
from core.models.cards import TUMOUR_NET, read_cards, weights_dir
from core.models.registry import LoadedModel, ModelMissingError, load_model
from core.report.patient import PatientFields
from core.report.pdf import ReportStudy
from core.study.analyse import StudyResult, analyse_study
from core.study.report import make_report_study, study_report_pdf
from core.study.upload import Upload, read_study
from core.study.volume import Volume, mask_image

RESULT_KEYS = ("tumour_volume_ml", "voxel_volume_ml", "slices", "largest_slice", "largest_area_mm2",
               "largest_diameter_mm", "type", "probabilities", "tumour_probability", "tumour_present",
               "per_slice_tumour_probability", "geometry_note")
"""Keys of a row besides ``file`` and ``error``, null in an error row."""
STUDY_SUFFIXES = (".nii.gz", ".nii", ".zip")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the ``volume`` subcommand (:data:`core.__main__.COMMANDS`)."""
    parser.add_argument("paths", nargs="+", type=Path,
                        help="NIfTI files, folders holding one DICOM series, or .zip files of one")
    parser.add_argument("--json", type=Path, dest="out", help="write results here instead of standard output")
    parser.add_argument("--mask-out", type=Path,
                        help="write the tumour mask as uint8 NIfTI in the input's grid; with several studies each "
                             "gets its name added (mask.nii.gz -> mask_<study>.nii.gz)")
    parser.add_argument("--series", dest="series_uid", metavar="UID",
                        help="SeriesInstanceUID to read where a path holds several")
    parser.add_argument("--report", type=Path, metavar="OUT.pdf",
                        help="write the PDF report of the analysed studies, one study page each")
    parser.add_argument("--weights", type=Path, default=None, help="folder with the .keras models and cards")
    add_patient_arguments(parser)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> list[dict]:
    """Run the subcommand with parsed arguments."""
    return run_volume(args.paths, args.out, args.mask_out, args.series_uid, args.weights, args.report,
                      patient_from_args(args))


def run_volume(paths: list[Path], out: Path | None, mask_out: Path | None = None, series_uid: str | None = None,
               folder: Path | None = None, report: Path | None = None,
               patient: PatientFields | None = None) -> list[dict]:
    """Analyse each study in ``paths`` and write the rows as JSON to ``out`` (standard output when None), and with
    ``report`` the PDF report of the studies that could be analysed."""
    try:
        model = load_model(TUMOUR_NET, folder)
    except ModelMissingError as err:  # its message names the command that trains the network
        raise SystemExit(str(err)) from err
    records, studies = [], []
    for path in tqdm(paths, desc="Analysing", unit="study", file=sys.stderr):
        target = None if mask_out is None else mask_target(mask_out, path, several=len(paths) > 1)
        try:
            volume, result = analyse_path(path, model, series_uid)
        except InputError as err:
            records.append(error_record(path, str(err), target))
            continue
        records.append(result_record(path, volume, result))
        if target is not None:
            records[-1]["mask_file"] = write_mask(volume, result, target)
        if report is not None:
            studies.append(make_report_study(volume, result, float(model.card["presence"]["threshold"])))
    write_records(records, out)
    if report is not None:
        write_report(report, studies, patient, folder)
    return records


def analyse_path(path: Path, model: LoadedModel, series_uid: str | None = None) -> tuple[Volume, StudyResult]:
    """Read and analyse the study at ``path``.

    Raises:
        InputError: the study cannot be read (a file system error too), in one sentence.
    """
    try:
        volume = read_study(read_path(path), path.name, series_uid)
    except OSError as err:
        raise InputError(f"{path.name} cannot be read ({err.strerror or err}).") from err
    return volume, analyse_study(volume, model)


def write_report(target: Path, studies: list[ReportStudy], patient: PatientFields | None, folder: Path | None) -> None:
    """The study report at ``target``; with no study analysed, a sentence on standard error instead."""
    if not studies:
        print("None of the studies could be analysed, so no report was written.", file=sys.stderr)
        return
    target.write_bytes(study_report_pdf(studies, patient, read_cards(Path(folder or weights_dir()))))


def read_path(path: Path) -> list[Upload]:
    """The file at ``path``, or every non-hidden file under a folder (recursively), as (name, bytes) pairs."""
    if path.is_dir():
        files = [(relative.as_posix(), file.read_bytes()) for file, relative in expand_paths([path])]
        if not files:
            raise InputError(f"{path.name} is an empty folder; please give a folder holding one DICOM series.")
        return files
    return [(path.name, path.read_bytes())]


def result_record(path: Path, volume: Volume, result: StudyResult) -> dict:
    """The JSON object for one analysed study."""
    return {"file": str(path), "error": None, **result_fields(volume, result)}


def result_fields(volume: Volume, result: StudyResult) -> dict:
    """The :data:`RESULT_KEYS` of an analysed study, as every study command writes them."""
    return {
        "tumour_volume_ml": result.tumour_volume_ml, "voxel_volume_ml": result.voxel_volume_ml,
        "slices": len(volume.pixels), "largest_slice": result.largest_slice,
        "largest_area_mm2": result.largest_area_mm2, "largest_diameter_mm": result.largest_diameter_mm,
        "type": result.type, "probabilities": result.probabilities,
        "tumour_probability": result.tumour_probability, "tumour_present": result.tumour_present,
        "per_slice_tumour_probability": result.per_slice_tumour_probability,
        "geometry_note": result.geometry_note,
    }


def error_record(path: Path, error: str, mask_path: Path | None = None) -> dict:
    """The JSON object for a study that could not be read: every result key null."""
    record = {"file": str(path), "error": error, **dict.fromkeys(RESULT_KEYS)}
    if mask_path is not None:
        record["mask_file"] = None
    return record


def mask_target(mask_out: Path, study: Path, several: bool) -> Path:
    """``mask_out`` itself for one study; with several, the study's name added before the suffix."""
    if not several:
        return mask_out
    suffix = ".nii.gz" if mask_out.name.endswith(".nii.gz") else mask_out.suffix or ".nii.gz"
    base = mask_out.name.removesuffix(suffix)
    name = study.name
    for ending in STUDY_SUFFIXES:
        name = name.removesuffix(ending)
    return mask_out.with_name(f"{base}_{name}{suffix}")


def write_mask(volume: Volume, result: StudyResult, target: Path) -> str | None:
    """Save the study's mask at ``target`` (parents created); None when the volume has no known voxel grid."""
    if volume.affine is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    nib.save(mask_image(volume, result.mask), target)
    return str(target)
