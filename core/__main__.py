"""Command line: ``python -m core predict PATH [PATH ...] --json OUT.json [--masks-dir DIR]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from core.batch import analyze_file, expand_paths, result_record, write_mask
from core.cards import WEIGHTS_DIR
from core.registry import load_available_models


def predict(paths: list[Path], out: Path | None, masks_dir: Path | None, weights_dir: Path) -> list[dict]:
    """Analyse every file under ``paths``; unreadable files get an ``error`` and the run goes on."""
    models = load_available_models(weights_dir)
    if not models:
        raise SystemExit(f"No models found in {weights_dir}; train one with `python -m training.train_classifier`.")
    files = list(expand_paths(paths))
    records = []
    for path in tqdm(files, desc="Analysing", unit="slice", file=sys.stderr):
        analysis, error = analyze_file(path, models)
        record = result_record(path, analysis, error)
        if masks_dir is not None:
            has_mask = analysis is not None and analysis.mask is not None
            record["mask_file"] = str(write_mask(analysis.mask, path, masks_dir)) if has_mask else None
        records.append(record)
    text = json.dumps(records, indent=1)
    if out is None:
        print(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description="Brain-tumour MRI analysis from the shell.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("predict", help="analyse slices and write one JSON object per file")
    run.add_argument("paths", nargs="+", type=Path, help="image files or folders (walked recursively)")
    run.add_argument("--json", type=Path, dest="out", help="write results here instead of standard output")
    run.add_argument("--masks-dir", type=Path, help="save each predicted mask as <stem>.png in this folder")
    run.add_argument("--weights", type=Path, default=WEIGHTS_DIR, help="folder with the .keras models and cards")
    args = parser.parse_args(argv)
    predict(args.paths, args.out, args.masks_dir, args.weights)
    return 0


if __name__ == "__main__":
    sys.exit(main())
