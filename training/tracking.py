"""Experiment tracking in MLflow that can never break a training run.

Runs go to ``$MLFLOW_TRACKING_URI`` when it is set, else to a local SQLite store in the git-ignored ``mlruns/`` at
the repository root, artifacts beside it (browse with ``mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db``;
MLflow 3 keeps its plain-file store in maintenance mode, so the local default is a database file). Any tracking
failure (MLflow not installed, server unreachable, disk full) prints one warning and turns the tracker off for the
rest of the run; training goes on.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

LOCAL_STORE = Path(__file__).resolve().parents[1] / "mlruns"
EXPERIMENT = "brain-mri-dashboard"
REQUEST_TIMEOUT_S = "5"
"""Seconds MLflow waits for a tracking server, so an unreachable one costs seconds, not minutes."""


def tracking_uri() -> str:
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    LOCAL_STORE.mkdir(exist_ok=True)
    return f"sqlite:///{LOCAL_STORE / 'mlflow.db'}"


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level with dotted keys ({"a": {"b": 1}} -> {"a.b": 1})."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


class Tracker:
    """One MLflow run per training run (resumed parts continue the same MLflow run).

    Args:
        run_name: the MLflow run name, e.g. ``tumour_net``.
        params: logged once when the run is created; nested dicts become dotted keys.
        enabled: False gives a tracker that records nothing (tests, benchmarks).
    """

    def __init__(self, run_name: str, params: Mapping[str, Any] | None = None, enabled: bool = True) -> None:
        self.run_name, self.params, self.enabled = run_name, dict(params or {}), enabled
        self._client: Any = None
        self._run_id: str | None = None

    def _guard(self, action: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        if not self.enabled:
            return None
        try:
            return function(*args, **kwargs)
        except Exception as error:  # tracking must never end a training run
            warnings.warn(f"MLflow tracking is off for this run: could not {action} at {tracking_uri()} "
                          f"({type(error).__name__}: {error})", RuntimeWarning, stacklevel=3)
            self.enabled = False
            return None

    @property
    def run_id(self) -> str | None:
        return self._run_id

    def start(self, run_id: str | None = None) -> str | None:
        """Create the MLflow run (or reopen ``run_id`` when resuming) and return its id."""
        self._run_id = self._guard("start a run", self._start, run_id)
        return self._run_id

    def _start(self, run_id: str | None) -> str:
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", REQUEST_TIMEOUT_S)
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        from mlflow.tracking import MlflowClient

        self._client = MlflowClient(tracking_uri())
        if run_id is not None:
            try:
                self._client.get_run(run_id)
                return run_id
            except Exception:  # the store was wiped or moved: start a new run
                pass
        experiment = self._client.get_experiment_by_name(EXPERIMENT)
        experiment_id = experiment.experiment_id if experiment else self._client.create_experiment(
            EXPERIMENT, artifact_location=None if os.environ.get("MLFLOW_TRACKING_URI")
            else (LOCAL_STORE / "artifacts").as_uri())
        run = self._client.create_run(experiment_id, run_name=self.run_name)
        for key, value in _flatten(self.params).items():
            self._client.log_param(run.info.run_id, key, str(value)[:500])
        return run.info.run_id

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log every finite number in ``metrics`` (nested dicts become dotted keys)."""
        if self._run_id is None:
            return
        numbers = {key: float(value) for key, value in _flatten(metrics).items()
                   if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value}
        self._guard("log metrics", self._log_metrics, numbers, step)

    def _log_metrics(self, numbers: dict[str, float], step: int | None) -> None:
        for key, value in numbers.items():
            self._client.log_metric(self._run_id, key, value, step=step or 0)

    def log_artifact(self, path: Path) -> None:
        if self._run_id is not None:
            self._guard("store an artifact", self._client.log_artifact, self._run_id, str(path))

    def finish(self) -> None:
        if self._run_id is not None:
            self._guard("end the run", self._client.set_terminated, self._run_id)
