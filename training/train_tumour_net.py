"""Train the shared-encoder tumour network (type head + segmentation decoder) and write weights/tumour_net.keras.

    python -m training.train_tumour_net [--epochs 24] [--image-size 192]       # resumes runs/tumour_net if present
    python -m training.evaluate_tumour_net                                     # then: card, thresholds, test results

Every slice trains the type head; slices with a known mask (BRISC, LGG, Kaggle ``notumor``) also train the decoder,
the others contribute no mask loss. The run folder keeps a per-epoch checkpoint, so re-running the same command after
an interruption continues at the next epoch with the same schedule.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core.models.cards import WEIGHTS_DIR, write_evaluation
from core.models.keras_network import keras_runner
from core.models.metrics import dice_score
from core.models.preprocess import InputSpec
from core.models.registry import flip_average
from training.architectures import NETWORK_LAYERS, build_tumour_net
from training.brain_other_data import validation_slices
from training.common import add_config_arguments, cli_overrides, config_from_args, run_metadata
from training.data import CLASS_NAMES, DEFAULT_ROOT
from training.loop import FitResult, LoopConfig, fit_resumable, seed_epoch
from training.tracking import Tracker
from training.tumour_data import BRISC_ROOT, LGG_ROOT, EpochBatches, SliceArrays, load_slices, make_splits

REPO_ROOT = Path(__file__).resolve().parents[1]
RUNS_DIR = REPO_ROOT / "runs"
MODEL_NAME = "tumour_net"
PLAIN = ("--warmup-epochs=1", "--appearance=0", "--other-validation=false")
"""What the stages before the shipped one share and the defaults no longer say: a warm-up epoch, no scanner-like
augmentation, the monitor on Kaggle and LGG validation only."""
EARLIER_STAGES = {
    "tumour_net_192": ("--image-size=192", "--pooling=gap", "--warm-start=", "--learning-rate=0.002", "--epochs=24",
                       "--patience=6", *PLAIN, "--run-dir=runs/tumour_net_192", "--out=runs/tumour_net_192"),
    "tumour_net_224": ("--warm-start=runs/tumour_net_192/tumour_net.keras", "--learning-rate=0.001", "--epochs=18",
                       "--patience=18", *PLAIN, "--run-dir=runs/tumour_net_224", "--out=runs/tumour_net_224"),
    "tumour_net_stage3": ("--warm-start=runs/tumour_net_224/tumour_net.keras", "--learning-rate=0.0003", "--epochs=12",
                          "--patience=6", *PLAIN, "--run-dir=runs/tumour_net_stage3", "--out=runs/tumour_net_stage3"),
}
"""The stages before the shipped one, by run folder, in order, as flags over the defaults. Stage 1: 24 epochs from
scratch at 192 px with a plain global-average type head. Stage 2 (progressive resizing): 224 px with the mask-pooled
type head, every weight but the last dense layer copied from stage 1; its first epochs at the peak learning rate score
below the seed, so it never stops early (patience = epochs). Stage 3: stage 2 fine-tuned, type head included, at a
third of its learning rate (shipped until stage 4)."""
WARM_START = "runs/tumour_net_stage3/tumour_net.keras"
"""Stage 4 (the defaults, the shipped network) fine-tunes stage 3's network (path relative to the repository) for 3
epochs at a low learning rate (5e-5, no warm-up: in both earlier appearance experiments the best epoch was the one at
the lowest rate) with scanner-like augmentation at half strength (``--appearance``, :mod:`training.appearance`, a
scale of its probabilities) and the epoch chosen on a monitor that includes the ``brain-mri-other`` validation sources
(``--other-validation``, :mod:`training.brain_other_data`). Its run was started from ``weights/tumour_net.keras`` while
that file was stage 3's network; the README gives the commands of the experiments before it
(``weights/experiments/``)."""


@dataclass(frozen=True)
class TumourNetConfig:
    """Every knob of a run; stored in the card and in the checkpoint (a resume must use the same values)."""

    image_size: int = 224
    base_filters: int = 16
    depth: int = 4
    dropout: float = 0.3
    pooling: str = "mask"
    warm_start: str = WARM_START
    learning_rate: float = 5e-5
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    mask_loss_weight: float = 1.0
    batch_size: int = 32
    epochs: int = 3
    warmup_epochs: int = 0
    patience: int = 3
    val_fraction: float = 0.1
    seed: int = 42
    mixed_precision: bool = True
    appearance: float = 0.5
    other_validation: bool = True

    @property
    def spec(self) -> InputSpec:
        return InputSpec(size=self.image_size)


def masked_dice_bce_loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Per-slice soft Dice + BCE, zero for slices whose mask is unknown (channel 1 of ``y_true`` is that flag)."""
    truth, known = tf.cast(y_true[..., :1], tf.float32), tf.cast(y_true[:, 0, 0, 1], tf.float32)
    y_pred = tf.cast(y_pred, tf.float32)
    intersection = tf.reduce_sum(truth * y_pred, axis=(1, 2, 3))
    total = tf.reduce_sum(truth, axis=(1, 2, 3)) + tf.reduce_sum(y_pred, axis=(1, 2, 3))
    dice = (2.0 * intersection + 1.0) / (total + 1.0)
    bce = tf.reduce_mean(keras.losses.binary_crossentropy(truth, y_pred), axis=(1, 2))
    return known * (1.0 - dice + bce)


def predict_logits_and_masks(model: keras.Model, x: np.ndarray, batch_size: int = 64,
                             flip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Type logits (N x 4) and mask probabilities (N x S x S) of the network for an array of model inputs;
    ``flip`` averages each slice with its mirror image as the app does when the card adopts it
    (:func:`core.models.registry.flip_average`)."""
    run = keras_runner(model, NETWORK_LAYERS)
    logits, masks = [], []
    for start in range(0, len(x), batch_size):
        batch = np.asarray(x[start:start + batch_size], dtype=np.float32)
        out = flip_average(run, batch) if flip else run(batch)
        logits.append(np.asarray(out["logits"], dtype=np.float32))
        masks.append(np.asarray(out["mask"][..., 0], dtype=np.float32))
    return np.concatenate(logits), np.concatenate(masks)


def validation_scores(val: SliceArrays, logits: np.ndarray, mask_probs: np.ndarray) -> dict[str, float]:
    """Validation accuracy, macro-F1, Dice on tumour slices with a known mask, and their mean (the monitor)."""
    from sklearn.metrics import f1_score

    has_mask = val.mask_known & val.masks.reshape(len(val.masks), -1).any(axis=1)
    predicted = logits.argmax(axis=1)
    dice = [dice_score(t[..., 0], p >= 0.5) for t, p in zip(val.masks[has_mask], mask_probs[has_mask], strict=True)]
    scores = {"val_accuracy": float((predicted == val.labels).mean()),
              "val_macro_f1": float(f1_score(val.labels, predicted, average="macro")),
              "val_dice": float(np.nanmean(dice))}
    scores["val_score"] = (scores["val_macro_f1"] + scores["val_dice"]) / 2
    return scores


OTHER_WEIGHT = 1 / 3
"""Share of the validation score that the other collections' slices carry (the rest: Kaggle, BRISC and LGG)."""


def make_validator(val: SliceArrays, other: SliceArrays | None = None) -> Callable[[keras.Model], dict[str, float]]:
    """Model -> :func:`validation_scores` on ``val``; with ``other`` (slices of other collections) also their
    ``other_*`` scores, and the monitor becomes the weighted mean of the two scores (:data:`OTHER_WEIGHT`). The other
    collections hold two classes only, so accuracy stands in for macro-F1 in their score."""
    def validate(model: keras.Model) -> dict[str, float]:
        scores = validation_scores(val, *predict_logits_and_masks(model, val.x))
        if other is None:
            return scores
        extra = validation_scores(other, *predict_logits_and_masks(model, other.x))
        extra["val_score"] = (extra["val_accuracy"] + extra["val_dice"]) / 2
        scores |= {f"other_{name.removeprefix('val_')}": value for name, value in extra.items()}
        scores["val_score"] = (1 - OTHER_WEIGHT) * scores["val_score"] + OTHER_WEIGHT * extra["val_score"]
        return scores

    return validate


def loop_config(config: TumourNetConfig, n_train: int) -> LoopConfig:
    return LoopConfig(epochs=config.epochs, steps_per_epoch=n_train // config.batch_size,
                      learning_rate=config.learning_rate, monitor="val_score", warmup_epochs=config.warmup_epochs,
                      weight_decay=config.weight_decay, patience=config.patience, seed=config.seed,
                      mixed_precision=config.mixed_precision)


def build_model(config: TumourNetConfig) -> keras.Model:
    """The untrained network, or one holding the weights of ``config.warm_start`` (see :func:`copy_weights`)."""
    model = build_tumour_net(config.image_size, config.base_filters, config.depth, config.dropout, config.pooling)
    if config.warm_start:
        source = REPO_ROOT / config.warm_start
        if not source.is_file():
            raise FileNotFoundError(f"{config.warm_start} is missing: train the earlier stages first "
                                    "(python -m training.campaign runs them in order)")
        copy_weights(keras.saving.load_model(source, compile=False), model)
    return model


def copy_weights(source: keras.Model, target: keras.Model) -> None:
    """Copy every weighted layer of ``source`` into ``target``, matched in creation order.

    Convolutions are size-independent, so a network trained at one input size seeds another (progressive resizing).
    The type head's ``logits`` are copied when both networks pool alike; otherwise they start afresh, as their input
    width depends on the pooling.

    Raises:
        ValueError: the two networks' weighted layers differ in kind or shape (other than ``logits``).
    """
    def weighted(model: keras.Model) -> list[keras.layers.Layer]:
        return [layer for layer in model.layers if layer.weights and layer.name != "logits"]

    def shapes(layer: keras.layers.Layer) -> list[tuple]:
        return [tuple(w.shape) for w in layer.weights]

    pairs = list(zip(weighted(source), weighted(target), strict=True))
    for old, new in pairs:
        if type(old) is not type(new) or shapes(old) != shapes(new):
            raise ValueError(f"cannot copy {old.name} into {new.name}: the architectures differ")
    old_head, new_head = source.get_layer("logits"), target.get_layer("logits")
    if shapes(old_head) == shapes(new_head):
        pairs.append((old_head, new_head))
    for old, new in pairs:
        new.set_weights(old.get_weights())


def compile_model(config: TumourNetConfig, model: keras.Model, optimizer: object) -> None:
    """Both losses; the mask loss is zero for slices without a known mask."""
    model.compile(optimizer=optimizer,
                  loss={"type": keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
                        "mask": masked_dice_bce_loss},
                  loss_weights={"type": 1.0, "mask": config.mask_loss_weight})


def fit_tumour_net(config: TumourNetConfig, train: SliceArrays, val: SliceArrays, run_dir: Path,
                   tracker: Tracker, stop_after_epoch: int | None = None, time_budget_s: float | None = None,
                   verbose: int = 2, validate: Callable[[keras.Model], dict[str, float]] | None = None,
                   other: SliceArrays | None = None) -> FitResult:
    """Train (or resume) with AdamW + warm-up/cosine, label smoothing and the masked Dice+BCE loss.

    ``validate`` replaces the default validation scores (:func:`make_validator` on ``val`` and ``other``).
    """
    batches = EpochBatches(train, config.batch_size, appearance=config.appearance)

    def train_data(epoch: int) -> tf.data.Dataset:
        return batches.epoch(seed_epoch(config.seed, epoch))

    return fit_resumable(lambda: build_model(config), lambda model, optimizer: compile_model(config, model, optimizer),
                         train_data, validate or make_validator(val, other),
                         loop_config(config, len(train.x)),
                         run_dir, tracker, stop_after_epoch=stop_after_epoch, time_budget_s=time_budget_s,
                         verbose=verbose)


def train_tumour_net(config: TumourNetConfig, kaggle_root: Path = DEFAULT_ROOT, brisc_root: Path = BRISC_ROOT,
                     lgg_root: Path = LGG_ROOT, run_dir: Path = RUNS_DIR / MODEL_NAME, out_dir: Path = WEIGHTS_DIR,
                     stop_after_epoch: int | None = None, time_budget_s: float | None = None) -> FitResult:
    """Load the splits, train or resume, and save the best epoch's float32 model to ``out_dir/tumour_net.keras``.

    The run summary (history, epochs, wall time over every resumed part) goes to ``run_dir/result.json`` for
    :mod:`training.evaluate_tumour_net`, which writes the card.
    """
    splits = make_splits(kaggle_root, brisc_root, lgg_root, config.val_fraction, seed=config.seed)
    train, val = load_slices(splits.train, config.spec), load_slices(splits.val, config.spec)
    other = load_slices(validation_slices(), config.spec) if config.other_validation else None
    tracker = Tracker(MODEL_NAME, {"config": asdict(config), "train_slices": len(train.x), "val_slices": len(val.x)})
    result = fit_tumour_net(config, train, val, run_dir, tracker, stop_after_epoch, time_budget_s, other=other)
    if result.epochs_run >= config.epochs or result.stopped_early:
        out_dir.mkdir(parents=True, exist_ok=True)
        result.model.save(out_dir / f"{MODEL_NAME}.keras")
        tracker.log_artifact(out_dir / f"{MODEL_NAME}.keras")
    summary = {"config": asdict(config), "history": result.history, "best_epoch": result.best_epoch,
               "epochs_run": result.epochs_run, "parts": result.parts, "stopped_early": result.stopped_early,
               "finished": result.epochs_run >= config.epochs or result.stopped_early,
               "tracking_run_id": tracker.run_id, "class_names": list(CLASS_NAMES),
               "counts": {"train": len(train.x), "val": len(val.x), "other_val": 0 if other is None else len(other.x)},
               "run": run_metadata(["training.train_tumour_net", *cli_overrides(config)], result.wall_time_s)}
    write_evaluation(summary, run_dir / "result.json")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kaggle", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--brisc", type=Path, default=BRISC_ROOT)
    parser.add_argument("--lgg", type=Path, default=LGG_ROOT)
    parser.add_argument("--run-dir", type=Path, default=RUNS_DIR / MODEL_NAME)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--stop-after-epoch", type=int, help="end this part after that many epochs in all")
    parser.add_argument("--time-budget-min", type=float, help="end this part before an epoch that would overrun it")
    add_config_arguments(parser, TumourNetConfig)
    args = parser.parse_args(argv)
    config = config_from_args(args, TumourNetConfig())
    budget = None if args.time_budget_min is None else 60 * args.time_budget_min
    result = train_tumour_net(config, args.kaggle, args.brisc, args.lgg, args.run_dir, args.out,
                              args.stop_after_epoch, budget)
    print(f"{result.epochs_run} epochs, best {result.best_epoch}, {result.wall_time_s / 60:.1f} min over "
          f"{result.parts} part(s)")


if __name__ == "__main__":
    main()
