"""Tiny files of every accepted format, built in memory for the I/O tests (nothing is written to the repo)."""

from __future__ import annotations

import gzip
import io

import h5py
import nibabel as nib
import numpy as np
from PIL import Image

from benchmarks import dicom_series


def gradient(height: int = 48, width: int = 64) -> np.ndarray:
    """H x W float64 ramp in [0, 1] with a bright square, so every slice has structure and a known top-left."""
    rows, cols = np.mgrid[0:height, 0:width]
    image = (rows + cols) / (height + width - 2)
    image[4:12, 4:12] = 1.0
    return image


def png_bytes(array: np.ndarray | None = None, mode: str = "L", **save: object) -> bytes:
    """An 8-bit PNG of ``array`` (default :func:`gradient`), converted to ``mode``."""
    array = gradient() if array is None else array
    image = Image.fromarray((array * 255).astype(np.uint8), mode="L").convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **save)
    return buffer.getvalue()


def raster_bytes(image: Image.Image, fmt: str, **save: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def dicom_bytes(frames: np.ndarray | None = None, preamble: bool = True, **attributes: object) -> bytes:
    """:func:`benchmarks.dicom_series.dicom_bytes` of ``frames``, by default the :func:`gradient` at 1000."""
    frames = (gradient() * 1000).astype(np.uint16) if frames is None else frames
    return dicom_series.dicom_bytes(frames, preamble, **attributes)


def nifti_bytes(volume: np.ndarray, zooms: tuple[float, ...] = (1.0, 1.0, 1.0), compressed: bool = False,
                affine: np.ndarray | None = None) -> bytes:
    """A NIfTI-1 file of ``volume`` with a diagonal (RAS) affine of ``zooms`` mm unless ``affine`` is given."""
    if affine is None:
        affine = np.diag([*zooms[:3], *([1.0] * (3 - len(zooms[:3]))), 1.0])
    image = nib.Nifti1Image(volume, affine)
    image.header.set_xyzt_units("mm")
    data = image.to_bytes()
    return gzip.compress(data) if compressed else data


def brats_bytes(image: np.ndarray, mask: np.ndarray | None = None) -> bytes:
    """A BraTS-style .h5 slice: dataset ``image`` (H x W x C) and optional ``mask``."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as file:
        file["image"] = image
        if mask is not None:
            file["mask"] = mask
    return buffer.getvalue()


def figshare_bytes(image: np.ndarray, mask: np.ndarray, label: int) -> bytes:
    """A figshare-style MATLAB v7.3 file: a 512-byte MATLAB header, then HDF5 with arrays stored transposed."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w", userblock_size=512) as file:
        group = file.create_group("cjdata")
        group["image"] = image.astype(np.int16).T
        group["tumorMask"] = mask.astype(np.uint8).T
        group["label"] = np.array([[float(label)]])
        group["PID"] = np.array([[ord(c)] for c in "100360"], dtype=np.uint16)
    data = bytearray(buffer.getvalue())
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    data[: len(header)] = header
    return bytes(data)
