"""Misclassified-image thumbnails: read from the data set when present, missing files skipped."""

import numpy as np
import pytest
from fake_cards import classifier_card, write_fake_cards

from core.gallery import dataset_present, load_thumbnail, misclassified_files


@pytest.fixture
def card(tmp_path):
    weights, data = tmp_path / "weights", tmp_path / "data"
    weights.mkdir()
    return write_fake_cards(weights, data)["classifier"]


def test_thumbnail_keeps_aspect_and_unit_range(card):
    image = load_thumbnail(card["test"]["official"]["misclassified"][0]["file"], size=32)
    assert image.shape == (24, 32) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0


def test_missing_or_unreadable_files_give_none(tmp_path):
    assert load_thumbnail(tmp_path / "absent.png") is None
    (tmp_path / "bad.png").write_bytes(b"not an image")
    assert load_thumbnail(tmp_path / "bad.png") is None


def test_misclassified_files_resolve_relative_paths_skip_missing_and_put_confident_first(card):
    entries = misclassified_files(card["test"]["official"]["misclassified"], card["data"]["root"])
    assert [e["probability"] for e in entries] == [0.91, 0.62]
    assert entries[1]["path"].endswith("Testing/meningioma/b.png")
    assert len(misclassified_files(card["test"]["official"]["misclassified"], card["data"]["root"], limit=1)) == 1


def test_dataset_present_follows_the_card_root(tmp_path, card):
    assert dataset_present(card)
    assert not dataset_present(classifier_card(tmp_path / "elsewhere"))
    assert not dataset_present({})
