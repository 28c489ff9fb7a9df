"""The shared training loop: a run killed mid-way resumes to the same epochs, history and schedule (issue 9)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import random_slice_arrays

from training.loop import CHECKPOINT, STATE_FILE, read_state
from training.tracking import Tracker
from training.train_tumour_net import TumourNetConfig, fit_tumour_net, make_validator

CONFIG = TumourNetConfig(image_size=32, base_filters=8, depth=2, epochs=4, batch_size=16, patience=10, warm_start="",
                         mixed_precision=False)


class Killed(Exception):
    """Stands in for the session ending while epoch 3 trains."""


@pytest.fixture(scope="module")
def data() -> tuple:
    return random_slice_arrays(64, 0), random_slice_arrays(16, 1)


def _fit(data, run_dir, validate=None):
    train, val = data
    return fit_tumour_net(CONFIG, train, val, run_dir, Tracker("test", enabled=False), verbose=0, validate=validate)


def test_killed_run_resumes_to_the_uninterrupted_schedule_and_history(data, tmp_path):
    whole = _fit(data, tmp_path / "whole")

    real_validate = make_validator(data[1])
    calls = {"n": 0}

    def validate_then_die_in_epoch_3(model):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Killed
        return real_validate(model)

    with pytest.raises(Killed):
        _fit(data, tmp_path / "split", validate_then_die_in_epoch_3)
    before_kill = read_state(tmp_path / "split")
    assert before_kill.epochs_done == 2
    resumed = _fit(data, tmp_path / "split")

    assert resumed.epochs_run == whole.epochs_run == 4
    assert resumed.parts == 2
    # The schedule: the same optimizer step and learning rate at the start of every epoch.
    assert resumed.history["step"] == whole.history["step"] == [4, 8, 12, 16]
    assert resumed.history["learning_rate"] == whole.history["learning_rate"]
    # One continuous history: the first two epochs are those trained before the kill.
    assert resumed.history["loss"][:2] == [row["loss"] for row in before_kill.history]
    assert all(np.isfinite(resumed.history["loss"]))


def test_resume_refuses_a_different_schedule(data, tmp_path):
    train, val = data
    fit_tumour_net(CONFIG, train, val, tmp_path, Tracker("test", enabled=False), stop_after_epoch=1, verbose=0)
    state = json.loads((tmp_path / CHECKPOINT / STATE_FILE).read_text())
    assert state["config"]["epochs"] == 4
    from dataclasses import replace

    with pytest.raises(ValueError, match="another configuration"):
        fit_tumour_net(replace(CONFIG, epochs=6), train, val, tmp_path, Tracker("test", enabled=False), verbose=0)


def test_wall_time_sums_over_parts(data, tmp_path):
    train, val = data
    first = fit_tumour_net(CONFIG, train, val, tmp_path, Tracker("test", enabled=False), stop_after_epoch=2,
                           verbose=0)
    second = fit_tumour_net(CONFIG, train, val, tmp_path, Tracker("test", enabled=False), verbose=0)
    assert second.wall_time_s > first.wall_time_s > 0
    assert second.epochs_run == 4 and second.parts == 2


def test_other_collections_carry_a_third_of_the_monitor(data):
    from training.architectures import build_tumour_net
    from training.train_tumour_net import OTHER_WEIGHT

    model = build_tumour_net(32, 8, 2, 0.0, "mask")
    plain = make_validator(data[1])(model)
    scores = make_validator(data[1], data[0])(model)
    other = (scores["other_accuracy"] + scores["other_dice"]) / 2
    assert scores["val_accuracy"] == plain["val_accuracy"]
    assert scores["other_score"] == pytest.approx(other)
    assert scores["val_score"] == pytest.approx((1 - OTHER_WEIGHT) * plain["val_score"] + OTHER_WEIGHT * other)
