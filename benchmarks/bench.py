"""Measure model load time, warm per-slice latency, batch throughput, full-analysis latency and peak memory.

    python -m benchmarks.bench [--repeats 30] [--out weights/benchmarks.json]
    python -m benchmarks.bench --training      # training throughput instead (see benchmarks/bench_training.py)

Uses a generated 512 x 512 slice (no data needed) and the shipped weights; absent models are reported as absent.
Also times each heatmap method, everything the Analyse page computes for a new slice, a whole generated
155 x 240 x 240 study (:func:`core.study.analyse.benchmark_volume`) and a 3-slice report from a cold command line.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.io.read import ScanSlice
from core.models.analysis import analyze
from core.models.cards import TUMOUR_NET, WEIGHTS_DIR, read_evaluation, write_evaluation
from core.models.gradcam import available_methods, default_method, gradcam_heatmap
from core.models.ood import load_available_detector, ood_verdicts
from core.models.preprocess import preprocess_slice
from core.models.registry import MODELS, ModelMissingError, load_model
from core.present.overlay import overlay_heatmap, overlay_mask
from core.study.analyse import benchmark_volume, synthetic_nifti
from core.study.view import benchmark_study_view, open_study
from training.common import run_metadata, synthetic_slice


def time_ms(function: Callable[[], object], repeats: int) -> dict:
    """Median and 95th percentile wall time of ``function`` after two warm-up calls."""
    for _ in range(2):
        function()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(float(np.median(samples)), 2), "p95_ms": round(float(np.percentile(samples, 95)), 2)}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def show_slice(scan: ScanSlice, models: dict, detector: object) -> None:
    """Everything the Analyse page computes for one new slice: the network, the OOD check, the default heatmap and
    the overlays."""
    analysis = analyze(scan, models, detector)
    if analysis.mask is not None:
        overlay_mask(scan.pixels, analysis.mask)
    if TUMOUR_NET in models:
        overlay_heatmap(scan.pixels, gradcam_heatmap(models[TUMOUR_NET], scan.pixels, attention=analysis.attention))


def cli_report_seconds(weights_dir: Path, repeats: int = 3, slices: int = 3, target_s: float = 5.0) -> dict:
    """Wall time of ``python -m core report`` on ``slices`` generated slices, from a cold process each time: what a
    user waits for, start-up included."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        files = []
        for index in range(slices):
            files.append(folder / f"slice_{index}.png")
            pixels = synthetic_slice(256, seed=index).pixels
            Image.fromarray((pixels * 255).astype(np.uint8), mode="L").save(files[-1])
        command = [sys.executable, "-m", "core", "report", *map(str, files), "--out", str(folder / "report.pdf"),
                   "--weights", str(weights_dir)]
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, cwd=Path(__file__).resolve().parents[1])
            samples.append(time.perf_counter() - started)
    median = round(float(np.median(samples)), 2)
    return {"slices": slices, "runs": repeats, "median_s": median, "max_s": round(max(samples), 2),
            "target_s": target_s, "target_met": median <= target_s}


def run_benchmark(weights_dir: Path, repeats: int) -> dict:
    """Every measurement; peak memory is read twice: after the Analyse page's own work on slices (models loaded, one
    analysis, default heatmap, overlays: what a serving process holds), then after the batch and every heatmap
    method."""
    scan = synthetic_slice()
    models, results, load_times = {}, {}, {}
    for name in MODELS:
        started = time.perf_counter()
        try:
            models[name] = load_model(name, weights_dir)
        except ModelMissingError as err:
            results[name] = {"available": False, "reason": str(err)}
            continue
        load_times[name] = time.perf_counter() - started
    detector = load_available_detector(weights_dir)
    slice_total = time_ms(lambda: show_slice(scan, models, detector), max(repeats // 3, 3)) if models else None
    for loaded in models.values():
        _ = loaded.type_model  # the app's server also holds the Keras model, for the gradient heatmaps
    serving_rss = peak_rss_mb()
    for name, loaded in models.items():
        x = preprocess_slice(scan.pixels, loaded.spec)
        batch = np.repeat(x[None], 32, axis=0)
        single = time_ms(lambda m=loaded, x=x: m.predict_raw(x[None]), repeats)
        batch_time = time_ms(lambda m=loaded, b=batch: m.predict_raw(b), max(repeats // 5, 3))
        results[name] = {
            "available": True,
            "engine": loaded.engine,
            "load_s": round(load_times[name], 2),
            "batch1_latency": single,
            "preprocess_and_predict_latency": time_ms(
                lambda m=loaded: m.predict_raw(preprocess_slice(scan.pixels, m.spec)[None]), repeats),
            "batch32_throughput_per_s": round(32_000 / batch_time["median_ms"], 1),
        }
    full = time_ms(lambda: analyze(scan, models, detector), repeats) if models else None
    guard = None
    if detector is not None and TUMOUR_NET in models:  # what the check adds to the analysis pass it reads from
        network = models[TUMOUR_NET]
        x = preprocess_slice(scan.pixels, network.spec)[None]
        embedding = network.predict_outputs(x)["embedding"]
        guard = time_ms(lambda: ood_verdicts(x, network, detector, embedding), repeats)
    gradcam = {method: time_ms(lambda m=method: gradcam_heatmap(models[TUMOUR_NET], scan.pixels, method=m),
                               max(repeats // 3, 3))
               for method in available_methods(models[TUMOUR_NET])} if TUMOUR_NET in models else None
    return {
        "task": "inference benchmark",
        "input": "generated 512 x 512 slice",
        "models": results,
        "ood_check": detector is not None,
        "analyze_latency": full,
        "ood_check_latency": guard,
        "gradcam_latency": gradcam,
        "default_heatmap_method": default_method(models.get(TUMOUR_NET)) if models else None,
        "slice_to_all_results_latency": slice_total,
        "study_volume": benchmark_volume(weights_dir) if TUMOUR_NET in models else None,
        "study_slider_move": benchmark_study_view(open_study([("benchmark.nii", synthetic_nifti())],
                                                             models[TUMOUR_NET])) if TUMOUR_NET in models else None,
        "cli_report_cold": cli_report_seconds(weights_dir, max(1, min(3, repeats // 10))) if models else None,
        "peak_rss_mb": round(serving_rss, 1),
        "peak_rss_all_methods_mb": round(peak_rss_mb(), 1),
        "run": run_metadata(["benchmarks.bench", f"--repeats={repeats}"], 0.0),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / "benchmarks.json")
    parser.add_argument("--training", action="store_true", help="measure training throughput instead")
    parser.add_argument("--steps", type=int, default=20, help="train steps timed per measurement (--training)")
    args = parser.parse_args(argv)
    earlier = read_evaluation(args.out) if args.out.exists() else {}
    if args.training:
        from benchmarks.bench_training import run_training_benchmark

        training = run_training_benchmark(args.steps)
        write_evaluation({**earlier, "training": training}, args.out)
        for name, entry in training.items():
            print(f"{name}: pipeline {entry['pipeline_images_per_s']} images/s, synthetic "
                  f"{entry['synthetic_images_per_s']} images/s, ratio {entry['ratio']}")
        return
    result = run_benchmark(args.weights, args.repeats)
    write_evaluation({**result, **({"training": earlier["training"]} if "training" in earlier else {})}, args.out)
    for name, entry in result["models"].items():
        if entry["available"]:
            print(f"{name}: load {entry['load_s']} s, batch-1 {entry['batch1_latency']['median_ms']} ms, "
                  f"batch-32 {entry['batch32_throughput_per_s']} slices/s")
        else:
            print(f"{name}: not installed")
    if result["analyze_latency"]:
        print(f"analyze(): {result['analyze_latency']['median_ms']} ms per slice; all results of one slice "
              f"(with the {result['default_heatmap_method']} heatmap and overlays): "
              f"{result['slice_to_all_results_latency']['median_ms']} ms; peak RSS {result['peak_rss_mb']} MB "
              f"serving, {result['peak_rss_all_methods_mb']} MB after every heatmap method")
    for method, timing in (result["gradcam_latency"] or {}).items():
        print(f"{method}: {timing['median_ms']} ms")
    if result["study_volume"]:
        study = result["study_volume"]
        print(f"study of {study['slices']} slices {study['shape'][1]} x {study['shape'][2]}: {study['total_s']} s "
              f"({study['slices_per_s']} slices/s); a slider move {result['study_slider_move']['median_ms']} ms")


if __name__ == "__main__":
    main()
