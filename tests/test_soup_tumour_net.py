"""The weight soup: an element-wise mean of networks, grown greedily while validation does not get worse."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from training.soup_tumour_net import Ingredient, greedy_soup, make_soup, mean_weights


def dense_net(bias: float) -> keras.Model:
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1, bias_initializer=keras.initializers.Constant(bias))(inputs))
    model.set_weights([np.full((2, 1), bias, np.float32), np.array([bias], np.float32)])
    return model


def score_of_bias(model: keras.Model) -> dict[str, float]:
    """A stand-in validator: the closer the bias is to 1, the better."""
    return {"val_score": -abs(float(model.get_weights()[1][0]) - 1.0)}


def ingredient(bias: float) -> Ingredient:
    model = dense_net(bias)
    return Ingredient(Path(f"runs/bias_{bias}"), {"run": {"command": f"train --bias={bias}"}}, model,
                      score_of_bias(model))


def test_mean_weights_averages_every_weight_of_networks_of_one_shape():
    averaged = mean_weights([dense_net(0.0), dense_net(1.0), dense_net(2.0)])
    np.testing.assert_allclose(averaged[0], np.ones((2, 1)))
    assert averaged[1].dtype == np.float32 and averaged[1][0] == pytest.approx(1.0)


def test_the_greedy_soup_keeps_an_ingredient_only_when_the_mean_with_it_scores_at_least_as_well():
    ingredients = sorted([ingredient(b) for b in (1.5, 0.4, 3.0)], key=lambda item: -item.score)
    soup, rows, scores = greedy_soup(ingredients, score_of_bias)
    assert [(row["run"], row["kept"]) for row in rows] == [("bias_1.5", True), ("bias_0.4", True),
                                                           ("bias_3.0", False)]
    assert soup.get_weights()[1][0] == pytest.approx(0.95)  # mean of 1.5 and 0.4; 3.0 would move it to 1.63
    assert scores["val_score"] == pytest.approx(-0.05)
    assert rows[1]["soup_val_score"] == pytest.approx(-0.05) and rows[0]["command"] == "train --bias=1.5"


def test_make_soup_writes_the_network_and_its_summary_where_asked_and_leaves_the_runs_alone(tmp_path):
    runs = []
    for bias in (0.4, 1.5):
        folder = tmp_path / f"bias_{bias}"
        folder.mkdir()
        dense_net(bias).save(folder / "tumour_net.keras")
        summary = {"config": {"image_size": 32, "seed": 1}, "history": {"val_score": [bias]}, "finished": True,
                   "run": {"command": f"train --bias={bias}"}}
        (folder / "result.json").write_text(json.dumps(summary))
        runs.append(folder)
    before = [(folder / "result.json").read_text() for folder in runs]
    summary = make_soup(runs, tmp_path / "run", tmp_path / "out", validate=score_of_bias)
    assert [(folder / "result.json").read_text() for folder in runs] == before
    assert json.loads((tmp_path / "run" / "result.json").read_text()) == json.loads(json.dumps(summary))
    soup = keras.saving.load_model(tmp_path / "out" / "tumour_net.keras")
    assert soup.get_weights()[1][0] == pytest.approx(0.95)
    assert summary["history"] == {"val_score": [1.5]} and summary["soup"]["lead_run"] == "bias_1.5"
    assert summary["soup"]["command"].endswith(f"{runs[0]} {runs[1]}")


def test_runs_of_different_architectures_make_no_soup(tmp_path):
    for size in (32, 64):
        (tmp_path / str(size)).mkdir()
        (tmp_path / str(size) / "result.json").write_text(json.dumps({"config": {"image_size": size}}))
    with pytest.raises(ValueError, match="differ in architecture"):
        make_soup([tmp_path / "32", tmp_path / "64"], tmp_path, tmp_path, validate=score_of_bias)
