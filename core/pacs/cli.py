"""``python -m core pacs``: analyse series of a study on a PACS and, with ``--store``, send the results back.

    python -m core pacs --url URL --study UID [--series UID] [--store] [--json OUT.json] [--weights DIR]

The credentials come from the environment (``DICOMWEB_USERNAME`` and ``DICOMWEB_PASSWORD``, or ``DICOMWEB_TOKEN``),
never from a flag, so they stay out of the shell history and the process list. Without ``--series`` every MR series of
the study is analysed. OUT.json is a list with one object per analysed series: ``study_uid``, ``series_uid``,
``series``, ``error`` (null or one sentence), the results of ``python -m core volume`` and, with ``--store``,
``stored`` (the new series and instance UIDs, null when nothing was stored). A PACS that cannot be reached or refuses
the sign-in gives an ``error`` row, like an unreadable file in ``predict``; the exit status is 0 when the run
completed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from tqdm import tqdm

from core.cli.batch import write_records
from core.io.errors import InputError
from core.models.cards import TUMOUR_NET, read_cards, weights_dir
from core.models.registry import LoadedModel, ModelMissingError, load_model
from core.pacs.client import ANALYSED_MODALITY, PacsClient, SeriesListing
from core.pacs.connection import PacsError, read_config
from core.pacs.export import read_model_version, send_results
from core.pacs.study import SeriesAnalysis, fetch_and_analyse
from core.study.cli import RESULT_KEYS, result_fields


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the ``pacs`` subcommand (:data:`core.__main__.COMMANDS`)."""
    parser.add_argument("--url", required=True, help="base URL of the PACS's DICOMweb service")
    parser.add_argument("--study", required=True, metavar="UID", help="StudyInstanceUID of the study")
    parser.add_argument("--series", metavar="UID", help="SeriesInstanceUID to analyse (default: every MR series)")
    parser.add_argument("--store", action="store_true",
                        help="send the results back: DICOM SEG, secondary captures and the PDF report")
    parser.add_argument("--json", type=Path, dest="out", help="write results here instead of standard output")
    parser.add_argument("--weights", type=Path, default=None, help="folder with the .keras models and cards")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> list[dict]:
    """Run the subcommand with parsed arguments, credentials from the environment."""
    return run_pacs(args.url, args.study, args.series, args.store, args.out, args.weights, os.environ)


def run_pacs(url: str, study_uid: str, series_uid: str | None, store: bool, out: Path | None,
             folder: Path | None, environ: Mapping[str, str]) -> list[dict]:
    """Analyse (and with ``store`` send back) the chosen series and write one row each to ``out`` (standard output
    when None)."""
    folder = Path(folder or weights_dir())
    try:
        model = load_model(TUMOUR_NET, folder)
    except ModelMissingError as err:  # its message names the command that trains the network
        raise SystemExit(str(err)) from err
    try:
        client = PacsClient(read_config({}, environ, url))
        listing = client.list_series(study_uid)
        chosen = choose_series(listing, study_uid, series_uid)
    except PacsError as err:
        records = [error_record(study_uid, series_uid, None, str(err), store)]
    else:
        records = analyse_series(client, study_uid, chosen, model, folder, store)
    write_records(records, out)
    return records


def choose_series(listing: list[SeriesListing], study_uid: str, series_uid: str | None) -> list[SeriesListing]:
    """The series ``series_uid`` (of any modality, so a wrong choice gets its sentence), else every MR series.

    Raises:
        PacsError: the study has no such series, or no MR series at all.
    """
    if series_uid is not None:
        chosen = [series for series in listing if series.uid == series_uid]
        if not chosen:
            raise PacsError(f"Study {study_uid} has no series {series_uid}; it holds "
                            f"{'; '.join(f'{s.label}: {s.uid}' for s in listing)}.")
        return chosen
    chosen = [series for series in listing if series.modality == ANALYSED_MODALITY]
    if not chosen:
        held = ", ".join(sorted({s.modality or "unknown" for s in listing}))
        raise PacsError(f"Study {study_uid} holds no MR series (only {held}), so nothing was analysed.")
    return chosen


def analyse_series(client: PacsClient, study_uid: str, chosen: list[SeriesListing], model: LoadedModel,
                   folder: Path, store: bool) -> list[dict]:
    """One row per series; with ``store`` each analysed series' results are sent back. A failed send keeps the
    series' results in its row, with the send's sentence as its ``error``."""
    records = []
    version, cards = (read_model_version(TUMOUR_NET, folder), read_cards(folder)) if store else (None, None)
    for series in tqdm(chosen, desc="Analysing", unit="series", file=sys.stderr):
        try:
            analysis = fetch_and_analyse(client, study_uid, series, model)
        except InputError as err:
            records.append(error_record(study_uid, series.uid, series.name, str(err), store))
            continue
        records.append(result_record(analysis))
        if store:
            try:
                records[-1]["stored"] = send_results(client, analysis, version, cards).uids()
            except PacsError as err:
                records[-1].update(error=str(err), stored=None)
    return records


def result_record(analysis: SeriesAnalysis) -> dict:
    """The JSON object for one analysed series."""
    view = analysis.view
    return {"study_uid": analysis.study_uid, "series_uid": analysis.series_uid, "series": view.title, "error": None,
            **result_fields(view.volume, view.result)}


def error_record(study_uid: str, series_uid: str | None, name: str | None, error: str, store: bool) -> dict:
    """The JSON object for a series (or a whole request) that failed: every result key null."""
    record = {"study_uid": study_uid, "series_uid": series_uid, "series": name, "error": error,
              **dict.fromkeys(RESULT_KEYS)}
    if store:
        record["stored"] = None
    return record
