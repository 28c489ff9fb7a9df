"""Export the shipped network to LiteRT and measure that both give the same answers.

    python -m training.export_litert [--weights weights] [--slices 64]

Writes ``tumour_net.tflite`` (the named outputs of :func:`core.models.keras_network.output_head`) and
``tumour_net_litert.json``: the SHA-256 of the ``.keras`` file it came from
(:func:`core.models.litert_network.fresh_export` uses the export only while that file is unchanged), the largest
difference of every output between Keras and LiteRT on Kaggle test slices (generated slices without the data), and the
time of one slice through each. Run it after every training run that replaces ``tumour_net.keras``; an export that
disagrees beyond :data:`TOLERANCE` is refused.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from core.io.read import read_scan
from core.models.cards import TUMOUR_NET, WEIGHTS_DIR, file_sha256, read_evaluation, write_evaluation
from core.models.keras_network import keras_runner, load_keras, output_head
from core.models.litert_network import Runner, export_paths, litert_runner
from core.models.metrics import softmax
from core.models.preprocess import InputSpec, preprocess_slice
from training.common import run_metadata, synthetic_slice
from training.data import DEFAULT_ROOT

TOLERANCE = 1e-3
"""Largest difference allowed between Keras's and LiteRT's type probabilities or mask probabilities."""


def parity_slices(spec: InputSpec, count: int) -> tuple[np.ndarray, str]:
    """``count`` preprocessed slices: Kaggle test images spread over the classes, else generated slices."""
    every = sorted((DEFAULT_ROOT / "Testing").glob("*/*.jpg"))
    if every:
        paths = every[:: max(1, len(every) // count)][:count]
        pixels = [read_scan(path.read_bytes(), path.name).pixels for path in paths]
        source = f"{len(paths)} Kaggle test slices, spread over the classes"
    else:
        pixels = [synthetic_slice(256, seed=index).pixels for index in range(count)]
        source = f"{count} generated slices"
    return np.stack([preprocess_slice(p, spec) for p in pixels]).astype(np.float32), source


def differences(keras_out: dict[str, np.ndarray], lite_out: dict[str, np.ndarray]) -> dict[str, float]:
    """The largest absolute difference of every output, and of the type probabilities (softmax of the logits)."""
    found = {name: float(np.abs(keras_out[name] - lite_out[name]).max()) for name in keras_out}
    found["probabilities"] = float(np.abs(softmax(keras_out["logits"]) - softmax(lite_out["logits"])).max())
    found["type_decisions_that_differ"] = int((keras_out["logits"].argmax(1) != lite_out["logits"].argmax(1)).sum())
    return found


def slice_ms(run: Runner, batch: np.ndarray, repeats: int = 20) -> float:
    """Median milliseconds of one slice (batch of 1) after a warm-up call."""
    run(batch[:1])
    times = []
    for index in range(repeats):
        started = time.perf_counter()
        run(batch[index % len(batch)][None])
        times.append(1000 * (time.perf_counter() - started))
    return round(float(np.median(times)), 2)


def export_network(folder: Path, count: int) -> dict:
    """Export ``folder``'s network, check it against Keras and write its card; returns the card."""
    started = time.perf_counter()
    weights = folder / f"{TUMOUR_NET}.keras"
    card = read_evaluation(folder / f"{TUMOUR_NET}.json")
    architecture = card.get("architecture", {})
    model = load_keras(weights)
    export, export_card = export_paths(folder, TUMOUR_NET)
    output_head(model, architecture).export(str(export), format="litert", verbose=False)
    batch, source = parity_slices(InputSpec.from_dict(card["input"]), count)
    keras_run, lite_run = keras_runner(model, architecture), litert_runner(export)
    found = differences(keras_run(batch), lite_run(batch))
    if max(found["probabilities"], found.get("mask", 0.0)) > TOLERANCE or found["type_decisions_that_differ"]:
        export.unlink()
        raise SystemExit(f"The LiteRT export disagrees with Keras ({found}); it was not kept.")
    summary = {"task": "LiteRT export of the shipped network", "source": weights.name,
               "source_sha256": file_sha256(weights), "export": export.name,
               "parity": {"slices": source, "tolerance": TOLERANCE, "max_abs_difference": found},
               "slice_ms": {"keras": slice_ms(keras_run, batch), "litert": slice_ms(lite_run, batch)},
               "run": run_metadata(["training.export_litert"], time.perf_counter() - started)}
    write_evaluation(summary, export_card)
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--slices", type=int, default=64)
    args = parser.parse_args(argv)
    summary = export_network(args.weights, args.slices)
    print(f"wrote {summary['export']}: largest differences {summary['parity']['max_abs_difference']}; one slice "
          f"{summary['slice_ms']}")


if __name__ == "__main__":
    main()
