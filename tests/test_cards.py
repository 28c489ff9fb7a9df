"""Contracts of core.models.cards: a card survives the write/read round trip as strict JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.models.cards import WEIGHTS_ENV, read_cards, read_evaluation, weights_dir, write_evaluation


def test_card_round_trip_turns_nan_into_null_and_numpy_scalars_into_numbers(tmp_path: Path) -> None:
    card = {
        "name": "classifier",
        "accuracy": np.float32(0.5),
        "count": np.int64(1311),
        "calibrated": np.bool_(True),
        "value_range": (0.0, 1.0),
        "dice": [0.8, float("nan"), np.float64("nan")],
        "bins": [{"accuracy": None, "ece": float("inf")}],
        "per_class": {"glioma": {"support": np.int32(300)}},
    }
    path = write_evaluation(card, tmp_path / "nested" / "classifier.json")
    assert path == tmp_path / "nested" / "classifier.json"
    # Strict JSON: other readers (browsers, jq) refuse NaN and Infinity.
    strict = json.loads(path.read_text(encoding="utf-8"), parse_constant=lambda name: 1 / 0)
    assert read_evaluation(path) == strict == {
        "name": "classifier",
        "accuracy": 0.5,
        "count": 1311,
        "calibrated": True,
        "value_range": [0.0, 1.0],
        "dice": [0.8, None, None],
        "bins": [{"accuracy": None, "ece": None}],
        "per_class": {"glioma": {"support": 300}},
    }
    assert type(strict["count"]) is int and type(strict["calibrated"]) is bool


def test_read_cards_returns_every_card_by_stem(tmp_path: Path) -> None:
    write_evaluation({"name": "presence", "threshold": np.float64(0.31)}, tmp_path / "presence.json")
    write_evaluation({"name": "segmenter"}, tmp_path / "segmenter.json")
    assert read_cards(tmp_path) == {"presence": {"name": "presence", "threshold": 0.31},
                                    "segmenter": {"name": "segmenter"}}
    assert read_cards(tmp_path / "empty") == {}
    assert not list(tmp_path.glob("*.tmp"))  # the atomic write leaves no temporary file behind


def test_weights_folder_can_be_redirected_by_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    write_evaluation({"name": "classifier"}, tmp_path / "classifier.json")
    assert weights_dir() == tmp_path
    assert list(read_cards()) == ["classifier"]
