"""Load the Kaggle 4-class brain-tumour MRI set, split it, find duplicates and cache preprocessed arrays.

Layout: ``<root>/Training|Testing/<class>/*``. Every image goes through ``core.io.read.read_image`` and
``core.models.preprocess.preprocess_slice``, exactly like an upload in the app.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedShuffleSplit

import core.io.raster
import core.io.read
import core.models.preprocess

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_ROOT = SHARED_DATA / "brain-tumor-mri-4class"
CLASS_NAMES = ("glioma", "meningioma", "notumor", "pituitary")
CACHE_DIR = Path(__file__).resolve().parents[1] / ".cache"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
DECODING_MODULES = (core.io.read, core.io.raster, core.models.preprocess)
"""The ``core`` modules whose code decides the pixels a model sees; their source is part of every cache key."""


def file_md5(path: str | Path | None) -> str | None:
    """MD5 of a file's bytes (None for no file), the identity cache keys use."""
    return None if path is None else hashlib.md5(Path(path).read_bytes()).hexdigest()


def preprocessing_fingerprint() -> str:
    """MD5 of the decoding and preprocessing code, so an edit there never reuses arrays cached before it."""
    return hashlib.md5(b"".join(Path(module.__file__).read_bytes() for module in DECODING_MODULES)).hexdigest()


@dataclass(frozen=True)
class Sample:
    """One labelled file; ``md5`` identifies byte-identical copies."""

    path: str
    label: int
    md5: str


def list_samples(root: Path, split: str, class_names: Sequence[str] = CLASS_NAMES) -> list[Sample]:
    """All image files of ``split`` ("Training" or "Testing"), sorted for reproducibility."""
    samples = []
    for label, name in enumerate(class_names):
        folder = Path(root) / split / name
        if not folder.is_dir():
            raise FileNotFoundError(f"missing class folder {folder}")
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                samples.append(Sample(str(path), label, hashlib.md5(path.read_bytes()).hexdigest()))
    return samples


def split_train_val(samples: Sequence[Sample], val_fraction: float = 0.1, seed: int = 42) -> tuple[list, list]:
    """Stratified train/validation split of ``Training`` in which byte-identical copies stay on one side.

    Splitting unique contents (not files) keeps duplicates from leaking between training and validation.
    """
    first_by_md5: dict[str, Sample] = {}
    for sample in samples:
        first_by_md5.setdefault(sample.md5, sample)
    unique = list(first_by_md5.values())
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=val_fraction, random_state=seed)
    _train_idx, val_idx = next(splitter.split(np.zeros(len(unique)), [s.label for s in unique]))
    val_md5 = {unique[i].md5 for i in val_idx}
    return [s for s in samples if s.md5 not in val_md5], [s for s in samples if s.md5 in val_md5]


def find_test_duplicates(train: Sequence[Sample], test: Sequence[Sample]) -> list[dict]:
    """Testing files that are byte-identical to a Training file, with the Training copy they repeat."""
    train_by_md5: dict[str, str] = {}
    for sample in train:
        train_by_md5.setdefault(sample.md5, sample.path)
    return [
        {"test_file": s.path, "training_file": train_by_md5[s.md5]} for s in test if s.md5 in train_by_md5
    ]


@dataclass(frozen=True)
class KaggleSplits:
    """Training split into train/validation, the official test split and its duplicates of Training."""

    train: list[Sample]
    val: list[Sample]
    test: list[Sample]
    test_duplicates: list[dict]

    @property
    def test_deduplicated(self) -> list[Sample]:
        copies = {d["test_file"] for d in self.test_duplicates}
        return [s for s in self.test if s.path not in copies]


def load_kaggle_splits(root: Path = DEFAULT_ROOT, val_fraction: float = 0.1, seed: int = 42) -> KaggleSplits:
    """The splits every classifier script uses; model selection never sees ``Testing``."""
    training = list_samples(root, "Training")
    test = list_samples(root, "Testing")
    train, val = split_train_val(training, val_fraction, seed)
    return KaggleSplits(train, val, test, find_test_duplicates(training, test))
