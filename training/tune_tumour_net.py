"""Compare tumour-network variants with a small Optuna study: short schedules on a subset, one MLflow run per trial.

    python -m training.tune_tumour_net [--trials 6] [--train-slices 1500] [--epochs 3] [--image-size 128]

Each trial trains through the one training loop (:mod:`training.loop`), so it checkpoints, resumes and is tracked like
a full run (run folders ``runs/tumour_net_trial-N``). The objective is the validation score the full run selects its
epoch by: the mean of validation macro-F1 and validation Dice. Writes weights/tumour_net_study.json.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import optuna

from core.models.cards import WEIGHTS_DIR, write_evaluation
from training.common import run_metadata
from training.tracking import Tracker
from training.train_tumour_net import MODEL_NAME, RUNS_DIR, TumourNetConfig, fit_tumour_net
from training.tumour_data import SliceArrays, load_slices, make_splits

STUDY_CARD = f"{MODEL_NAME}_study"
WIDTHS = (12, 16, 24)
"""Encoder base widths tried (the base configuration's own width is always among them)."""


def subset(arrays: SliceArrays, count: int, seed: int) -> SliceArrays:
    """A seeded random subset of ``count`` slices (all of them when there are fewer)."""
    keep = np.sort(np.random.default_rng(seed).permutation(len(arrays.x))[:count])
    return SliceArrays(arrays.x[keep], arrays.labels[keep], arrays.masks[keep], arrays.mask_known[keep],
                       [arrays.slices[i] for i in keep] if arrays.slices else [])


def run_study(train: SliceArrays, val: SliceArrays, base: TumourNetConfig, trials: int,
              runs_dir: Path = RUNS_DIR, track: bool = True) -> dict:
    """Optuna TPE over learning rate, dropout, mask-loss weight and width; trial 0 is ``base`` itself."""
    widths = sorted({*WIDTHS, base.base_filters})

    def objective(trial: optuna.Trial) -> float:
        config = replace(base, learning_rate=trial.suggest_float("learning_rate", 5e-4, 4e-3, log=True),
                         dropout=trial.suggest_float("dropout", 0.1, 0.5),
                         mask_loss_weight=trial.suggest_float("mask_loss_weight", 0.5, 2.0),
                         base_filters=trial.suggest_categorical("base_filters", widths))
        started = time.time()
        tracker = Tracker(f"{MODEL_NAME}-trial-{trial.number}", {"study": STUDY_CARD, "config": asdict(config)},
                          enabled=track)
        result = fit_tumour_net(config, train, val, runs_dir / f"{MODEL_NAME}_trial-{trial.number}", tracker,
                                verbose=0)
        tracker.finish()
        best = result.best_epoch - 1
        for key in ("val_macro_f1", "val_dice", "val_accuracy"):
            trial.set_user_attr(key, result.history[key][best])
        trial.set_user_attr("seconds", round(time.time() - started, 1))
        trial.set_user_attr("parameters", int(result.model.count_params()))
        return float(result.history["val_score"][best])

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=base.seed))
    study.enqueue_trial({"learning_rate": base.learning_rate, "dropout": base.dropout,
                         "mask_loss_weight": base.mask_loss_weight, "base_filters": base.base_filters})
    started = time.time()
    study.optimize(objective, n_trials=trials)
    rows = [{"number": t.number, "params": t.params, "val_score": t.value, **t.user_attrs}
            for t in study.trials if t.value is not None]
    return {
        "task": "tumour-network variant comparison (Optuna TPE)",
        "objective": "validation score (mean of macro-F1 and Dice) after a short schedule on a training subset",
        "budget": {"trials": trials, "train_slices": len(train.x), "val_slices": len(val.x), "epochs": base.epochs,
                   "image_size": base.image_size},
        "base_config": asdict(base),
        "search_space": {"learning_rate": "log-uniform 5e-4..4e-3", "dropout": "uniform 0.1..0.5",
                         "mask_loss_weight": "uniform 0.5..2", "base_filters": widths},
        "trials": rows, "best_params": study.best_params, "best_value": study.best_value,
        "run": run_metadata(["training.tune_tumour_net", f"--trials={trials}", f"--epochs={base.epochs}",
                             f"--image-size={base.image_size}", f"--train-slices={len(train.x)}"],
                            time.time() - started),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / f"{STUDY_CARD}.json")
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--train-slices", type=int, default=1500)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=128)
    args = parser.parse_args(argv)
    base = TumourNetConfig(image_size=args.image_size, epochs=args.epochs, warmup_epochs=0, patience=args.epochs,
                           warm_start="")
    splits = make_splits(val_fraction=base.val_fraction, seed=base.seed)
    train = subset(load_slices(splits.train, base.spec), args.train_slices, base.seed)
    val = load_slices(splits.val, base.spec)
    result = run_study(train, val, base, args.trials)
    write_evaluation(result, args.out)
    print(f"best validation score {result['best_value']:.4f} with {result['best_params']}")


if __name__ == "__main__":
    main()
