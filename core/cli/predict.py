"""``python -m core predict``: one JSON object per slice, on this process or on a Ray cluster.

    python -m core predict PATH [PATH ...] [--json OUT.json | --parquet DIR] [--masks-dir DIR] [--heatmaps-dir DIR]
    python -m core predict --manifest LIST.csv --engine ray [--address HOST:PORT] [--workers N] --parquet DIR

The local engine analyses the files one by one in this process; ``--engine ray`` spreads them over Ray actors
(:mod:`core.cli.batch_ray`, imported only then). Both write the same records; a stopped run continues where it stopped
(:mod:`core.cli.batch_run`).
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from core.cli.batch import ImageFolders, analyse_locally, list_sources, require_models
from core.cli.batch_run import Engine, open_sink, run_batch
from core.io.errors import InputError
from core.models.cards import weights_dir

ENGINES = ("local", "ray")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number.")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the ``predict`` subcommand (:data:`core.__main__.COMMANDS`)."""
    parser.add_argument("paths", nargs="*", type=Path, help="image files or folders (walked recursively)")
    parser.add_argument("--manifest", type=Path, metavar="LIST",
                        help="also analyse the files a .csv or .parquet manifest lists in its 'path' column")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", type=Path, dest="out", help="write results here instead of standard output")
    output.add_argument("--parquet", type=Path, metavar="DIR",
                        help="write results as Parquet part files in this folder (for archives)")
    parser.add_argument("--masks-dir", type=Path, help="save each predicted mask as <stem>.png in this folder")
    parser.add_argument("--heatmaps-dir", type=Path, help="save each default heatmap as <stem>.png in this folder")
    parser.add_argument("--weights", type=Path, default=None, help="folder with the .keras models and cards")
    parser.add_argument("--engine", choices=ENGINES, default="local",
                        help="local: this process; ray: a pool of Ray actors (default: local)")
    parser.add_argument("--address", help="with --engine ray: join this running Ray cluster (HOST:PORT) instead "
                                          "of starting one on this machine")
    parser.add_argument("--workers", type=_positive_int, help="with --engine ray: number of actors, one CPU each "
                                                              "(default: every CPU of the cluster)")


def make_engine(name: str, folder: Path, folders: ImageFolders, address: str | None = None,
                workers: int | None = None) -> Engine:
    """The engine called ``name`` (:data:`ENGINES`), bound to the weights and image folders."""
    if name == "ray":
        from core.cli.batch_ray import RayOptions, analyse_on_ray  # the local engine never imports Ray

        return functools.partial(analyse_on_ray, folder=folder, folders=folders,
                                 options=RayOptions(address, workers))
    return functools.partial(analyse_locally, folder=folder, folders=folders)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Run the subcommand with parsed arguments; wrong combinations stop with one sentence from ``parser``."""
    if not args.paths and args.manifest is None:
        parser.error("give image files or folders, or --manifest LIST.csv.")
    if args.engine != "ray" and (args.address is not None or args.workers is not None):
        parser.error("--address and --workers apply to --engine ray only.")
    folder = Path(args.weights or weights_dir())
    require_models(folder)
    try:
        sources = list_sources(args.paths, args.manifest)
    except InputError as err:
        raise SystemExit(str(err)) from err
    engine = make_engine(args.engine, folder, ImageFolders(args.masks_dir, args.heatmaps_dir), args.address,
                         args.workers)
    run_batch(sources, open_sink(args.out, args.parquet), engine)
