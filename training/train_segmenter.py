"""Train the tumour segmenter (U-Net family, 256 x 256 grayscale), compare variants, write weights/segmenter.*.

    python -m training.train_segmenter [--epochs 8] [--compare-epochs 2] [--variants unet,resunet]

Training data: BRISC 2025 train pairs (T1-contrast), LGG kaggle_3m slices of training patients (FLAIR, empty masks
included) and a sample of Kaggle ``Training/notumor`` slices with empty masks, so the model learns to draw nothing.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from core.cards import WEIGHTS_DIR, write_evaluation
from core.preprocess import InputSpec
from training.architectures import build_unet
from training.common import add_config_arguments, cli_overrides, config_from_args, make_dataset, run_metadata, set_seeds
from training.data import DEFAULT_ROOT as KAGGLE_ROOT
from training.data import list_samples
from training.segmentation_data import (
    BRISC_ROOT,
    LGG_ROOT,
    MaskedSlice,
    list_brisc,
    list_lgg,
    load_pairs,
    split_brisc,
    split_by_patient,
)
from training.segmentation_metrics import (
    ValidationDice,
    dice_bce_loss,
    grouped_mean,
    per_image_scores,
    predict_masks,
    score_summary,
    volume_dice_per_patient,
)

RUNS_DIR = Path(__file__).resolve().parents[1] / "runs"
VARIANTS = {"unet": False, "resunet": True}
"""Variant name -> residual blocks."""


@dataclass(frozen=True)
class SegmenterConfig:
    image_size: int = 256
    base_filters: int = 16
    depth: int = 4
    variants: str = "unet,resunet"
    compare_epochs: int = 2
    epochs: int = 8
    steps_per_epoch: int = 125
    batch_size: int = 16
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    patience: int = 3
    brisc_val_fraction: float = 0.15
    lgg_val_fraction: float = 0.2
    notumor_negatives: int = 600
    seed: int = 42

    @property
    def spec(self) -> InputSpec:
        return InputSpec(size=self.image_size)


@dataclass
class SegmentationData:
    train: list[MaskedSlice]
    val: list[MaskedSlice]
    notumor_test: list[MaskedSlice]


def gather_data(config: SegmenterConfig, brisc_root: Path, lgg_root: Path, kaggle_root: Path) -> SegmentationData:
    """Splits of BRISC (by class and plane) and LGG (by patient), plus tumour-free Kaggle slices."""
    brisc_train, brisc_val = split_brisc(list_brisc(brisc_root), config.brisc_val_fraction, config.seed)
    lgg_train, lgg_val = split_by_patient(list_lgg(lgg_root), config.lgg_val_fraction, config.seed)
    rng = np.random.default_rng(config.seed)
    notumor = list_samples(kaggle_root, "Training", ("notumor",))
    picks = rng.permutation(len(notumor))[: config.notumor_negatives]
    negatives = [MaskedSlice(notumor[i].path, None, "kaggle_notumor", "notumor", has_tumour=False)
                 for i in sorted(picks)]
    notumor_test = [MaskedSlice(s.path, None, "kaggle_notumor", "notumor", has_tumour=False)
                    for s in list_samples(kaggle_root, "Testing", ("notumor",))]
    return SegmentationData(brisc_train + lgg_train + negatives, brisc_val + lgg_val, notumor_test)


def fit_segmenter(config: SegmenterConfig, residual: bool, epochs: int, train: tuple, val_tumour: tuple,
                  run_dir: Path | None = None) -> tuple[keras.Model, dict]:
    """Train one variant with AdamW + cosine decay and Dice+BCE; early stopping on validation Dice."""
    set_seeds(config.seed)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = build_unet(config.image_size, config.base_filters, config.depth, residual,
                       name="resunet" if residual else "unet")
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, config.steps_per_epoch * epochs)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay), loss=dice_bce_loss)
    callbacks: list[keras.callbacks.Callback] = [
        ValidationDice(*val_tumour),
        keras.callbacks.EarlyStopping("val_dice", mode="max", patience=config.patience, restore_best_weights=True),
    ]
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        callbacks += [keras.callbacks.CSVLogger(str(run_dir / "history.csv")),
                      keras.callbacks.ModelCheckpoint(str(run_dir / "best.keras"), monitor="val_dice", mode="max",
                                                      save_best_only=True)]
    data = make_dataset(*train, config.batch_size, config.seed, augment=True, paired=True)
    history = model.fit(data, epochs=epochs, steps_per_epoch=config.steps_per_epoch, callbacks=callbacks, verbose=2)
    keras.mixed_precision.set_global_policy("float32")
    final = build_unet(config.image_size, config.base_filters, config.depth, residual, name=model.name)
    final.set_weights(model.get_weights())
    return final, {k: [float(v) for v in values] for k, values in history.history.items()}


def evaluate_segmenter(model: keras.Model, val: list[MaskedSlice], x_val: np.ndarray, y_val: np.ndarray,
                       x_free: np.ndarray) -> dict:
    """Per-image Dice/IoU by source, class and plane; LGG per-patient 3D Dice; false-positive area when tumour-free."""
    predicted = predict_masks(model, x_val)
    truth = y_val[..., 0]
    dice, iou = per_image_scores(truth, predicted)
    has_tumour = truth.reshape(len(truth), -1).any(axis=1)
    result: dict = {}
    for source in ("brisc", "lgg"):
        members = np.array([s.source == source for s in val]) & has_tumour
        entry = {"count": int(members.sum()), "dice": score_summary(dice[members]), "iou": score_summary(iou[members])}
        if source == "brisc":
            chosen = [s for s, m in zip(val, members, strict=True) if m]
            entry["by_class"] = grouped_mean(dice[members], [s.group for s in chosen])
            entry["by_plane"] = grouped_mean(dice[members], [s.plane for s in chosen])
        else:
            lgg = np.array([s.source == "lgg" for s in val])
            rows = volume_dice_per_patient(truth[lgg], predicted[lgg], [s.group for s in val if s.source == "lgg"])
            entry["per_patient"] = rows
            entry["per_patient_mean_dice"] = float(np.nanmean([r["dice"] for r in rows]))
        result[source] = entry
    lgg_empty = np.array([s.source == "lgg" for s in val]) & ~has_tumour
    result["false_positive_area"] = {
        "lgg_empty": false_positive_summary(predicted[lgg_empty]),
        "kaggle_notumor_test": false_positive_summary(predict_masks(model, x_free)),
    }
    return result


def false_positive_summary(predicted: np.ndarray) -> dict:
    """How much tumour a model draws on slices that have none."""
    fractions = predicted.reshape(len(predicted), -1).mean(axis=1)
    return {"count": len(predicted), "mean_fraction": float(fractions.mean()),
            "share_with_any_pixels": float((fractions > 0).mean())}


def train_segmenter(config: SegmenterConfig, brisc_root: Path = BRISC_ROOT, lgg_root: Path = LGG_ROOT,
                    kaggle_root: Path = KAGGLE_ROOT, out_dir: Path = WEIGHTS_DIR) -> dict:
    started = time.time()
    data = gather_data(config, brisc_root, lgg_root, kaggle_root)
    x_train, y_train, train_slices = load_pairs(data.train, config.spec)
    x_val, y_val, val_slices = load_pairs(data.val, config.spec)
    x_free, _, _ = load_pairs(data.notumor_test, config.spec)
    train = (x_train, y_train)
    tumour = y_val.reshape(len(y_val), -1).any(axis=1)
    val_tumour = (x_val[tumour], y_val[tumour])

    variants = []
    for name in config.variants.split(","):
        began = time.time()
        model, history = fit_segmenter(config, VARIANTS[name], config.compare_epochs, train, val_tumour)
        variants.append({"name": name, "parameters": int(model.count_params()), "epochs": config.compare_epochs,
                         "val_dice": max(history["val_dice"]), "seconds": round(time.time() - began, 1)})
    chosen = max(variants, key=lambda v: v["val_dice"])["name"]
    run_dir = RUNS_DIR / f"segmenter-{time.strftime('%Y%m%d-%H%M%S')}"
    model, history = fit_segmenter(config, VARIANTS[chosen], config.epochs, train, val_tumour, run_dir)
    validation = evaluate_segmenter(model, val_slices, x_val, y_val, x_free)

    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / "segmenter.keras")
    card = {
        "task": "tumour segmentation (binary mask)",
        "name": "segmenter",
        "architecture": {"name": model.name, "type": f"{chosen}: U-Net with a stride-2 stem and a full-resolution "
                         "branch", "parameters": int(model.count_params()), "base_filters": config.base_filters,
                         "depth": config.depth, "threshold": 0.5},
        "input": config.spec.to_dict(),
        "config": asdict(config),
        "data": {
            "sources": {"brisc": "BRISC 2025 train split masks (CC BY 4.0) on Kaggle Training images",
                        "lgg": "LGG kaggle_3m FLAIR slices, Buda et al. 2019 (CC BY-NC-SA 4.0 as reported)",
                        "kaggle_notumor": "Kaggle Training/notumor slices as empty masks (CC0)"},
            "split": "BRISC stratified by class and plane; LGG by patient; validation also chose the epoch",
            "counts": {"train": len(train_slices), "val": len(val_slices), "val_tumour_slices": int(tumour.sum()),
                       "notumor_test": len(data.notumor_test),
                       "lgg_val_patients": len({s.group for s in val_slices if s.source == "lgg"}),
                       "constant_slices_left_out": len(data.train) + len(data.val)
                       - len(train_slices) - len(val_slices)},
            "seed": config.seed,
        },
        "variants": variants,
        "chosen_variant": chosen,
        "history": history,
        "validation": validation,
        "run": run_metadata(["training.train_segmenter", *cli_overrides(config)], time.time() - started),
    }
    write_evaluation(card, out_dir / "segmenter.json")
    return card


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--brisc", type=Path, default=BRISC_ROOT)
    parser.add_argument("--lgg", type=Path, default=LGG_ROOT)
    parser.add_argument("--kaggle", type=Path, default=KAGGLE_ROOT)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    add_config_arguments(parser, SegmenterConfig)
    args = parser.parse_args(argv)
    config = config_from_args(args, SegmenterConfig())
    card = train_segmenter(config, args.brisc, args.lgg, args.kaggle, args.out)
    val = card["validation"]
    print(f"BRISC mean Dice {val['brisc']['dice']['mean']:.4f}; LGG per-patient Dice "
          f"{val['lgg']['per_patient_mean_dice']:.4f}")


if __name__ == "__main__":
    main()
