"""Slices per second of ``python -m core predict`` on the local engine and on Ray with 1 and 2 workers.

    python -m benchmarks.bench_ray [--slices 1000] [--out weights/ray_bench.json] [--data DIR] [--weights DIR]

Analyses N Kaggle slices (spread over ``Testing``'s classes, then ``Training``'s when N needs more) with the shipped
weights, through the engines' own functions (:func:`core.cli.predict.make_engine`). Each measurement runs in a fresh
process, since TensorFlow fixes its thread count once per process: the local engine with TensorFlow's default
threads, the local engine on one thread (what each Ray worker gets), and Ray with each worker count.

``slices_per_s`` counts the slices after the first batch of records, from the moment it arrives, so loading the
models and starting Ray (``startup_s``) stay out of it; ``wall_s`` is the whole run, as a user waits for it. The
targets: 2 workers >= 1.6x the slices/s of 1 worker, and 1 worker's time per slice <= 20 % above the local engine's
on the same one thread.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from core.cli.batch import ImageFolders, limit_threads
from core.cli.batch_ray import BLOCK_FILES
from core.cli.predict import make_engine
from core.models.cards import WEIGHTS_DIR, write_evaluation
from training.common import run_metadata
from training.data import DEFAULT_ROOT, list_samples

SCALING_TARGET = 1.6
OVERHEAD_TARGET = 0.20
SPLITS = ("Testing", "Training")


def pick_slices(root: Path, count: int) -> list[str]:
    """``count`` files spread evenly over the sorted slices of ``Testing`` (and ``Training`` when it has fewer)."""
    files: list[str] = []
    for split in SPLITS:
        files += [sample.path for sample in list_samples(root, split)]
        if len(files) >= count:
            break
    return files[:: max(1, len(files) // count)][:count]


def measure(engine: str, files: list[str], folder: str, workers: int | None = None,
            threads: int | None = None) -> dict:
    """Run one engine over ``files`` in this process and time it (see the module docstring for the numbers)."""
    if threads is not None:
        limit_threads(threads)
    run = make_engine(engine, Path(folder), ImageFolders(), workers=workers)
    started = time.perf_counter()
    first_at, first_count, count, errors = None, 0, 0, 0
    for records in run([(file, Path(Path(file).name)) for file in files]):
        if first_at is None:
            first_at, first_count = time.perf_counter(), len(records)
        count += len(records)
        errors += sum(record["error"] is not None for record in records)
    ended = time.perf_counter()
    steady_s = ended - first_at if first_at is not None else 0.0
    return {"engine": engine, "workers": workers, "tf_threads": threads, "slices": count, "errors": errors,
            "wall_s": round(ended - started, 2),
            "startup_s": None if first_at is None else round(first_at - started, 2),
            "slices_per_s": round((count - first_count) / steady_s, 2) if steady_s > 0 else None}


def measure_in_fresh_process(*args) -> dict:
    """:func:`measure` in a new interpreter: its own TensorFlow threads and its own Ray."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(measure, *args).result()


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 3) if numerator and denominator else None


def _overhead(local_per_s: float | None, ray_per_s: float | None) -> float | None:
    """How much longer Ray takes per slice than the local engine (0.2: 20 % longer)."""
    ratio = _ratio(local_per_s, ray_per_s)
    return None if ratio is None else round(ratio - 1, 3)


def run_ray_benchmark(root: Path, folder: Path, slices: int = 1000, worker_counts: tuple[int, ...] = (1, 2)) -> dict:
    """Every measurement, the scaling of 2 workers over 1 and the 1-worker overhead over the local engine."""
    started = time.perf_counter()
    files = pick_slices(root, slices)
    local = measure_in_fresh_process("local", files, str(folder))
    local_one_thread = measure_in_fresh_process("local", files, str(folder), None, 1)
    ray = {str(workers): measure_in_fresh_process("ray", files, str(folder), workers) for workers in worker_counts}
    one, two = (ray.get(key, {}).get("slices_per_s") for key in ("1", "2"))
    scaling, overhead = _ratio(two, one), _overhead(local_one_thread["slices_per_s"], one)
    return {
        "slices": len(files), "data": str(Path(root).name), "block_files": BLOCK_FILES,
        "local": local, "local_one_thread": local_one_thread, "ray": ray,
        "scaling_2_vs_1_workers": {"value": scaling, "target": SCALING_TARGET,
                                   "met": None if scaling is None else scaling >= SCALING_TARGET},
        "overhead_1_worker_vs_local": {"value": overhead, "target": OVERHEAD_TARGET,
                                       "met": None if overhead is None else overhead <= OVERHEAD_TARGET},
        "overhead_1_worker_vs_local_default_threads": _overhead(local["slices_per_s"], one),
        "run": run_metadata(["benchmarks.bench_ray", f"--slices={slices}"], time.perf_counter() - started),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, default=1000)
    parser.add_argument("--data", type=Path, default=DEFAULT_ROOT, help="the Kaggle set's folder")
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / "ray_bench.json")
    args = parser.parse_args(argv)
    result = run_ray_benchmark(args.data, args.weights, args.slices)
    write_evaluation(result, args.out)
    for name, entry in [("local", result["local"]), ("local, 1 thread", result["local_one_thread"]),
                        *((f"ray, {workers} worker(s)", entry) for workers, entry in result["ray"].items())]:
        print(f"{name}: {entry['slices_per_s']} slices/s after {entry['startup_s']} s start-up; {entry['wall_s']} s "
              f"for {entry['slices']} slices")
    print(f"2 vs 1 workers: {result['scaling_2_vs_1_workers']['value']}x; 1 worker over the local engine: "
          f"{result['overhead_1_worker_vs_local']['value']}")


if __name__ == "__main__":
    main()
