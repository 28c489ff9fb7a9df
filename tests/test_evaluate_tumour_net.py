"""Rules of training.evaluate_tumour_net that need no data set: flip averaging chosen on validation, stage records."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from helpers import random_slice_arrays

from training.architectures import build_tumour_net
from training.evaluate_tumour_net import FLIP_MARGIN, choose_flip, earlier_stages
from training.train_tumour_net import EARLIER_STAGES, predict_logits_and_masks


@pytest.fixture(scope="module")
def network() -> keras.Model:
    keras.utils.set_random_seed(0)
    return build_tumour_net(32, base=8, depth=2)


def test_flip_is_adopted_exactly_when_it_beats_the_plain_score_by_the_margin(network):
    arrays = random_slice_arrays(24, 0)
    section, outputs = choose_flip(network, arrays)
    plain, flipped = (section["validation"][name]["val_score"] for name in ("plain", "flip_averaged"))
    assert section["adopted"] == (flipped >= plain + FLIP_MARGIN)
    expected = predict_logits_and_masks(network, arrays.x, flip=section["adopted"])
    np.testing.assert_allclose(outputs.logits, expected[0], atol=1e-5)


def test_flip_averaged_predictions_are_mirror_invariant(network):
    x = random_slice_arrays(4, 1).x
    logits, masks = predict_logits_and_masks(network, x, flip=True)
    mirrored_logits, mirrored_masks = predict_logits_and_masks(network, x[:, :, ::-1], flip=True)
    np.testing.assert_allclose(logits, mirrored_logits, atol=1e-4)
    np.testing.assert_allclose(masks, mirrored_masks[:, :, ::-1], atol=1e-4)


def test_earlier_stages_are_read_from_their_own_cards_oldest_first_with_todays_commands(tmp_path):
    card = {"config": {"image_size": 192}, "training": {"epochs_run": 24, "wall_time_s": 5070.0},
            "run": {"command": "python -m training.train_tumour_net --epochs=24"},
            "type": {"test": {"kaggle_official": {"accuracy": 0.9695}}}}
    (tmp_path / "tumour_net_192.json").write_text(json.dumps(card))
    second = {"config": {"image_size": 224, "pooling": "mask", "warm_start": "runs/tumour_net_192/tumour_net.keras"}}
    (tmp_path / "tumour_net_224.json").write_text(json.dumps(second))
    older, newer = earlier_stages({"warm_start": "runs/tumour_net_224/tumour_net.keras"}, tmp_path)
    assert (newer["name"], newer["image_size"], newer["pooling"]) == ("tumour_net_224", 224, "mask")
    assert newer["command"].endswith(" ".join(EARLIER_STAGES["tumour_net_224"]))
    assert older["image_size"] == 192 and older["pooling"] == "gap" and older["epochs_run"] == 24
    assert older["results"]["type accuracy, Kaggle official test"] == 0.9695
    assert older["command"].endswith(" ".join(EARLIER_STAGES["tumour_net_192"]))
    assert older["recorded_command"] == card["run"]["command"]
    assert earlier_stages({"warm_start": ""}, tmp_path) == []
    assert earlier_stages({"warm_start": "runs/elsewhere/tumour_net.keras"}, tmp_path) == []
