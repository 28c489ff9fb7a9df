"""A small, complete tumour-network card following what training/evaluate_tumour_net.py writes, for figure,
summary and page tests, built from section views in the shapes ``core.present.summaries.section_views`` returns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from core.models.cards import write_evaluation

CLASS_NAMES = ["glioma", "meningioma", "notumor", "pituitary"]
RUN = {"command": "python -m training.train_tumour_net --epochs=3", "date": "2026-11-22T06:29:31+00:00",
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


def type_view(data_root: Path) -> dict:
    """The type section, its misclassified files under ``data_root`` (two exist, one is missing)."""
    misclassified = [
        {"file": "Testing/glioma/a.png", "true": "glioma", "predicted": "meningioma", "probability": 0.91},
        {"file": "Testing/meningioma/b.png", "true": "meningioma", "predicted": "glioma", "probability": 0.62},
        {"file": "Testing/glioma/gone.png", "true": "glioma", "predicted": "notumor", "probability": 0.55},
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
        "data": {"source": "Kaggle", "root": Path(data_root).name, "split": "stratified", "seed": 42,
                 "counts": {"train": 5140, "val": 572, "test": 1311, "test_deduplicated": 1096},
                 "test_duplicates_of_training": [{"test_file": f"t{i}.jpg", "training_file": f"r{i}.jpg"}
                                                 for i in range(215)]},
        "history": history,
        "best_epoch": 3,
        "test": {"kaggle_official": _classifier_split(100, 0.952, misclassified),
                 "kaggle_deduplicated": _classifier_split(80, 0.931, misclassified[:1])},
        "run": RUN,
    }


def study_card() -> dict:
    params = [(2e-3, 0.3, 1.0, 16, 0.80), (1e-3, 0.2, 1.5, 24, 0.83), (4e-3, 0.45, 0.5, 12, 0.78)]
    names = ["learning_rate", "dropout", "mask_loss_weight", "base_filters"]
    trials = [{"number": i, "params": dict(zip(names, values[:4], strict=True)), "val_score": values[4],
               "val_macro_f1": values[4] + 0.05, "val_dice": values[4] - 0.05, "seconds": 30.0 + i,
               "parameters": 100000 + i, "val_accuracy": values[4] + 0.06}
              for i, values in enumerate(params)]
    return {
        "task": "tumour-network variant comparison (Optuna TPE)",
        "objective": "validation score (mean of macro-F1 and Dice) after a short schedule on a training subset",
        "budget": {"trials": 3, "epochs": 3}, "search_space": {"base_filters": [12, 16, 24]},
        "trials": trials, "best_params": trials[1]["params"], "best_value": 0.83,
        "run": {**RUN, "command": "python -m training.tune_tumour_net --trials=3"},
    }


def _binary_split(count: int, auc: float) -> dict:
    return {"count": count, "auc": auc, "roc": _roc(auc),
            "pr": {"precision": [0.5, 0.8, 0.95, 1.0], "recall": [1.0, 0.9, 0.6, 0.0], "thresholds": [0.1, 0.5, 0.9],
                   "average_precision": 0.93},
            "threshold": 0.42, "sensitivity": 0.94, "specificity": 0.91, "confusion_matrix": [[91, 9], [6, 94]]}


def presence_view() -> dict:
    return {
        "threshold": 0.42,
        "validation": {"kaggle": _binary_split(180, 0.99), "lgg": _binary_split(120, 0.95)},
        "test": {"kaggle_official": _binary_split(200, 0.987), "kaggle_deduplicated": _binary_split(150, 0.981),
                 "lgg_test_patients": _binary_split(300, 0.874)},
    }


DICE = {"mean": 0.81, "median": 0.86, "histogram": {"edges": [0.0, 0.25, 0.5, 0.75, 1.0], "counts": [3, 5, 20, 72]}}


def segmentation_section() -> dict:
    """The card's ``segmentation`` section as the evaluation writes it."""
    return {
        "min_component_px": 32, "speck_rule": "size maximising validation Dice minus the false-mask share",
        "brisc_validation": {"count": 100, "dice": DICE, "dice_without_gating": DICE,
                             "by_class": {"glioma": {"count": 40, "dice_mean": 0.78},
                                          "meningioma": {"count": 30, "dice_mean": 0.85},
                                          "pituitary": {"count": 30, "dice_mean": 0.80}},
                             "by_plane": {"ax": {"count": 50, "dice_mean": 0.82},
                                          "co": {"count": 25, "dice_mean": 0.80},
                                          "sa": {"count": 25, "dice_mean": 0.79}}},
        "lgg_test_patients": {"count": 60, "patients": 2, "slice_dice": DICE,
                              "per_patient": [{"patient": "TCGA_CS_4941", "dice": 0.7, "slices": 20},
                                              {"patient": "TCGA_DU_5849", "dice": 0.5, "slices": 40}],
                              "per_patient_mean_dice": 0.6},
        "false_positive_area": {"kaggle_notumor_test": {"count": 400, "mean_fraction": 0.002,
                                                        "share_with_any_pixels": 0.1},
                                "lgg_test_tumour_free": {"count": 500, "mean_fraction": 0.001,
                                                         "share_with_any_pixels": 0.05}},
    }


def segmentation_view() -> dict:
    section = segmentation_section()
    return {"validation": {"brisc": section["brisc_validation"],
                           "lgg": {**section["lgg_test_patients"], "dice": DICE},
                           "false_positive_area": section["false_positive_area"]}}


def tumour_net_card(data_root: Path) -> dict:
    """The whole card: type, presence, segmentation and heatmap sections, history and training summary."""
    kind = type_view(data_root)
    return {
        "task": "tumour type, presence and segmentation from one network", "name": "tumour_net",
        "architecture": {"name": "tumour_net", "type": "shared residual encoder, type head, U-Net decoder",
                         "parameters": 1996933, "gradcam_layer": "stage3", "gradcam_method": "Grad-CAM",
                         "logits_layer": "logits", "mask_layer": "mask", "type_layer": "type"},
        "class_names": CLASS_NAMES, "input": kind["input"], "config": kind["config"],
        "calibration": kind["calibration"],
        "type": {"test": kind["test"]},
        "presence": {**presence_view(), "threshold_rule": "highest threshold with sensitivity >= 99.5 %"},
        "segmentation": segmentation_section(),
        "heatmap": {"slices": 120, "dilation_px_at_512": 15, "default_method": "Grad-CAM", "default_layer": "stage3",
                    "rule": "highest pointing game",
                    "candidates": [{"method": "Grad-CAM", "layer": "stage3", "pointing_game": 0.8,
                                    "mass_inside_mask": 0.3, "ms_per_slice": 30.0},
                                   {"method": "Grad-CAM++", "layer": "last_conv", "pointing_game": 0.6,
                                    "mass_inside_mask": 0.2, "ms_per_slice": 35.0}]},
        "history": {**kind["history"], "type_loss": [1.0, 0.7, 0.5, 0.4], "mask_loss": [0.9, 0.6, 0.5, 0.4],
                    "val_dice": [0.5, 0.6, 0.7, 0.75]},
        "best_epoch": kind["best_epoch"],
        "training": {"epochs_run": 4, "parts": 2, "stopped_early": False, "wall_time_s": 7200.0,
                     "epochs_per_hour": 2.0,
                     "earlier_stages": [{"name": "tumour_net_192", "image_size": 192, "epochs_run": 24,
                                         "wall_time_s": 5040.0, "command": "python -m training.train_tumour_net "
                                                                           "--image-size=192",
                                         "results": {"type accuracy, Kaggle official test": 0.9695}}]},
        "data": kind["data"], "run": RUN,
        "separate_models": {"note": "the models it replaced",
                            "results": {"classifier": {"type accuracy, Kaggle official test": 0.948,
                                                       "parameters": 1229732},
                                        "segmenter": {"BRISC validation mean Dice": 0.664}}},
    }


def guard_card() -> dict:
    """The input guard's card: two candidates, the shipped one's results by brain set and held-out kind."""
    def flags(count: int, rate: float) -> dict:
        return {"count": count, "flagged": round(count * rate), "flag_rate": rate}

    results = {"brain_false_flags": {"kaggle_validation": flags(500, 0.02), "ixi_nichart/t1": flags(20, 0.05)},
               "roc_auc_against_non_brain": {"kaggle_validation": 0.99, "ixi_nichart/t1": 0.97},
               "non_brain": {**flags(40, 0.9), "by_kind": {"mri_knee": flags(22, 0.91), "ct_abdomen": flags(18, 1.0)}}}
    return {"name": "ood", "candidate": "head, C = 1", "threshold": 0.25,
            "threshold_by_source": {"kaggle_validation": 0.25},
            "method": {"selection": "it flags most", "threshold_rule": "the highest 98th percentile"},
            "candidates": {"distances alone": {"development_flag_rate": 0.5, "results": results},
                           "head, C = 1": {"development_flag_rate": 0.8, "results": results}},
            "results": results}


def write_fake_cards(weights_dir: Path, data_root: Path) -> dict[str, dict]:
    """Write the network's card, its study and the guard's card (plus an empty ``.keras`` stand-in so the network
    counts as installed) and two test images under ``data_root``; set ``BRAIN_MRI_DATA_DIR`` to ``data_root.parent``
    to find them."""
    cards = {"tumour_net": tumour_net_card(data_root), "tumour_net_study": study_card(), "ood": guard_card()}
    for name, card in cards.items():
        write_evaluation(card, weights_dir / f"{name}.json")
    (weights_dir / "tumour_net.keras").write_bytes(b"")
    gradient = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (48, 1))
    for relative in ("Testing/glioma/a.png", "Testing/meningioma/b.png"):
        (data_root / relative).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(gradient).save(data_root / relative)
    return cards
