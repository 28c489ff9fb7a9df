"""Labelled slices for the shared-encoder tumour network: a type label on every slice, a mask where one is known.

Sources and what each gives:
- Kaggle 4-class ``Training``: type label; tumour-free (``notumor``) slices have a known empty mask.
- BRISC 2025 train masks: expert masks on Kaggle ``Training`` images, attached to those Kaggle slices, so the
  Kaggle train/validation split (by content) decides where each mask goes and no image sits on both sides.
- LGG kaggle_3m FLAIR: every slice has a mask; tumour slices are gliomas, empty slices are tumour-free. Split by
  patient into train / validation / test, never by slice.

Masks are brought to the model size by antialiased bilinear averaging and then thresholded at 0.5, so the boundary is
the half-coverage contour rather than whichever pixels a nearest-neighbour sample happens to hit.
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
import tensorflow as tf
from PIL import Image

from core.io.errors import InputError
from core.io.read import read_image
from core.models.preprocess import InputSpec, find_head_mask, preprocess_slice, resize
from training.appearance import random_appearance
from training.common import make_geometric_augmenter, make_intensity_augmenter
from training.data import (
    CACHE_DIR,
    CLASS_NAMES,
    DEFAULT_ROOT,
    SHARED_DATA,
    file_md5,
    load_kaggle_splits,
    preprocessing_fingerprint,
)

GLIOMA, NO_TUMOUR = CLASS_NAMES.index("glioma"), CLASS_NAMES.index("notumor")

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


def list_lgg(root: Path = LGG_ROOT) -> list[MaskedSlice]:
    """All LGG slices from ``slices.csv`` (mask files exist for every slice; empty ones are tumour-free)."""
    with open(Path(root) / "slices.csv", newline="") as handle:
        return [MaskedSlice(str(Path(root) / row["image"]), str(Path(root) / row["mask"]), "lgg", row["patient_id"],
                            has_tumour=row["has_tumor"] == "1")
                for row in csv.DictReader(handle)]


def split_by_patient(slices: Sequence[MaskedSlice], val_fraction: float, seed: int) -> tuple[list, list]:
    """Train/validation split of whole patients, so no patient has slices on both sides."""
    patients = sorted({s.group for s in slices})
    rng = np.random.default_rng(seed)
    val_patients = set(rng.permutation(patients)[: round(val_fraction * len(patients))])
    return [s for s in slices if s.group not in val_patients], [s for s in slices if s.group in val_patients]


def read_mask(path: str | None, shape: tuple[int, int], colour: bool = False) -> np.ndarray:
    """A mask file as H x W uint8 in {0, 1} (all zeros at ``shape`` when ``path`` is None).

    Grey masks mark tumour at grey > 127; ``colour`` masks (colour-coded sub-regions) at any non-black pixel.
    """
    if path is None:
        return np.zeros(shape, dtype=np.uint8)
    with Image.open(path) as image:
        if colour:
            return (np.asarray(image.convert("RGB")).max(axis=-1) > 0).astype(np.uint8)
        return (np.asarray(image.convert("L")) > MASK_THRESHOLD).astype(np.uint8)


@dataclass(frozen=True)
class LabelledSlice:
    """One image file with its type label and, where known, its tumour mask (None + ``mask_known`` = empty)."""

    image: str
    label: int
    mask: str | None
    mask_known: bool
    source: str  # "kaggle", "brisc" (a Kaggle image with a BRISC mask), "lgg" or a brain-mri-other folder
    group: str = ""  # LGG: patient id; BRISC: plane (ax/co/sa)
    mask_colour: bool = False  # the mask file is colour-coded (see read_mask)


@dataclass
class TumourSplits:
    train: list[LabelledSlice]
    val: list[LabelledSlice]
    kaggle_test: list[LabelledSlice]
    kaggle_test_deduplicated: list[LabelledSlice]
    lgg_test: list[LabelledSlice]
    kaggle_test_duplicates: int


def brisc_masks_by_image(brisc_root: Path, kaggle_root: Path) -> dict[str, tuple[str, str]]:
    """Kaggle image path -> (BRISC mask path, plane), through ``train/image_sources.csv``."""
    with open(Path(brisc_root) / "train" / "image_sources.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    masks = {}
    for row in rows:
        stem = Path(row["brisc_image"]).stem
        masks[str(Path(kaggle_root) / row["kaggle_file"])] = (str(Path(brisc_root) / "train" / "masks" / f"{stem}.png"),
                                                              stem.split("_")[4])
    return masks


def _kaggle_slices(samples: Sequence, masks: dict[str, tuple[str, str]]) -> list[LabelledSlice]:
    slices = []
    for sample in samples:
        if sample.path in masks:
            mask, plane = masks[sample.path]
            slices.append(LabelledSlice(sample.path, sample.label, mask, True, "brisc", plane))
        else:
            slices.append(LabelledSlice(sample.path, sample.label, None, sample.label == NO_TUMOUR, "kaggle"))
    return slices


def _lgg_slices(slices: Sequence) -> list[LabelledSlice]:
    return [LabelledSlice(s.image, GLIOMA if s.has_tumour else NO_TUMOUR, s.mask, True, "lgg", s.group)
            for s in slices]


def make_splits(kaggle_root: Path = DEFAULT_ROOT, brisc_root: Path = BRISC_ROOT, lgg_root: Path = LGG_ROOT,
                val_fraction: float = 0.1, lgg_val_fraction: float = 0.15, lgg_test_fraction: float = 0.15,
                seed: int = 42) -> TumourSplits:
    """Kaggle by content (the classifier's split), BRISC following its Kaggle images, LGG by patient."""
    kaggle = load_kaggle_splits(kaggle_root, val_fraction, seed)
    masks = brisc_masks_by_image(brisc_root, kaggle_root)
    lgg_rest, lgg_test = split_by_patient(list_lgg(lgg_root), lgg_test_fraction, seed)
    lgg_train, lgg_val = split_by_patient(lgg_rest, lgg_val_fraction / (1 - lgg_test_fraction), seed + 1)
    return TumourSplits(
        train=_kaggle_slices(kaggle.train, masks) + _lgg_slices(lgg_train),
        val=_kaggle_slices(kaggle.val, masks) + _lgg_slices(lgg_val),
        kaggle_test=_kaggle_slices(kaggle.test, {}),
        kaggle_test_deduplicated=_kaggle_slices(kaggle.test_deduplicated, {}),
        lgg_test=_lgg_slices(lgg_test),
        kaggle_test_duplicates=len(kaggle.test_duplicates),
    )


def resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """A {0, 1} mask at ``size`` x ``size``: averaged (antialiased bilinear), then thresholded at half coverage."""
    return (resize(mask.astype(np.float32), size) >= 0.5).astype(np.uint8)


def _load_slice(args: tuple[LabelledSlice, InputSpec]) -> tuple[np.ndarray, np.ndarray] | None:
    item, spec = args
    try:
        pixels = read_image(Path(item.image).read_bytes(), item.image).pixels
    except InputError:
        return None  # constant slices (LGG volume ends) are refused by the app too
    mask = read_mask(item.mask, pixels.shape, item.mask_colour)
    if mask.shape != pixels.shape:
        mask = resize(mask, pixels.shape, nearest=True).astype(np.uint8)
    return preprocess_slice(pixels, spec), resize_mask(mask, spec.size)


@dataclass
class SliceArrays:
    """Model-ready arrays of the slices in ``slices`` (constant images left out)."""

    x: np.ndarray  # N x S x S x 1 float16
    labels: np.ndarray  # N int32
    masks: np.ndarray  # N x S x S x 1 uint8
    mask_known: np.ndarray  # N bool
    slices: list[LabelledSlice]


def load_slices(slices: Sequence[LabelledSlice], spec: InputSpec, workers: int = 2) -> SliceArrays:
    """Decode and preprocess every slice through the app's path; cached on disk by preprocessing code and contents.

    The cache key holds :func:`training.data.preprocessing_fingerprint` and the MD5 of every image and mask file, so
    an edit to the preprocessing or a changed file never reuses stale arrays.
    """
    contents = [(file_md5(s.image), file_md5(s.mask), s.mask_known, s.label) for s in slices]
    key = hashlib.md5(json.dumps([preprocessing_fingerprint(), spec.to_dict(), contents]).encode()).hexdigest()[:16]
    cache = CACHE_DIR / f"labelled-{key}.npz"
    if cache.exists():
        with np.load(cache) as data:
            keep = data["keep"]
            return SliceArrays(data["x"], data["labels"], data["masks"], data["known"],
                               [s for s, k in zip(slices, keep, strict=True) if k])
    with ProcessPoolExecutor(max_workers=workers) as pool:
        loaded = list(pool.map(_load_slice, [(s, spec) for s in slices], chunksize=32))
    keep = np.array([item is not None for item in loaded])
    kept = [s for s, k in zip(slices, keep, strict=True) if k]
    arrays = SliceArrays(
        x=np.stack([item[0] for item in loaded if item is not None]).astype(np.float16),
        labels=np.array([s.label for s in kept], dtype=np.int32),
        masks=np.stack([item[1] for item in loaded if item is not None])[..., None],
        mask_known=np.array([s.mask_known for s in kept]),
        slices=kept,
    )
    CACHE_DIR.mkdir(exist_ok=True)
    np.savez(cache, x=arrays.x, labels=arrays.labels, masks=arrays.masks, known=arrays.mask_known, keep=keep)
    return arrays


def head_masks(images: np.ndarray) -> np.ndarray:
    """The head outline of every model input (N x S x S x 1 uint8), for skull-stripping augmentation."""
    return np.stack([find_head_mask(image[..., 0].astype(np.float32)) for image in images])[..., None].astype(np.uint8)


class EpochBatches:
    """Training batches of (image, {"type": one-hot, "mask": mask + known-flag channel}), one epoch at a time.

    The arrays become tensors once; each epoch's order and augmentation draws follow its seed alone. Image and mask
    move under the same random geometric transform; only the image gets intensity changes, and with ``appearance``
    the scanner-like ones of :func:`training.appearance.random_appearance` first (``appearance`` scales their
    probabilities; 0 = none). The known-flag channel tells the
    masked loss which slices have a mask to learn from.
    """

    def __init__(self, arrays: SliceArrays, batch_size: int, augment: bool = True, appearance: float = 0.0) -> None:
        self.size, self.batch_size, self.augment, self.appearance = len(arrays.x), batch_size, augment, appearance
        self.images = tf.constant(arrays.x)
        # With appearance changes the head outline rides along as a second mask channel, so geometric moves keep it
        # on its image; without them there is nothing to carry.
        masks = np.concatenate([arrays.masks, head_masks(arrays.x)], axis=-1) if appearance else arrays.masks
        self.masks = tf.constant(masks)
        self.one_hot = tf.constant(np.eye(len(CLASS_NAMES), dtype=np.float32)[arrays.labels])
        self.known = tf.constant(arrays.mask_known.astype(np.float32))

    def _gather(self, index: tf.Tensor) -> tuple:
        return (tf.cast(tf.gather(self.images, index), tf.float32), tf.cast(tf.gather(self.masks, index), tf.float32),
                tf.gather(self.one_hot, index), tf.gather(self.known, index))

    def epoch(self, seed: int) -> tf.data.Dataset:
        order = np.random.default_rng(seed).permutation(self.size) if self.augment else np.arange(self.size)
        geometric, intensity = make_geometric_augmenter(seed), make_intensity_augmenter(seed)

        def transform(batch: tf.Tensor, image: tf.Tensor, mask: tf.Tensor, label: tf.Tensor, flag: tf.Tensor) -> tuple:
            if self.augment:
                moved = geometric(tf.concat([image, mask], axis=-1), training=True)
                image, mask = moved[..., :1], tf.cast(moved[..., 1:] >= 0.5, tf.float32)
                if self.appearance:
                    image = random_appearance(image, tf.stack([tf.constant(seed, tf.int64), batch]), mask[..., 1:],
                                              self.appearance)
                image = tf.clip_by_value(intensity(image, training=True), 0.0, 1.0)
            mask = mask[..., :1]
            flags = tf.ones_like(mask) * flag[:, None, None, None]
            return image, {"type": label, "mask": tf.concat([mask, flags], axis=-1)}

        data = tf.data.Dataset.from_tensor_slices(order).batch(self.batch_size, drop_remainder=self.augment)
        gathered = data.map(self._gather, num_parallel_calls=tf.data.AUTOTUNE).enumerate()
        return gathered.map(lambda batch, items: transform(batch, *items),
                            num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
