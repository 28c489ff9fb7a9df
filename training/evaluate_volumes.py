"""Whole-study accuracy: LGG test patients stacked into volumes and analysed by the Study path; writes
weights/tumour_net_volumes.json.

    python -m training.evaluate_volumes [--weights DIR] [--out weights/tumour_net_volumes.json]

Each held-out LGG patient (the network card's split: same seed and fractions) becomes one volume of its FLAIR slices
in slice order, analysed by :func:`core.study.analyse.analyse_study` exactly as the Study page and
``python -m core volume`` do. Reported per patient: the 3D Dice of the study mask against the expert masks, and the
tumour volume error. The LGG slices state no spacing, so volumes are compared in voxels: a relative error needs no
millimetres. A test set: nothing is chosen here.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.io.errors import InputError
from core.io.read import read_image
from core.models.cards import TUMOUR_NET, WEIGHTS_DIR, file_sha256, read_evaluation, write_evaluation
from core.models.registry import LoadedModel, load_model
from core.study.analyse import analyse_study
from core.study.volume import Volume
from training.common import run_metadata
from training.tumour_data import LabelledSlice, make_splits, read_mask

LGG_SHAPE = (256, 256)
IDENTITY_ORNT = np.array([[0, 1], [1, 1], [2, 1]])
"""The stacked slices are their own voxel grid."""


def lgg_volume(patient: str, items: Sequence[LabelledSlice]) -> tuple[Volume, np.ndarray]:
    """One patient's slices (in slice-number order) as a study, and the expert mask stacked the same way.

    Constant slices (volume ends) are kept as blank slices, as the app refuses to analyse a constant slice.
    """
    ordered = sorted(items, key=lambda item: int(Path(item.image).stem.rsplit("_", 1)[1]))
    pixels, blank = [], []
    for item in ordered:
        try:
            pixels.append(read_image(Path(item.image).read_bytes(), item.image).pixels)
            blank.append(False)
        except InputError:
            pixels.append(np.zeros(LGG_SHAPE, np.float32))
            blank.append(True)
    volume = Volume(patient, np.stack(pixels), np.array(blank), None, None, None, None, IDENTITY_ORNT, "TIFF")
    return volume, np.stack([read_mask(item.mask, LGG_SHAPE) for item in ordered])


def patient_row(patient: str, items: Sequence[LabelledSlice], model: LoadedModel) -> dict:
    volume, truth = lgg_volume(patient, items)
    predicted = analyse_study(volume, model).mask.astype(bool)
    truth = truth.astype(bool)
    total = int(predicted.sum() + truth.sum())
    return {"patient": patient, "slices": len(items), "truth_voxels": int(truth.sum()),
            "predicted_voxels": int(predicted.sum()),
            "dice": 2.0 * float((predicted & truth).sum()) / total if total else 1.0,
            "volume_error": abs(int(predicted.sum()) - int(truth.sum())) / int(truth.sum()) if truth.any() else None}


def evaluate_volumes(weights: Path, out: Path) -> dict:
    started = time.time()
    model = load_model(TUMOUR_NET, weights)
    config = read_evaluation(weights / f"{TUMOUR_NET}.json")["config"]
    splits = make_splits(val_fraction=config["val_fraction"], seed=config["seed"])
    patients: dict[str, list[LabelledSlice]] = {}
    for item in splits.lgg_test:
        patients.setdefault(item.group, []).append(item)
    rows = [patient_row(patient, items, model) for patient, items in sorted(patients.items())]
    errors = [row["volume_error"] for row in rows if row["volume_error"] is not None]
    card = {"task": "whole-study accuracy on held-out LGG patients (Study path)",
            "model": {"name": TUMOUR_NET, "sha256": file_sha256(weights / f"{TUMOUR_NET}.keras")},
            "patients": len(rows), "mean_dice": float(np.mean([row["dice"] for row in rows])),
            "median_volume_error": float(np.median(errors)), "rows": rows,
            "note": "LGG slices state no spacing: volumes are compared in voxels (a relative error needs no mm); the "
                    "same patients as the card's LGG test split; a test set, nothing is chosen here",
            "run": run_metadata(["training.evaluate_volumes"], time.time() - started)}
    write_evaluation(card, out)
    return card


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / "tumour_net_volumes.json")
    args = parser.parse_args(argv)
    card = evaluate_volumes(args.weights, args.out)
    print(f"{card['patients']} patients: mean 3D Dice {card['mean_dice']:.3f}, median volume error "
          f"{card['median_volume_error']:.1%}")


if __name__ == "__main__":
    main()
