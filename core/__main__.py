"""Command line.

    python -m core predict PATH [PATH ...] [--json OUT.json | --parquet DIR] [--masks-dir DIR] [--heatmaps-dir DIR]
                           [--manifest LIST.csv] [--engine local|ray] [--address HOST:PORT] [--workers N]
    python -m core report PATH [PATH ...] --out report.pdf [--patient-name ...]
    python -m core volume PATH [PATH ...] [--json OUT.json] [--mask-out mask.nii.gz] [--series UID]
    python -m core pacs --url URL --study UID [--series UID] [--store] [--json OUT.json]

Only the chosen command's module is imported (each has ``add_arguments(parser)`` and ``run(args, parser)``), so a
command never waits for the libraries of another (the PACS client, nibabel, Ray).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS = {
    "predict": ("core.cli.predict", "analyse slices and write one JSON object per file"),
    "report": ("core.cli.report", "analyse slices and write one PDF report"),
    "volume": ("core.study.cli", "analyse whole studies (NIfTI volumes, DICOM series) in 3D"),
    "pacs": ("core.pacs.cli", "analyse series of a study on a PACS (DICOMweb) and send results back"),
}
"""Subcommand -> (module, one-line help)."""


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m core", description="Brain-tumour MRI analysis from the shell.")
    commands = parser.add_subparsers(dest="command", required=True)
    chosen = None
    for name, (module_name, summary) in COMMANDS.items():
        command = commands.add_parser(name, help=summary, description=summary)
        if argv[:1] == [name]:
            chosen = importlib.import_module(module_name), command
            chosen[0].add_arguments(command)
    args = parser.parse_args(argv)  # --help, no command or an unknown one: argparse answers and exits here
    module, command = chosen
    module.run(args, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
