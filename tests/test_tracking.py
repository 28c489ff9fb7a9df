"""MLflow tracking: runs, per-epoch metrics and resumed parts land in one run; a dead server never stops training."""

from __future__ import annotations

import warnings

import pytest
from helpers import random_slice_arrays

pytest.importorskip("mlflow", reason="MLflow is a training dependency (requirements-train.txt)")

from mlflow.tracking import MlflowClient

from training.tracking import EXPERIMENT, Tracker
from training.train_tumour_net import TumourNetConfig, fit_tumour_net
from training.tune_tumour_net import run_study

CONFIG = TumourNetConfig(image_size=32, base_filters=8, depth=2, epochs=2, batch_size=16, patience=10, warm_start="",
                         mixed_precision=False)


@pytest.fixture
def store(tmp_path, monkeypatch) -> MlflowClient:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return MlflowClient(uri)


def _runs(client: MlflowClient) -> list:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return client.search_runs([experiment.experiment_id]) if experiment else []


def test_run_logs_params_and_every_epoch_and_a_resumed_part_continues_it(store, tmp_path) -> None:
    train, val = random_slice_arrays(48, 0), random_slice_arrays(16, 1)
    tracker = Tracker("tiny", {"config": {"epochs": 2}})
    fit_tumour_net(CONFIG, train, val, tmp_path / "run", tracker, stop_after_epoch=1, verbose=0)
    fit_tumour_net(CONFIG, train, val, tmp_path / "run", Tracker("tiny", {"config": {"epochs": 2}}), verbose=0)
    (run,) = _runs(store)
    assert run.data.params["config.epochs"] == "2"
    assert [m.step for m in store.get_metric_history(run.info.run_id, "val_score")] == [1, 2]


def test_unreachable_server_warns_once_and_training_goes_on(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    tracker = Tracker("tiny")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit_tumour_net(CONFIG, random_slice_arrays(32, 0), random_slice_arrays(16, 1), tmp_path / "run",
                                tracker, verbose=0)
    tracking_warnings = [w for w in caught if "MLflow tracking is off" in str(w.message)]
    assert len(tracking_warnings) == 1
    assert result.epochs_run == 2 and not tracker.enabled


def test_study_logs_one_run_per_trial(store, tmp_path) -> None:
    study = run_study(random_slice_arrays(32, 0), random_slice_arrays(16, 1), CONFIG, trials=2, runs_dir=tmp_path)
    assert len(study["trials"]) == 2 and study["best_value"] == max(t["val_score"] for t in study["trials"])
    assert sorted(run.info.run_name for run in _runs(store)) == ["tumour_net-trial-0", "tumour_net-trial-1"]
