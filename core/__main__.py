"""Command line.

    python -m core predict PATH [PATH ...] [--json OUT.json | --parquet DIR] [--masks-dir DIR] [--heatmaps-dir DIR]
                           [--manifest LIST.csv] [--engine local|ray] [--address HOST:PORT] [--workers N]
    python -m core report PATH [PATH ...] --out report.pdf [--patient-name ...]
    python -m core volume PATH [PATH ...] [--json OUT.json] [--mask-out mask.nii.gz] [--series UID]
    python -m core pacs --url URL --study UID [--series UID] [--store] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.pacs.cli import add_pacs_parser, pacs_from_args
from core.predict_cli import add_predict_parser, predict_from_args
from core.report_cli import add_patient_arguments, build_report_for_files, patient_from_args
from core.study.cli import add_volume_parser, volume_from_args


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description="Brain-tumour MRI analysis from the shell.")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = add_predict_parser(commands)
    report = commands.add_parser("report", help="analyse slices and write one PDF report")
    report.add_argument("paths", nargs="+", type=Path, help="image files or folders (walked recursively)")
    report.add_argument("--out", type=Path, required=True, help="where to write the PDF")
    report.add_argument("--weights", type=Path, default=None, help="folder with the .keras models and cards")
    add_patient_arguments(report)
    add_volume_parser(commands)
    add_pacs_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "volume":
        volume_from_args(args)
    elif args.command == "pacs":
        pacs_from_args(args)
    elif args.command == "report":
        build_report_for_files(args.paths, args.out, patient_from_args(args), args.weights)
    else:
        predict_from_args(args, predict)
    return 0


if __name__ == "__main__":
    sys.exit(main())
