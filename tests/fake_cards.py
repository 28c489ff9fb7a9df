"""A small, complete set of model cards following the card schemas, for figure, summary and page tests.

The presence and segmenter cards follow what training/train_presence.py and training/train_segmenter.py write.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from core.cards import write_evaluation

CLASS_NAMES = ["glioma", "meningioma", "notumor", "pituitary"]
RUN = {"command": "python -m training.train_classifier --epochs=3", "date": "2026-11-22T06:29:31+00:00",
       "wall_time_s": 12.5, "hardware": {"cpu_count": 2}, "versions": {"python": "3.11"}}


def _roc(auc: float) -> dict:
    return {"fpr": [0.0, 0.05, 0.2, 1.0], "tpr": [0.0, 0.7, 0.95, 1.0], "thresholds": [1.0, 0.8, 0.4, 0.0],
            "auc": auc}


def _classifier_split(count: int, accuracy: float, misclassified: list[dict]) -> dict:
    bins = [{"lower": i / 5, "upper": (i + 1) / 5, "count": 0 if i == 0 else 10 * i,
             "accuracy": None if i == 0 else 0.2 * i, "confidence": None if i == 0 else 0.2 * i + 0.05}
            for i in range(5)]
    return {
        "count": count, "accuracy": accuracy, "macro_f1": accuracy - 0.01,
        "per_class": {name: {"precision": 0.9, "recall": 0.85 + 0.02 * i, "f1": 0.88, "support": 25}
                      for i, name in enumerate(CLASS_NAMES)},
        "confusion_matrix": [[20, 3, 1, 1], [2, 21, 1, 1], [0, 0, 25, 0], [0, 1, 0, 24]],
        "roc": {name: _roc(0.95 + 0.01 * i) for i, name in enumerate(CLASS_NAMES)},
        "calibration": {"bins": bins, "ece": 0.031},
        "ece_uncalibrated": 0.072,
        "misclassified": misclassified,
    }


def classifier_card(data_root: Path) -> dict:
    """A classifier card whose misclassified files live under ``data_root`` (two exist, one is missing)."""
    misclassified = [
        {"file": str(data_root / "Testing" / "glioma" / "a.png"), "true": "glioma", "predicted": "meningioma",
         "probability": 0.91},
        {"file": "Testing/meningioma/b.png", "true": "meningioma", "predicted": "glioma", "probability": 0.62},
        {"file": str(data_root / "Testing" / "glioma" / "gone.png"), "true": "glioma", "predicted": "notumor",
         "probability": 0.55},
    ]
    epochs = 4
    history = {key: list(np.linspace(start, end, epochs)) for key, start, end in (
        ("loss", 1.2, 0.4), ("accuracy", 0.5, 0.95), ("macro_f1", 0.45, 0.94),
        ("val_loss", 1.1, 0.5), ("val_accuracy", 0.55, 0.92), ("val_macro_f1", 0.5, 0.91))}
    return {
        "task": "tumour-type classification (4 classes)", "name": "classifier",
        "architecture": {"name": "classifier", "type": "residual CNN", "parameters": 123456, "width": 32, "depth": 4,
                         "gradcam_layer": "last_conv", "logits_layer": "logits"},
        "class_names": CLASS_NAMES,
        "input": {"size": 128, "channels": 1, "crop": False, "value_range": [0, 1],
                  "normalisation": "percentile-0.5-99.5"},
        "calibration": {"temperature": 1.37, "val_ece_before": 0.081, "val_ece_after": 0.022},
        "config": {"image_size": 128, "epochs": epochs},
        "data": {"source": "Kaggle", "root": str(data_root), "split": "stratified", "seed": 42,
                 "counts": {"train": 5140, "val": 572, "test": 1311, "test_deduplicated": 1096},
                 "test_duplicates_of_training": [{"test_file": f"t{i}.jpg", "training_file": f"r{i}.jpg"}
                                                 for i in range(215)]},
        "history": history,
        "best_epoch": 3,
        "test": {"official": _classifier_split(100, 0.952, misclassified),
                 "deduplicated": _classifier_split(80, 0.931, misclassified[:1])},
        "run": RUN,
    }


def study_card() -> dict:
    params = [(128, False, 32, 4, 2e-3, 0.3, 0.80), (128, True, 32, 4, 2e-3, 0.3, 0.83),
              (96, True, 24, 3, 1e-3, 0.2, 0.78), (160, False, 48, 4, 4e-3, 0.45, 0.81)]
    names = ["image_size", "crop", "width", "depth", "learning_rate", "dropout"]
    trials = [{"number": i, "params": dict(zip(names, values[:6], strict=True)), "val_macro_f1": values[6],
               "seconds": 30.0 + i, "parameters": 100000 + i, "val_accuracy": values[6] + 0.01}
              for i, values in enumerate(params)]
    return {
        "task": "classifier variant comparison (Optuna TPE)",
        "objective": "validation macro-F1 after a short schedule on a class-balanced training subset",
        "budget": {"trials": 4, "epochs": 4}, "search_space": {"image_size": [96, 128, 160]},
        "crop_comparison": {"without_crop": 0.80, "with_crop": 0.83, "note": "trials 0 and 1"},
        "trials": trials, "best_params": trials[1]["params"], "best_value": 0.83,
        "run": {**RUN, "command": "python -m training.tune_classifier --trials=4"},
    }


def _binary_split(count: int, auc: float) -> dict:
    return {"count": count, "auc": auc, "roc": _roc(auc),
            "pr": {"precision": [0.5, 0.8, 0.95, 1.0], "recall": [1.0, 0.9, 0.6, 0.0], "thresholds": [0.1, 0.5, 0.9],
                   "average_precision": 0.93},
            "threshold": 0.42, "sensitivity": 0.94, "specificity": 0.91, "confusion_matrix": [[91, 9], [6, 94]]}


def presence_card() -> dict:
    return {
        "task": "tumour presence (binary)", "name": "presence", "architecture": "residual CNN",
        "input": {"size": 128, "channels": 1, "crop": False}, "threshold": 0.42,
        "history": {"loss": [0.6, 0.3], "auc": [0.8, 0.95], "val_loss": [0.5, 0.35], "val_auc": [0.85, 0.94]},
        "validation": _binary_split(180, 0.99),
        "test": {"kaggle_official": _binary_split(200, 0.987), "kaggle_deduplicated": _binary_split(150, 0.981),
                 "lgg_patients": _binary_split(300, 0.874)},
        "run": {**RUN, "command": "python -m training.train_presence"},
    }


def segmenter_card() -> dict:
    dice = {"mean": 0.81, "median": 0.86, "histogram": {"edges": [0.0, 0.25, 0.5, 0.75, 1.0], "counts": [3, 5, 20, 72]}}
    return {
        "task": "tumour segmentation", "name": "segmenter", "architecture": {"name": "unet", "type": "U-Net"},
        "input": {"size": 128, "channels": 1, "crop": False},
        "history": {"loss": [0.5, 0.2], "val_dice": [0.62, 0.79]},
        "validation": {
            "brisc": {"count": 100, "dice": dice, "iou": {"mean": 0.71, "median": 0.75},
                      "by_class": {"gl": {"count": 40, "dice_mean": 0.78}, "me": {"count": 30, "dice_mean": 0.85},
                                   "pi": {"count": 30, "dice_mean": 0.80}},
                      "by_plane": {"ax": {"count": 50, "dice_mean": 0.82}, "co": {"count": 25, "dice_mean": 0.80},
                                   "sa": {"count": 25, "dice_mean": 0.79}}},
            "lgg": {"count": 60, "dice": dice, "iou": {"mean": 0.6, "median": 0.65},
                    "per_patient": [{"patient": "TCGA_CS_4941", "dice": 0.7, "slices": 20},
                                    {"patient": "TCGA_DU_5849", "dice": 0.5, "slices": 40}],
                    "per_patient_mean_dice": 0.6},
            "false_positive_area": {"kaggle_notumor_test": {"count": 400, "mean_fraction": 0.002,
                                                       "share_with_any_pixels": 0.1},
                                    "lgg_empty": {"count": 500, "mean_fraction": 0.001,
                                                  "share_with_any_pixels": 0.05}},
        },
        "variants": [{"name": "unet-16", "parameters": 480000, "val_dice": 0.79, "seconds": 600, "epochs": 10},
                     {"name": "unet-32", "parameters": 1900000, "val_dice": 0.81, "seconds": 1500, "epochs": 10}],
        "chosen_variant": "unet-32",
        "run": {**RUN, "command": "python -m training.train_segmenter"},
    }


def write_fake_cards(weights_dir: Path, data_root: Path) -> dict[str, dict]:
    """Write every card (plus empty ``.keras`` stand-ins so models count as installed) and two test images."""
    cards = {"classifier": classifier_card(data_root), "classifier_study": study_card(),
             "presence": presence_card(), "segmenter": segmenter_card()}
    for name, card in cards.items():
        write_evaluation(card, weights_dir / f"{name}.json")
        if name != "classifier_study":
            (weights_dir / f"{name}.keras").write_bytes(b"")
    gradient = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (48, 1))
    for relative in ("Testing/glioma/a.png", "Testing/meningioma/b.png"):
        (data_root / relative).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(gradient).save(data_root / relative)
    return cards
