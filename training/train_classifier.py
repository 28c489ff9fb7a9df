"""Train the 4-class tumour-type CNN from scratch, calibrate it, evaluate it and write weights/classifier.*.

    python -m training.train_classifier [--data ../shared/data/brain-tumor-mri-4class] [--epochs 16]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import keras
import numpy as np

from core.cards import WEIGHTS_DIR, write_evaluation
from core.metrics import fit_temperature, reliability_bins, softmax
from core.preprocess import InputSpec
from training.architectures import build_classifier
from training.common import (
    add_config_arguments,
    cli_overrides,
    config_from_args,
    make_dataset,
    predict_logits,
    run_metadata,
    set_seeds,
)
from training.data import CLASS_NAMES, DEFAULT_ROOT, load_arrays, load_kaggle_splits
from training.evaluate import evaluate_classifier_on_tests

RUNS_DIR = Path(__file__).resolve().parents[1] / "runs"


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a classifier run; the values used are stored in the model card."""

    image_size: int = 128
    crop: bool = False
    width: int = 32
    depth: int = 4
    dropout: float = 0.3
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    batch_size: int = 32
    epochs: int = 16
    warmup_epochs: int = 1
    patience: int = 5
    val_fraction: float = 0.1
    seed: int = 42
    mixed_precision: bool = True
    initial_weights: str = ""
    """A .keras file with the same architecture to continue training from ("" = random initialisation)."""

    @property
    def spec(self) -> InputSpec:
        return InputSpec(size=self.image_size, crop=self.crop)


def fit_classifier(config: TrainConfig, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                   y_val: np.ndarray, run_dir: Path | None = None, verbose: int = 2) -> tuple[keras.Model, dict]:
    """Train with AdamW, warm-up + cosine decay, label smoothing and early stopping on validation macro-F1.

    Returns the best-epoch model rebuilt in float32 (so inference never depends on the training precision policy)
    and the per-epoch history.
    """
    set_seeds(config.seed)
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if config.mixed_precision else "float32")
    n_classes = len(CLASS_NAMES)
    model = build_classifier(config.image_size, 1, n_classes, config.width, config.depth, config.dropout)
    if config.initial_weights:
        model.set_weights(keras.saving.load_model(config.initial_weights, compile=False).get_weights())
    steps = int(np.ceil(len(x_train) / config.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate / 10,
        decay_steps=steps * max(config.epochs - config.warmup_epochs, 1),
        warmup_target=config.learning_rate,
        warmup_steps=steps * config.warmup_epochs,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy", keras.metrics.F1Score(average="macro", name="macro_f1")],
    )
    one_hot = np.eye(n_classes, dtype=np.float32)
    train_data = make_dataset(x_train, one_hot[y_train], config.batch_size, config.seed, augment=True)
    val_data = make_dataset(x_val, one_hot[y_val], 64, config.seed, augment=False)
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping("val_macro_f1", mode="max", patience=config.patience, restore_best_weights=True),
    ]
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        callbacks += [
            keras.callbacks.CSVLogger(str(run_dir / "history.csv")),
            keras.callbacks.ModelCheckpoint(str(run_dir / "best.keras"), monitor="val_macro_f1", mode="max",
                                            save_best_only=True),
            keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), update_freq="epoch"),
        ]
    history = model.fit(train_data, validation_data=val_data, epochs=config.epochs, steps_per_epoch=steps,
                        callbacks=callbacks, verbose=verbose)
    keras.mixed_precision.set_global_policy("float32")
    final = build_classifier(config.image_size, 1, n_classes, config.width, config.depth, config.dropout)
    final.set_weights(model.get_weights())
    return final, {k: [float(v) for v in values] for k, values in history.history.items()}


def train_classifier(config: TrainConfig, data_root: Path = DEFAULT_ROOT, out_dir: Path = WEIGHTS_DIR) -> dict:
    """Full run: cache data, train, fit the temperature on validation, evaluate on both test splits, save."""
    started = time.time()
    splits = load_kaggle_splits(data_root, config.val_fraction, config.seed)
    x_train, y_train = load_arrays(splits.train, config.spec)
    x_val, y_val = load_arrays(splits.val, config.spec)
    run_dir = RUNS_DIR / f"classifier-{time.strftime('%Y%m%d-%H%M%S')}"
    earlier = _earlier_run(config.initial_weights)
    model, history = fit_classifier(config, x_train, y_train, x_val, y_val, run_dir)

    val_logits = predict_logits(model, x_val)
    temperature = fit_temperature(val_logits, y_val)
    calibration = {
        "temperature": temperature,
        "val_ece_before": reliability_bins(softmax(val_logits), y_val)["ece"],
        "val_ece_after": reliability_bins(softmax(val_logits, temperature), y_val)["ece"],
    }
    test = evaluate_classifier_on_tests(model, temperature, splits, config.spec, CLASS_NAMES)
    wall = time.time() - started

    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / "classifier.keras")
    card = {
        "task": "tumour-type classification (4 classes)",
        "name": "classifier",
        "architecture": {"name": model.name, "type": "residual CNN, stride-2 stem, global average pooling",
                         "parameters": int(model.count_params()), "width": config.width, "depth": config.depth,
                         "gradcam_layer": "last_conv", "logits_layer": "logits"},
        "class_names": list(CLASS_NAMES),
        "input": config.spec.to_dict(),
        "calibration": calibration,
        "config": asdict(config),
        "data": {
            "source": "Kaggle Brain Tumor MRI Dataset (M. Nickparvar), CC0",
            "root": str(data_root),
            "split": f"stratified {config.val_fraction:.0%} validation carved from Training (byte-identical copies "
                     "kept on one side); Testing never used for model selection",
            "seed": config.seed,
            "counts": {"train": len(splits.train), "val": len(splits.val), "test": len(splits.test),
                       "test_deduplicated": len(splits.test_deduplicated)},
            "test_duplicates_of_training": splits.test_duplicates,
        },
        "history": history,
        "continued_from": earlier,
        "best_epoch": int(np.argmax(history["val_macro_f1"])) + 1,
        "test": test,
        "run": run_metadata(["training.train_classifier", *cli_overrides(config)], wall),
    }
    write_evaluation(card, out_dir / "classifier.json")
    return card


def _earlier_run(initial_weights: str) -> dict | None:
    """The command and history of the run whose weights this one continues, read from that model's card."""
    if not initial_weights:
        return None
    card = Path(initial_weights).with_suffix(".json")
    earlier = json.loads(card.read_text()) if card.exists() else {}
    return {"weights": initial_weights, "command": earlier.get("run", {}).get("command"),
            "history": earlier.get("history"),
            "test_accuracy": {split: result.get("accuracy") for split, result in earlier.get("test", {}).items()}}


def parse_config(argv: list[str] | None = None) -> tuple[TrainConfig, Path, Path]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--from-study", type=Path, help="start from the best trial of a tune_classifier study JSON")
    add_config_arguments(parser, TrainConfig)
    args = parser.parse_args(argv)
    config = TrainConfig()
    if args.from_study:
        best = json.loads(args.from_study.read_text())["best_params"]
        config = replace(config, **{k: v for k, v in best.items() if k in TrainConfig.__dataclass_fields__})
    return config_from_args(args, config), args.data, args.out


def main(argv: list[str] | None = None) -> None:
    config, data, out = parse_config(argv)
    card = train_classifier(config, data, out)
    for split, result in card["test"].items():
        print(f"{split}: accuracy {result['accuracy']:.4f}  macro-F1 {result['macro_f1']:.4f}")


if __name__ == "__main__":
    main()
