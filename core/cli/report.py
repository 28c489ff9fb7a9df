"""``python -m core report PATH [PATH ...] --out report.pdf``: analyse files with the shipped models into one PDF."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from core.cli.batch import analyze_file, expand_paths
from core.models.cards import MODELS, TUMOUR_NET, read_cards, weights_dir
from core.models.gradcam import default_method, gradcam_heatmap
from core.models.registry import load_available_models
from core.report.patient import PATIENT_FIELDS, PatientFields
from core.report.pdf import build_report, make_report_slice, read_app_version


def add_patient_arguments(parser: argparse.ArgumentParser) -> None:
    """The optional patient and study flags of the ``report`` command."""
    for name, field in PATIENT_FIELDS.items():
        parser.add_argument(field.flag, dest=name, default="", help=field.help)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the ``report`` subcommand (:data:`core.__main__.COMMANDS`)."""
    parser.add_argument("paths", nargs="+", type=Path, help="image files or folders (walked recursively)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the PDF")
    parser.add_argument("--weights", type=Path, default=None, help="folder with the .keras models and cards")
    add_patient_arguments(parser)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> list[str]:
    return build_report_for_files(args.paths, args.out, patient_from_args(args), args.weights)


def patient_from_args(args: argparse.Namespace) -> PatientFields:
    return PatientFields(**{name: getattr(args, name) for name in PATIENT_FIELDS})


def build_report_for_files(paths: list[Path], out: Path, patient: PatientFields | None,
                           folder: Path | None = None) -> list[str]:
    """Analyse every file under ``paths`` with the models in ``folder`` and write the PDF report to ``out``.

    Files the app cannot read are left out of the report; their one-sentence errors are printed to standard error
    and returned. The heatmap is the network's default map (its card's ``gradcam_method``) for its predicted type.

    Args:
        paths: files, and folders walked recursively (:func:`core.cli.batch.expand_paths`).
        out: where the PDF is written.
        patient: details to print, or None for a de-identified report.
        folder: weights folder; None means :func:`core.models.cards.weights_dir`.

    Raises:
        SystemExit: no model is installed, or no file could be analysed (nothing is written then).
    """
    folder = Path(folder or weights_dir())
    models = load_available_models(folder)
    if not models:
        raise SystemExit(f"No models found in {folder}; train one with `{MODELS[TUMOUR_NET].train}`.")
    slices, errors = [], []
    for path, _ in tqdm(list(expand_paths(paths)), desc="Analysing", unit="slice", file=sys.stderr):
        result = analyze_file(path, models)
        if result.analysis is None:
            errors.append(result.error)
            print(f"Left out of the report: {result.error}", file=sys.stderr)
            continue
        pixels, analysis = result.scan.pixels, result.analysis
        model = models.get(TUMOUR_NET)
        heatmap = gradcam_heatmap(model, pixels, attention=analysis.attention) if model is not None else None
        slices.append(make_report_slice(path.name, pixels, analysis, heatmap, default_method(model)))
    if not slices:
        raise SystemExit("None of the files could be analysed, so no report was written.")
    out.write_bytes(build_report(slices, patient, read_cards(folder), read_app_version()))
    return errors
