"""Every slice of a study through the tumour network in batches, assembled into a 3D mask and study-level numbers.

Each slice is prepared by :func:`core.models.preprocess.preprocess_slice` and read by
:func:`core.models.tumour.read_outputs` (temperature, presence threshold and speck size from the card), exactly as
:func:`core.models.analysis.analyze` treats a single upload; only the forward pass is shared by a batch of slices. The
study then reports:

- the tumour volume: mask voxels times the voxel volume from the geometry (none when the geometry is broken);
- the slice with the largest tumour area, and on it the largest diameter (RANO measures the longest diameter on the
  slice where the tumour is largest);
- the type over the tumour-bearing slices: their type probabilities averaged with the tumour probability as weight,
  so slices where the network is surest that a tumour is present count most, and the most probable tumour class of
  that average (a slice just above the presence threshold still gives "no tumour" most of its probability, which
  must not outvote the tumour the study was found to have); "notumor" when no slice has a tumour.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull

from core.models.cards import TUMOUR_NET
from core.models.preprocess import preprocess_slice
from core.models.registry import LoadedModel, load_model
from core.models.tumour import NO_TUMOUR_CLASS, TumourReading, read_outputs
from core.study.volume import Volume, read_nifti_volume

BATCH_SIZE = 32
"""Slices per forward pass; the README's throughput figure is for batches of 32."""
BENCHMARK_SHAPE = (155, 240, 240)
"""A BraTS volume: 155 axial slices of 240 x 240 at 1 mm."""
BENCHMARK_TARGET_S = 10.0
PIXEL_CORNERS = np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]])
"""Offsets of a pixel's corners from its centre, in (row, column) pixels."""


@dataclass(frozen=True, eq=False)
class StudyResult:
    """What a study shows; physical sizes are None when the volume is not measured (``geometry_note`` says why).

    Attributes:
        readings: per slice, the network's reading, or None for a blank slice, which is not analysed.
        mask: S x H x W uint8 tumour mask in the volume's display grid.
        per_slice_tumour_probability: per slice, the tumour probability (None for blank slices), for a curve.
        tumour_probability: the largest per-slice tumour probability.
        tumour_present: True when any slice has a tumour.
        type, probabilities: the study's type and type probabilities (see the module docstring).
        largest_slice: index of the slice with the largest tumour area, None without any tumour pixel.
        largest_area_mm2, largest_diameter_mm: the tumour's area and longest diameter on that slice.
        tumour_volume_ml, voxel_volume_ml: the tumour's volume and one voxel's, in ml.
    """

    readings: list[TumourReading | None]
    mask: np.ndarray
    per_slice_tumour_probability: list[float | None]
    tumour_probability: float
    tumour_present: bool
    type: str
    probabilities: dict[str, float]
    largest_slice: int | None
    largest_area_mm2: float | None
    largest_diameter_mm: float | None
    tumour_volume_ml: float | None
    voxel_volume_ml: float | None
    geometry_note: str | None


def analyse_study(volume: Volume, model: LoadedModel, batch_size: int = BATCH_SIZE) -> StudyResult:
    """Analyse every non-blank slice of ``volume``, ``batch_size`` slices per forward pass."""
    readings: list[TumourReading | None] = [None] * len(volume.pixels)
    shape = volume.pixels.shape[1:]
    content = np.flatnonzero(~volume.blank)
    for start in range(0, len(content), batch_size):
        indices = content[start : start + batch_size]
        outputs = model.predict_outputs(np.stack([preprocess_slice(volume.pixels[i], model.spec) for i in indices]))
        for row, index in enumerate(indices):
            readings[index] = read_outputs(model, outputs["logits"][row], outputs["mask"][row, ..., 0], shape)
    return summarise(volume, readings, model.class_names)


def summarise(volume: Volume, readings: list[TumourReading | None], class_names: list[str]) -> StudyResult:
    """Study-level numbers from per-slice readings (None for blank slices) of ``volume``."""
    mask = np.stack([np.zeros(volume.pixels.shape[1:], np.uint8) if r is None else r.mask for r in readings])
    read = [r for r in readings if r is not None]
    present = [r for r in read if r.tumour_present]
    if present:  # weighted by how sure each slice is that a tumour is there
        weights = np.array([r.tumour_probability for r in present])
        probs = np.array([[r.type_probabilities[c] for c in class_names] for r in present])
        mean = weights @ probs / weights.sum()
    else:
        mean = np.mean([[r.type_probabilities[c] for c in class_names] for r in read], axis=0)
    probabilities = {c: float(p) for c, p in zip(class_names, mean, strict=True)}
    areas = mask.sum(axis=(1, 2))
    largest = int(np.argmax(areas)) if areas.max() > 0 else None
    voxel_ml = volume.voxel_volume_ml
    spacing = volume.pixel_spacing_mm if voxel_ml is not None else None
    measured = largest is not None and spacing is not None
    return StudyResult(
        readings=readings, mask=mask,
        per_slice_tumour_probability=[None if r is None else r.tumour_probability for r in readings],
        tumour_probability=max(r.tumour_probability for r in read),
        tumour_present=bool(present),
        type=max((c for c in class_names if c != NO_TUMOUR_CLASS), key=probabilities.get) if present
        else NO_TUMOUR_CLASS,
        probabilities=probabilities,
        largest_slice=largest,
        largest_area_mm2=float(areas[largest]) * spacing[0] * spacing[1] if measured else None,
        largest_diameter_mm=largest_diameter_mm(mask[largest], spacing) if measured else None,
        tumour_volume_ml=None if voxel_ml is None else float(mask.sum()) * voxel_ml,
        voxel_volume_ml=voxel_ml,
        geometry_note=volume.geometry_note,
    )


def largest_diameter_mm(mask: np.ndarray, spacing_mm: tuple[float, float]) -> float:
    """Longest distance in mm between two boundary points of a 2D mask (all its regions together).

    Each boundary pixel counts with its four corners, so a run of n pixels is n pixels long, as areas count whole
    pixels. The farthest pair lies on the convex hull, so only its vertices are compared.
    """
    mask = np.asarray(mask, dtype=bool)
    boundary = np.argwhere(mask & ~ndimage.binary_erosion(mask)).astype(float)
    corners = (boundary[:, None, :] + PIXEL_CORNERS[None]).reshape(-1, 2)
    points = np.unique(corners * np.asarray(spacing_mm), axis=0)
    hull = points[ConvexHull(points).vertices]
    return float(np.sqrt(((hull[:, None, :] - hull[None, :, :]) ** 2).sum(axis=-1)).max())


def synthetic_volume(shape: tuple[int, int, int] = BENCHMARK_SHAPE, seed: int = 0) -> np.ndarray:
    """S x H x W float32 brain-like volume: a textured ellipsoid head with a brighter ellipsoid lesion off centre."""
    slices, height, width = shape
    z, y, x = np.ogrid[-1 : 1 : slices * 1j, -1 : 1 : height * 1j, -1 : 1 : width * 1j]
    head = (z / 0.9) ** 2 + (y / 0.8) ** 2 + (x / 0.7) ** 2 <= 1.0
    lesion = ((z - 0.1) / 0.25) ** 2 + ((y + 0.2) / 0.15) ** 2 + ((x - 0.25) / 0.15) ** 2 <= 1.0
    texture = 0.45 + 0.08 * np.random.default_rng(seed).standard_normal(shape)
    return np.where(lesion, 0.9, np.where(head, texture, 0.0)).astype(np.float32)


def synthetic_nifti(shape: tuple[int, int, int] = BENCHMARK_SHAPE) -> bytes:
    """:func:`synthetic_volume` as the bytes of a NIfTI file at 1 mm, as an upload would arrive."""
    import nibabel as nib  # only the benchmarks build a NIfTI file

    stored = np.ascontiguousarray(synthetic_volume(shape).transpose(2, 1, 0)[::-1, ::-1])  # display -> RAS voxels
    return nib.Nifti1Image(stored, np.eye(4)).to_bytes()


def benchmark_volume(folder: Path | None = None, shape: tuple[int, int, int] = BENCHMARK_SHAPE,
                     batch_size: int = BATCH_SIZE) -> dict:
    """Time reading and analysing a generated NIfTI volume of ``shape`` (S x H x W), warm: the network is loaded
    and traced (one batch, then a smaller one) before the clock starts.

    Returns:
        ``slices``, ``shape``, ``read_s`` (NIfTI bytes -> volume), ``analyse_s`` (every slice through the network,
        mask and study numbers), ``total_s``, ``slices_per_s``, ``target_s`` and ``target_met``.
    """
    model = load_model(TUMOUR_NET, folder)
    data = synthetic_nifti(shape)
    warm = read_nifti_volume(data, "benchmark.nii")
    for count in (batch_size, batch_size // 2 + 1):  # full and partial batches, so neither retraces later
        model.predict_outputs(np.stack([preprocess_slice(p, model.spec) for p in warm.pixels[:count]]))
    start = time.perf_counter()
    volume = read_nifti_volume(data, "benchmark.nii")
    read_s = time.perf_counter() - start
    analyse_study(volume, model, batch_size)
    total_s = time.perf_counter() - start
    return {"slices": shape[0], "shape": list(shape), "read_s": round(read_s, 3),
            "analyse_s": round(total_s - read_s, 3), "total_s": round(total_s, 3),
            "slices_per_s": round(shape[0] / total_s, 1), "target_s": BENCHMARK_TARGET_S,
            "target_met": total_s <= BENCHMARK_TARGET_S}
