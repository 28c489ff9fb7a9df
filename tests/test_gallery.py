"""Misclassified-image thumbnails: read from the data set when present, missing files skipped."""

import numpy as np
import pytest
from fake_cards import tumour_net_card, write_fake_cards

from core.models.cards import DATA_ENV
from core.present.gallery import dataset_present, dataset_root, load_thumbnail, misclassified_files


@pytest.fixture
def card(tmp_path, monkeypatch):
    weights, data = tmp_path / "weights", tmp_path / "data"
    weights.mkdir()
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    return write_fake_cards(weights, data)["tumour_net"]


def mistakes(card: dict) -> list[dict]:
    return card["type"]["test"]["kaggle_official"]["misclassified"]


def test_thumbnail_keeps_aspect_and_unit_range(card):
    image = load_thumbnail(dataset_root(card) / mistakes(card)[0]["file"], size=32)
    assert image.shape == (24, 32) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0


def test_missing_or_unreadable_files_give_none(tmp_path):
    assert load_thumbnail(tmp_path / "absent.png") is None
    (tmp_path / "bad.png").write_bytes(b"not an image")
    assert load_thumbnail(tmp_path / "bad.png") is None


def test_misclassified_files_resolve_relative_paths_skip_missing_and_put_confident_first(card):
    entries = misclassified_files(mistakes(card), dataset_root(card))
    assert [e["probability"] for e in entries] == [0.91, 0.62]
    assert entries[1]["path"].endswith("Testing/meningioma/b.png")
    assert len(misclassified_files(mistakes(card), dataset_root(card), limit=1)) == 1


def test_dataset_root_is_relative_to_the_data_folder(tmp_path, card):
    assert dataset_root(card) == tmp_path / "data" and dataset_present(card)
    assert not dataset_present(tumour_net_card(tmp_path / "elsewhere"))
    assert not dataset_present({}) and dataset_root({}) is None
