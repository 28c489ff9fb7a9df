"""Contracts of training.data on a tiny generated Kaggle-style tree: splits, duplicates and training/app parity."""

from __future__ import annotations

import shutil
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from helpers import CLASS_NAMES, brain_slice, write_image

import training.tumour_data
from core.io.read import read_image
from core.models.preprocess import InputSpec, preprocess_slice
from training.data import list_samples, load_kaggle_splits, split_train_val
from training.tumour_data import LabelledSlice, load_slices

TRAINING_PER_CLASS, TESTING_PER_CLASS = 8, 3


@pytest.fixture
def kaggle_root(tmp_path: Path) -> Path:
    """``Training|Testing/<class>/*.jpg`` with planted byte-identical copies.

    Planted: in Training, ``copy-<n>.jpg`` repeats ``<class>-0.jpg`` of each class; in Testing, ``leak.jpg`` of
    glioma and notumor repeats a Training image of the same class.
    """
    root = tmp_path / "kaggle"
    seed = 0
    for split, count in (("Training", TRAINING_PER_CLASS), ("Testing", TESTING_PER_CLASS)):
        for name in CLASS_NAMES:
            for i in range(count):
                seed += 1
                write_image(root / split / name / f"{name}-{i}.jpg", brain_slice(40, 48, seed))
    for name in CLASS_NAMES:
        original = root / "Training" / name / f"{name}-0.jpg"
        for n in range(2):
            shutil.copy(original, original.with_name(f"copy-{n}.jpg"))
    for name in ("glioma", "notumor"):
        shutil.copy(root / "Training" / name / f"{name}-5.jpg", root / "Testing" / name / "leak.jpg")
    return root


def test_load_kaggle_splits_counts_every_file(kaggle_root: Path) -> None:
    splits = load_kaggle_splits(kaggle_root, val_fraction=0.25, seed=0)
    assert len(splits.train) + len(splits.val) == 4 * (TRAINING_PER_CLASS + 2)
    assert len(splits.test) == 4 * TESTING_PER_CLASS + 2
    assert {s.label for s in splits.val} == {0, 1, 2, 3}  # stratified: every class is validated
    # Labels follow the class folder order; glioma (0) and notumor (2) hold the planted leaks.
    assert Counter(s.label for s in splits.test) == {0: TESTING_PER_CLASS + 1, 1: TESTING_PER_CLASS,
                                                     2: TESTING_PER_CLASS + 1, 3: TESTING_PER_CLASS}


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_split_train_val_keeps_byte_identical_copies_on_one_side(kaggle_root: Path, seed: int) -> None:
    train, val = split_train_val(list_samples(kaggle_root, "Training"), val_fraction=0.25, seed=seed)
    side_by_md5 = defaultdict(set)
    for side, samples in (("train", train), ("val", val)):
        for sample in samples:
            side_by_md5[sample.md5].add(side)
    assert all(len(sides) == 1 for sides in side_by_md5.values())


def test_find_test_duplicates_finds_exactly_the_planted_copies(kaggle_root: Path) -> None:
    splits = load_kaggle_splits(kaggle_root, val_fraction=0.25, seed=0)
    found = {(Path(d["test_file"]).relative_to(kaggle_root).as_posix(),
              Path(d["training_file"]).relative_to(kaggle_root).as_posix()) for d in splits.test_duplicates}
    assert found == {("Testing/glioma/leak.jpg", "Training/glioma/glioma-5.jpg"),
                     ("Testing/notumor/leak.jpg", "Training/notumor/notumor-5.jpg")}
    deduplicated = {Path(s.path).relative_to(kaggle_root).as_posix() for s in splits.test_deduplicated}
    assert len(deduplicated) == len(splits.test) - 2
    assert not deduplicated & {"Testing/glioma/leak.jpg", "Testing/notumor/leak.jpg"}


def test_missing_class_folder_raises_file_not_found(kaggle_root: Path) -> None:
    shutil.rmtree(kaggle_root / "Testing" / "pituitary")
    with pytest.raises(FileNotFoundError, match="pituitary"):
        load_kaggle_splits(kaggle_root)


@pytest.mark.parametrize("spec", [InputSpec(size=32), InputSpec(size=48, channels=3, crop=True)],
                         ids=["plain", "crop"])
def test_training_loader_and_app_prepare_a_file_identically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: InputSpec
) -> None:
    monkeypatch.setattr(training.tumour_data, "CACHE_DIR", tmp_path / "cache")
    path = write_image(tmp_path / "scan.jpg", brain_slice(60, 84, seed=7))
    slices = [LabelledSlice(str(path), 2, None, True, "kaggle")]
    app = preprocess_slice(read_image(path.read_bytes(), "scan.jpg").pixels, spec)
    for _ in range(2):  # the first call fills the cache, the second reads it back
        arrays = load_slices(slices, spec, workers=1)
        assert arrays.x.shape == (1, *app.shape) and arrays.labels.tolist() == [2]
        # The cache stores float16: about 3 significant digits.
        np.testing.assert_allclose(arrays.x[0].astype(np.float32), app, atol=1e-3)
    assert len(list((tmp_path / "cache").glob("labelled-*.npz"))) == 1


def test_cache_key_changes_with_the_preprocessing_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(training.tumour_data, "CACHE_DIR", tmp_path / "cache")
    path = write_image(tmp_path / "scan.jpg", brain_slice(60, 84, seed=8))
    load_slices([LabelledSlice(str(path), 0, None, False, "kaggle")], InputSpec(size=32), workers=1)
    monkeypatch.setattr(training.tumour_data, "preprocessing_fingerprint", lambda: "edited preprocessing")
    load_slices([LabelledSlice(str(path), 0, None, False, "kaggle")], InputSpec(size=32), workers=1)
    assert len(list((tmp_path / "cache").glob("labelled-*.npz"))) == 2
