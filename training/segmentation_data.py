"""Slices with tumour masks: BRISC 2025 (T1-contrast, Kaggle images) and LGG kaggle_3m (FLAIR, 110 patients).

Splits: BRISC is stratified by tumour class and plane (no patient IDs exist); LGG is split by patient, never by slice.
Images pass through ``core.preprocess.preprocess_slice`` like uploads; masks are thresholded at 127 and resized with
nearest-neighbour so they stay binary.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.model_selection import train_test_split

from core.errors import InputError
from core.io import read_image
from core.preprocess import InputSpec, preprocess_slice, resize
from training.data import CACHE_DIR

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BRISC_ROOT = SHARED_DATA / "brisc2025-seg"
LGG_ROOT = SHARED_DATA / "lgg-kaggle_3m"
MASK_THRESHOLD = 127


@dataclass(frozen=True)
class MaskedSlice:
    """An image file, its mask file (None for a slice known to be tumour-free), and grouping tags."""

    image: str
    mask: str | None
    source: str  # "brisc", "lgg" or "kaggle_notumor"
    group: str  # BRISC: tumour class (gl/me/pi); LGG: patient id
    plane: str = ""  # BRISC: ax/co/sa
    has_tumour: bool = True


def list_brisc(root: Path = BRISC_ROOT) -> list[MaskedSlice]:
    """All BRISC train pairs; the name ``brisc2025_train_00001_gl_ax_t1`` gives class and plane.

    Images are resolved through ``train/image_sources.csv`` to the Kaggle files they are, because some entries of
    ``train/images`` are stored as plain-text link targets rather than symbolic links.
    """
    kaggle_root = Path(root).parent / "brain-tumor-mri-4class"
    with open(Path(root) / "train" / "image_sources.csv", newline="") as handle:
        sources = {row["brisc_image"]: row["kaggle_file"] for row in csv.DictReader(handle)}
    slices = []
    for name in sorted(sources):
        stem = Path(name).stem
        _, _, _, cls, plane, _ = stem.split("_")
        mask = Path(root) / "train" / "masks" / f"{stem}.png"
        slices.append(MaskedSlice(str(kaggle_root / sources[name]), str(mask), "brisc", cls, plane))
    return slices


def list_lgg(root: Path = LGG_ROOT) -> list[MaskedSlice]:
    """All LGG slices from ``slices.csv`` (mask files exist for every slice; empty ones are tumour-free)."""
    with open(Path(root) / "slices.csv", newline="") as handle:
        return [MaskedSlice(str(Path(root) / row["image"]), str(Path(root) / row["mask"]), "lgg", row["patient_id"],
                            has_tumour=row["has_tumor"] == "1")
                for row in csv.DictReader(handle)]


def split_brisc(slices: Sequence[MaskedSlice], val_fraction: float, seed: int) -> tuple[list, list]:
    """Train/validation split stratified by tumour class and plane."""
    strata = [f"{s.group}_{s.plane}" for s in slices]
    train, val = train_test_split(list(slices), test_size=val_fraction, random_state=seed, stratify=strata)
    return train, val


def split_by_patient(slices: Sequence[MaskedSlice], val_fraction: float, seed: int) -> tuple[list, list]:
    """Train/validation split of whole patients, so no patient has slices on both sides."""
    patients = sorted({s.group for s in slices})
    rng = np.random.default_rng(seed)
    val_patients = set(rng.permutation(patients)[: round(val_fraction * len(patients))])
    return [s for s in slices if s.group not in val_patients], [s for s in slices if s.group in val_patients]


def read_mask(path: str | None, shape: tuple[int, int]) -> np.ndarray:
    """A mask file as H x W uint8 in {0, 1} (all zeros when ``path`` is None)."""
    if path is None:
        return np.zeros(shape, dtype=np.uint8)
    with Image.open(path) as image:
        return (np.asarray(image.convert("L")) > MASK_THRESHOLD).astype(np.uint8)


def _load_pair(args: tuple[MaskedSlice, InputSpec]) -> tuple[np.ndarray, np.ndarray] | None:
    item, spec = args
    try:
        pixels = read_image(Path(item.image).read_bytes(), item.image).pixels
    except InputError:
        return None  # e.g. the all-black slices at the ends of LGG volumes, which the app refuses too
    mask = read_mask(item.mask, pixels.shape)
    return preprocess_slice(pixels, spec), resize(mask.astype(np.float32), spec.size, nearest=True).astype(np.uint8)


def load_pairs(slices: Sequence[MaskedSlice], spec: InputSpec,
               workers: int = 2) -> tuple[np.ndarray, np.ndarray, list[MaskedSlice]]:
    """Images (N x S x S x 1 float16), masks (N x S x S x 1 uint8) and the slices they belong to.

    Slices the app would refuse (constant images) are left out, so N can be smaller than ``len(slices)``.
    Cached on disk by file list and spec.
    """
    key = hashlib.md5(json.dumps([spec.to_dict(), [(s.image, s.mask) for s in slices]]).encode()).hexdigest()[:16]
    cache = CACHE_DIR / f"pairs-{key}.npz"
    if cache.exists():
        with np.load(cache) as data:
            return data["x"], data["y"], [s for s, k in zip(slices, data["keep"], strict=True) if k]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pairs = list(pool.map(_load_pair, [(s, spec) for s in slices], chunksize=32))
    keep = np.array([p is not None for p in pairs])
    x = np.stack([p[0] for p in pairs if p is not None]).astype(np.float16)
    y = np.stack([p[1] for p in pairs if p is not None])[..., None]
    CACHE_DIR.mkdir(exist_ok=True)
    np.savez(cache, x=x, y=y, keep=keep)
    return x, y, [s for s, k in zip(slices, keep, strict=True) if k]
