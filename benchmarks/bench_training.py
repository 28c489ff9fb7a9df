"""Training throughput: the real input pipeline plus train step, against the same step on in-memory batches.

    python -m benchmarks.bench --training      # adds "training" to weights/benchmarks.json

For each trained model: images/s of (a) the batches exactly as the training script makes them (cached arrays ->
per-epoch shuffle -> paired geometric and intensity augmentation -> prefetch) through ``model.fit``, and (b) one of
those batches repeated from memory through the same compiled step, the machine's limit for that network; their
ratio says how much the pipeline costs. Also the seconds one validation pass takes, which every epoch adds, and the
synthetic step under the other precision policy and other batch sizes (what the defaults buy).
Run it with no training in progress (the two would share the two cores).
"""

from __future__ import annotations

import time
from dataclasses import replace

import keras
import tensorflow as tf

from training.loop import LoopConfig, make_schedule
from training.train_tumour_net import TumourNetConfig, build_model, compile_model, make_validator
from training.tumour_data import EpochBatches, SliceArrays, load_slices, make_splits

WARMUP_STEPS = 3


class _BatchClock(keras.callbacks.Callback):
    """Wall-clock time at the end of every train batch."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.times.append(time.perf_counter())


def _images_per_s(model: keras.Model, data: tf.data.Dataset, steps: int, batch_size: int) -> float:
    """Steady-state images/s: one ``fit`` over warm-up plus ``steps`` batches, timed from the end of the warm-up, so
    neither the pipeline's start (tracing its augmentation, filling the prefetch buffer) nor the step's compilation
    is counted."""
    clock = _BatchClock()
    model.fit(data.take(WARMUP_STEPS + steps), epochs=1, verbose=0, callbacks=[clock])
    return steps * batch_size / (clock.times[-1] - clock.times[WARMUP_STEPS - 1])


def _compiled(config: TumourNetConfig, steps: int) -> keras.Model:
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if config.mixed_precision else "float32")
    model = build_model(config)
    schedule = make_schedule(LoopConfig(epochs=config.epochs, steps_per_epoch=steps, learning_rate=config.learning_rate,
                                        monitor="val_score"))
    compile_model(config, model, keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay))
    return model


def synthetic_images_per_s(config: TumourNetConfig, train: SliceArrays, steps: int) -> float:
    """The train step alone, on one real batch repeated from memory."""
    model = _compiled(config, steps)
    x, y = next(iter(EpochBatches(train, config.batch_size).epoch(config.seed + 1)))
    return _images_per_s(model, tf.data.Dataset.from_tensors((x, y)).repeat(), steps, config.batch_size)


def profile_variants(config: TumourNetConfig, train: SliceArrays, steps: int) -> list[dict]:
    """The synthetic step under the other precision policy and other batch sizes, to show what the defaults buy."""
    variants = [replace(config, mixed_precision=not config.mixed_precision),
                *(replace(config, batch_size=size) for size in (16, 64) if size != config.batch_size)]
    rows = []
    for variant in variants:
        rows.append({"precision": "mixed_bfloat16" if variant.mixed_precision else "float32",
                     "batch_size": variant.batch_size,
                     "synthetic_images_per_s": round(synthetic_images_per_s(variant, train, steps), 1)})
    keras.mixed_precision.set_global_policy("float32")
    return rows


def measure_tumour_net(config: TumourNetConfig, train: SliceArrays, val: SliceArrays, steps: int) -> dict:
    """Pipeline and synthetic-batch images/s of the network's train step, and one validation pass in seconds."""
    model = _compiled(config, steps)
    batches = EpochBatches(train, config.batch_size)
    pipeline = _images_per_s(model, batches.epoch(config.seed).repeat(), steps, config.batch_size)
    x, y = next(iter(batches.epoch(config.seed + 1)))
    synthetic = _images_per_s(model, tf.data.Dataset.from_tensors((x, y)).repeat(), steps, config.batch_size)
    started = time.perf_counter()
    make_validator(val)(model)
    validation_s = time.perf_counter() - started
    keras.mixed_precision.set_global_policy("float32")
    return {"pipeline_images_per_s": round(pipeline, 1), "synthetic_images_per_s": round(synthetic, 1),
            "ratio": round(pipeline / synthetic, 3), "batch_size": config.batch_size, "image_size": config.image_size,
            "precision": "mixed_bfloat16" if config.mixed_precision else "float32", "steps_timed": steps,
            "validation_pass_s": round(validation_s, 1), "validation_slices": len(val.x),
            "epoch_estimate_s": round(len(train.x) / pipeline + validation_s, 1)}


def run_training_benchmark(steps: int = 20, val_limit: int | None = None) -> dict:
    """Measure every trained model (today: the tumour network) on its real cached training data."""
    config = TumourNetConfig(warm_start="")  # throughput only: the weights it starts from do not matter
    splits = make_splits(val_fraction=config.val_fraction, seed=config.seed)
    train = load_slices(splits.train, config.spec)
    val = load_slices(splits.val[:val_limit] if val_limit else splits.val, config.spec)
    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    return {"tumour_net": measure_tumour_net(config, train, val, steps)
            | {"device": device, "variants": profile_variants(config, train, steps)}}
