"""The one training loop every model uses: resumable per epoch, tracked, early-stopped, rebuilt in float32.

A run lives in a folder (``runs/<model>/``). After every epoch the loop writes, atomically, ``checkpoint/``: the
weights file (Keras stores the optimizer's variables in it too: its step counter is the learning-rate schedule's
position) and ``state.json`` with the per-epoch history (from which the early-stopping state follows), the summed wall
time of every part and the tracking run id. ``fit_resumable`` on a folder that holds a checkpoint continues after its
last epoch with the same total epoch count and schedule. Randomness is drawn per epoch from ``(seed, epoch)``: the
shuffling order, the augmentation layers and Keras' global seed, so a resumed epoch draws what the uninterrupted one
would have drawn.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from training.tracking import Tracker

CHECKPOINT = "checkpoint"
WEIGHTS_FILE = "model.weights.h5"
STATE_FILE = "state.json"
BEST_WEIGHTS = "best.weights.h5"
LOCK_FILE = ".training.lock"


class TrainingBusyError(RuntimeError):
    """Another training holds the runs folder: two trainings on two cores each get less than half the machine."""


@contextmanager
def exclusive_training(runs_dir: Path) -> Iterator[None]:
    """Hold the runs folder's training lock for the duration (released by the OS if the process dies)."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    with open(runs_dir / LOCK_FILE, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise TrainingBusyError(f"Another training is running (pid {handle.read().strip() or 'unknown'}); run "
                                    "one training at a time, e.g. through `python -m training.campaign`.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class LoopConfig:
    """The schedule of one run; stored in the checkpoint so a resume can refuse a different one."""

    epochs: int
    steps_per_epoch: int
    learning_rate: float
    monitor: str
    """Validation key that chooses the best epoch and drives early stopping (higher is better)."""
    warmup_epochs: int = 1
    weight_decay: float = 1e-4
    patience: int = 5
    seed: int = 42
    mixed_precision: bool = True


@dataclass
class RunState:
    """What survives between the parts of a run."""

    config: dict
    history: list[dict] = field(default_factory=list)
    wall_time_s: float = 0.0
    parts: int = 0
    tracking_run_id: str | None = None

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    def best_epoch(self, monitor: str) -> int:
        """1-based epoch with the highest ``monitor`` (the first one on ties); 0 before any epoch."""
        scores = [row[monitor] for row in self.history]
        return int(np.argmax(scores)) + 1 if scores else 0

    def should_stop(self, monitor: str, patience: int) -> bool:
        return self.epochs_done - self.best_epoch(monitor) >= patience


@dataclass
class FitResult:
    model: keras.Model
    """Best-epoch weights in a float32 model, whatever precision trained it."""
    history: dict[str, list[float]]
    best_epoch: int
    epochs_run: int
    wall_time_s: float
    parts: int
    stopped_early: bool


def make_schedule(config: LoopConfig) -> keras.optimizers.schedules.LearningRateSchedule:
    """Linear warm-up from a tenth of the peak, then cosine decay to zero at the last step of the last epoch."""
    steps = config.steps_per_epoch
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate / 10,
        decay_steps=steps * max(config.epochs - config.warmup_epochs, 1),
        warmup_target=config.learning_rate,
        warmup_steps=steps * config.warmup_epochs,
    )


def seed_epoch(seed: int, epoch: int) -> int:
    """The seed of one epoch's draws, the same whether the run was resumed or not."""
    keras.utils.set_random_seed(seed * 1000 + epoch)
    return seed * 1000 + epoch


def read_state(run_dir: Path) -> RunState | None:
    path = Path(run_dir) / CHECKPOINT / STATE_FILE
    return RunState(**json.loads(path.read_text())) if path.exists() else None


def _write_checkpoint(model: keras.Model, state: RunState, run_dir: Path) -> None:
    """Write the checkpoint beside the old one, then swap, so a kill mid-write leaves the previous epoch intact."""
    final, staging = run_dir / CHECKPOINT, run_dir / f"{CHECKPOINT}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model.save_weights(staging / WEIGHTS_FILE)
    (staging / STATE_FILE).write_text(json.dumps(asdict(state), indent=1))
    if final.exists():
        old = run_dir / f"{CHECKPOINT}.old"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old)
    else:
        os.replace(staging, final)


def _restore_checkpoint(model: keras.Model, run_dir: Path, steps_done: int) -> None:
    """Load weights and optimizer state; the optimizer must be built first or Keras skips its variables."""
    model.optimizer.build(model.trainable_variables)
    model.load_weights(run_dir / CHECKPOINT / WEIGHTS_FILE)
    if int(model.optimizer.iterations) != steps_done:
        raise ValueError(f"the checkpoint's optimizer is at step {int(model.optimizer.iterations)}, "
                         f"its history at step {steps_done}")


def fit_resumable(build_model: Callable[[], keras.Model], compile_model: Callable[[keras.Model, object], None],
                  train_data: Callable[[int], tf.data.Dataset], validate: Callable[[keras.Model], dict[str, float]],
                  config: LoopConfig, run_dir: Path, tracker: Tracker,
                  stop_after_epoch: int | None = None, time_budget_s: float | None = None,
                  verbose: int = 2) -> FitResult:
    """Train (or continue training) the model in ``run_dir`` and return its best epoch.

    Args:
        build_model: builds the untrained model under the current precision policy.
        compile_model: compiles a model with the optimizer it is given (losses and metrics are the caller's).
        train_data: epoch index -> that epoch's training batches (at least ``steps_per_epoch`` of them), seeded by
            :func:`seed_epoch` so the order is a function of the epoch alone.
        validate: model -> validation scores for the epoch logs; must contain ``config.monitor``.
        stop_after_epoch: end this part after that many epochs in all (a planned interruption, for tests); the
            checkpoint lets the next call continue.
        time_budget_s: end this part before an epoch that would not finish within this many seconds of the start
            (judged by the slowest epoch so far), so a session's end never kills a run mid-epoch.

    Raises:
        ValueError: ``run_dir`` holds a checkpoint of a different schedule.
        TrainingBusyError: another training holds the lock of ``run_dir``'s parent folder.
    """
    run_dir = Path(run_dir)
    with exclusive_training(run_dir.parent):
        return _fit(build_model, compile_model, train_data, validate, config, run_dir, tracker, stop_after_epoch,
                    time_budget_s, verbose)


def _fit(build_model, compile_model, train_data, validate, config: LoopConfig, run_dir: Path, tracker: Tracker,
         stop_after_epoch: int | None, time_budget_s: float | None, verbose: int) -> FitResult:
    started = time.time()
    state = read_state(run_dir)
    if state is not None and state.config != asdict(config):
        raise ValueError(f"{run_dir} holds a run with another configuration; resume it with the same flags "
                         f"or choose a new run folder")
    state = state or RunState(config=asdict(config))
    state.parts += 1
    earlier_parts_s = state.wall_time_s
    state.tracking_run_id = tracker.start(state.tracking_run_id)

    keras.mixed_precision.set_global_policy("mixed_bfloat16" if config.mixed_precision else "float32")
    keras.utils.set_random_seed(config.seed)
    model = build_model()
    optimizer = keras.optimizers.AdamW(make_schedule(config), weight_decay=config.weight_decay)
    compile_model(model, optimizer)
    if state.epochs_done:
        _restore_checkpoint(model, run_dir, state.history[-1]["step"])
        print(f"resuming {run_dir.name} after epoch {state.epochs_done} of {config.epochs}", flush=True)
    board = keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), update_freq="epoch")

    last_epoch = config.epochs if stop_after_epoch is None else min(config.epochs, stop_after_epoch)
    while (state.epochs_done < last_epoch and not state.should_stop(config.monitor, config.patience)
           and _time_left(state, started, time_budget_s)):
        epoch = state.epochs_done
        epoch_started = time.time()
        seed_epoch(config.seed, epoch)
        learning_rate = float(optimizer.learning_rate)
        fitted = model.fit(train_data(epoch), initial_epoch=epoch, epochs=epoch + 1,
                           steps_per_epoch=config.steps_per_epoch, callbacks=[board], verbose=verbose)
        logs = {key: float(values[-1]) for key, values in fitted.history.items()}
        logs.update(validate(model))
        logs.update(learning_rate=learning_rate, step=int(optimizer.iterations),
                    seconds=round(time.time() - epoch_started, 1))
        state.history.append(logs)
        if state.best_epoch(config.monitor) == state.epochs_done:
            model.save_weights(run_dir / BEST_WEIGHTS)
        state.wall_time_s = round(earlier_parts_s + time.time() - started, 1)
        _write_checkpoint(model, state, run_dir)
        tracker.log_metrics(logs, step=epoch + 1)
        print(f"epoch {epoch + 1}/{config.epochs}: {config.monitor} {logs[config.monitor]:.4f} "
              f"(best {state.best_epoch(config.monitor)}), {logs['seconds']:.0f} s", flush=True)
    state.wall_time_s = round(earlier_parts_s + time.time() - started, 1)
    _write_checkpoint(model, state, run_dir)

    keras.mixed_precision.set_global_policy("float32")
    final = build_model()
    final.load_weights(run_dir / BEST_WEIGHTS)
    history = {key: [row.get(key) for row in state.history] for key in state.history[0]} if state.history else {}
    return FitResult(final, history, state.best_epoch(config.monitor), state.epochs_done, state.wall_time_s,
                     state.parts, stopped_early=state.should_stop(config.monitor, config.patience))


def _time_left(state: RunState, started: float, time_budget_s: float | None) -> bool:
    """Whether one more epoch, as slow as the slowest so far, fits in the part's time budget."""
    if time_budget_s is None:
        return True
    slowest = max((row["seconds"] for row in state.history), default=0.0)
    return time.time() - started + slowest <= time_budget_s
