"""Compare classifier variants with a small Optuna study on a class-balanced subset and short schedules.

    python -m training.tune_classifier [--trials 6] [--per-class 200] [--epochs 4]

The first two trials are the default configuration without and with the brain crop, so the crop decision rests on a
paired measurement; the rest are chosen by Optuna's TPE sampler. Writes weights/classifier_study.json.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import optuna
from sklearn.metrics import f1_score

from core.cards import WEIGHTS_DIR, write_evaluation
from training.common import run_metadata
from training.data import DEFAULT_ROOT, load_arrays, load_kaggle_splits
from training.train_classifier import TrainConfig, fit_classifier

SEARCH_SPACE = {
    "image_size": [96, 128],
    "crop": [False, True],
    "width": [24, 32, 48],
    "depth": [3, 4],
}


def balanced_subset(labels: list[int], per_class: int, seed: int) -> np.ndarray:
    """Indices of up to ``per_class`` random samples of each class."""
    rng = np.random.default_rng(seed)
    labels_arr = np.asarray(labels)
    picks = [rng.permutation(np.flatnonzero(labels_arr == c))[:per_class] for c in np.unique(labels_arr)]
    return np.sort(np.concatenate(picks))


def run_study(data_root: Path, trials: int, per_class: int, epochs: int, seed: int = 42) -> dict:
    splits = load_kaggle_splits(data_root, seed=seed)
    subset = [splits.train[i] for i in balanced_subset([s.label for s in splits.train], per_class, seed)]
    base = TrainConfig(epochs=epochs, warmup_epochs=0, seed=seed)

    def objective(trial: optuna.Trial) -> float:
        config = replace(
            base,
            **{name: trial.suggest_categorical(name, choices) for name, choices in SEARCH_SPACE.items()},
            learning_rate=trial.suggest_float("learning_rate", 5e-4, 5e-3, log=True),
            dropout=trial.suggest_float("dropout", 0.1, 0.5),
        )
        started = time.time()
        x_train, y_train = load_arrays(subset, config.spec)
        x_val, y_val = load_arrays(splits.val, config.spec)
        model, _history = fit_classifier(config, x_train, y_train, x_val, y_val, verbose=0)
        predicted = np.asarray(model.predict(x_val.astype(np.float32), batch_size=64, verbose=0)).argmax(axis=1)
        trial.set_user_attr("seconds", round(time.time() - started, 1))
        trial.set_user_attr("parameters", int(model.count_params()))
        trial.set_user_attr("val_accuracy", float((predicted == y_val).mean()))
        return float(f1_score(y_val, predicted, average="macro"))

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    defaults = {"image_size": 128, "width": 32, "depth": 4, "learning_rate": 2e-3, "dropout": 0.3}
    study.enqueue_trial({**defaults, "crop": False})
    study.enqueue_trial({**defaults, "crop": True})
    started = time.time()
    study.optimize(objective, n_trials=trials)
    rows = [{"number": t.number, "params": t.params, "val_macro_f1": t.value, **t.user_attrs}
            for t in study.trials if t.value is not None]
    return {
        "task": "classifier variant comparison (Optuna TPE)",
        "objective": "validation macro-F1 after a short schedule on a class-balanced training subset",
        "budget": {"trials": trials, "train_images": len(subset), "per_class": per_class, "epochs": epochs,
                   "val_images": len(splits.val)},
        "base_config": asdict(base),
        "search_space": {**SEARCH_SPACE, "learning_rate": "log-uniform 5e-4..5e-3", "dropout": "uniform 0.1..0.5"},
        "crop_comparison": {"without_crop": rows[0]["val_macro_f1"], "with_crop": rows[1]["val_macro_f1"],
                            "note": "trials 0 and 1: identical default configuration, only the brain crop differs"},
        "trials": rows,
        "best_params": study.best_params,
        "best_value": study.best_value,
        "run": run_metadata(["training.tune_classifier", f"--trials={trials}", f"--per-class={per_class}",
                             f"--epochs={epochs}"], time.time() - started),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / "classifier_study.json")
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args(argv)
    result = run_study(args.data, args.trials, args.per_class, args.epochs)
    write_evaluation(result, args.out)
    print(f"best val macro-F1 {result['best_value']:.4f} with {result['best_params']}")


if __name__ == "__main__":
    main()
