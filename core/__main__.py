"""Command line.

    python -m core predict PATH [PATH ...] [--json OUT.json] [--masks-dir DIR] [--heatmaps-dir DIR]
    python -m core report PATH [PATH ...] --out report.pdf [--patient-name ...]
    python -m core volume PATH [PATH ...] [--json OUT.json] [--mask-out mask.nii.gz] [--series UID]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from core.batch import analyze_file, expand_paths, result_record, write_png, write_records
from core.cards import MODELS, TUMOUR_NET, weights_dir
from core.gradcam import gradcam_heatmap
from core.ood import load_available_detector
from core.registry import load_available_models
from core.report_cli import add_patient_arguments, build_report_for_files, patient_from_args
from core.study.cli import add_volume_parser, volume_from_args


def predict(paths: list[Path], out: Path | None, masks_dir: Path | None, folder: Path | None,
            heatmaps_dir: Path | None = None) -> list[dict]:
    """Analyse every file under ``paths``; unreadable files get an ``error`` and the run goes on.

    ``masks_dir`` receives each shown (gated) mask as a 0/255 PNG, ``heatmaps_dir`` each default heatmap (the
    card's method and layer, for the predicted type) as an 8-bit grey PNG, both at the input's own size.
    """
    folder = Path(folder or weights_dir())
    models, detector = load_available_models(folder), load_available_detector(folder)
    if not models:
        raise SystemExit(f"No models found in {folder}; train one with `{MODELS[TUMOUR_NET]['train']}`.")
    files = list(expand_paths(paths))
    records = []
    for path, relative in tqdm(files, desc="Analysing", unit="slice", file=sys.stderr):
        result = analyze_file(path, models, detector)
        record = result_record(result)
        if masks_dir is not None:
            has_mask = result.analysis is not None and result.analysis.mask is not None
            record["mask_file"] = str(write_png(result.analysis.mask, relative, masks_dir)) if has_mask else None
        if heatmaps_dir is not None:
            heatmap = gradcam_heatmap(models[TUMOUR_NET], result.scan.pixels, attention=result.analysis.attention) \
                if result.analysis is not None and TUMOUR_NET in models else None
            record["heatmap_file"] = None if heatmap is None else str(write_png(heatmap, relative, heatmaps_dir))
        records.append(record)
    write_records(records, out)
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description="Brain-tumour MRI analysis from the shell.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("predict", help="analyse slices and write one JSON object per file")
    run.add_argument("paths", nargs="+", type=Path, help="image files or folders (walked recursively)")
    run.add_argument("--json", type=Path, dest="out", help="write results here instead of standard output")
    run.add_argument("--masks-dir", type=Path, help="save each predicted mask as <stem>.png in this folder")
    run.add_argument("--heatmaps-dir", type=Path, help="save each default heatmap as <stem>.png in this folder")
    run.add_argument("--weights", type=Path, default=None, help="folder with the .keras models and cards")
    report = commands.add_parser("report", help="analyse slices and write one PDF report")
    report.add_argument("paths", nargs="+", type=Path, help="image files or folders (walked recursively)")
    report.add_argument("--out", type=Path, required=True, help="where to write the PDF")
    report.add_argument("--weights", type=Path, default=None, help="folder with the .keras models and cards")
    add_patient_arguments(report)
    add_volume_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "volume":
        volume_from_args(args)
    elif args.command == "report":
        build_report_for_files(args.paths, args.out, patient_from_args(args), args.weights)
    else:
        predict(args.paths, args.out, args.masks_dir, args.weights, args.heatmaps_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
