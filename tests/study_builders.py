"""Studies built in memory for the study tests: DICOM series of a bright cube, their zips, and the same cube as NIfTI.

The tiny network (conftest ``tiny_weights``) outlines pixels brighter than 0.8 after preprocessing and always reports
a glioma, so the cube on otherwise blank slices gives a mask of known size (:data:`CUBE_VOXELS`).
"""

from __future__ import annotations

import io
import random
import zipfile

import numpy as np
from fixtures_images import dicom_bytes, nifti_bytes
from nibabel.orientations import apply_orientation, axcodes2ornt, inv_ornt_aff, ornt_transform

from benchmarks import dicom_series
from benchmarks.dicom_series import AXIAL as AXIAL
from benchmarks.dicom_series import ORIGIN as ORIGIN
from benchmarks.dicom_series import PIXEL_SPACING as PIXEL_SPACING
from benchmarks.dicom_series import STEP as STEP
from core.study.volume import RAS_ORNT

UID = "1.2.826.0.1.3680043.8.498.101"
OTHER_UID = "1.2.826.0.1.3680043.8.498.102"
SIZE = 64
"""The tiny network's input size, so slices reach it without resizing."""
CUBE_SLICES = range(2, 6)
SLICES = 8
ZOOMS = (0.8, 0.5, 2.5)
"""x, y, z voxel size of :func:`nifti_study`: display rows run along y (0.5 mm) and columns along x (0.8 mm)."""
CUBE_VOXELS = 3 * 12 * 10 + 16 * 15
"""Mask voxels of the cube: CUBE_SLICES with one big slice (index 3)."""


def oblique_cosines() -> tuple[float, ...]:
    """Row and column direction cosines of a plane tilted 30 degrees about x and 20 about z (rounded as scanners do)."""
    tilt, turn = np.radians(30.0), np.radians(20.0)
    about_z = np.array([[np.cos(turn), -np.sin(turn), 0], [np.sin(turn), np.cos(turn), 0], [0, 0, 1]])
    about_x = np.array([[1, 0, 0], [0, np.cos(tilt), -np.sin(tilt)], [0, np.sin(tilt), np.cos(tilt)]])
    rotation = about_z @ about_x
    return tuple(round(float(v), 6) for v in (*rotation[:, 0], *rotation[:, 1]))


def cube_slice(index: int, big: bool = False) -> np.ndarray:
    """SIZE x SIZE stored values: a square head (300) and, on CUBE_SLICES, a 12 x 10 bright square (1000); the
    ``big`` slice has a 16 x 15 one. Slices outside the cube are blank (all zero), so the tiny network, which outlines
    whatever is brightest on a slice, marks exactly the cube."""
    pixels = np.zeros((SIZE, SIZE), dtype=np.uint16)
    if index in CUBE_SLICES:
        pixels[8:56, 8:56] = 300
        rows, columns = (16, 15) if big else (12, 10)
        pixels[20 : 20 + rows, 24 : 24 + columns] = 1000
    return pixels


def cube_planes(count: int = SLICES, big_slice: int = 3) -> np.ndarray:
    """count x SIZE x SIZE stored values: the cube's slices (:func:`cube_slice`), ``big_slice`` the big one."""
    return np.stack([cube_slice(index, big=index == big_slice) for index in range(count)])


def series_files(count: int = SLICES, orientation: tuple[float, ...] = AXIAL, uid: str = UID,
                 steps: list[float] | None = None, description: str = "AX FLAIR", big_slice: int = 3,
                 planes: np.ndarray | None = None, **attributes: object) -> list[tuple[str, bytes]]:
    """:func:`benchmarks.dicom_series.series_files` of the cube (or of ``planes``, count x H x W stored values)."""
    planes = cube_planes(count, big_slice) if planes is None else planes
    return dicom_series.series_files(planes, uid, orientation, steps, description, **attributes)


def shuffled(files: list[tuple[str, bytes]], seed: int = 0) -> list[tuple[str, bytes]]:
    """The same files in a random order under names that sort differently from the slice order."""
    order = list(range(len(files)))
    random.Random(seed).shuffle(order)
    return [(f"file-{place:02d}-{random.Random(seed + place).randint(0, 999)}.dcm", files[i][1])
            for place, i in enumerate(order)]


def without_pixels(data: bytes) -> bytes:
    """A DICOM object without pixel data, as a DICOMDIR or a structured report is."""
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(data))
    del ds.PixelData
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def zipped(files: list[tuple[str, bytes]]) -> bytes:
    """A zip of ``files`` under ``study/``, with the clutter exports carry: a text file, a resource fork, a DICOMDIR."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            archive.writestr(f"study/{name}", data)
        archive.writestr("study/README.txt", "exported by the PACS\n")
        archive.writestr("__MACOSX/study/._IM0001", b"\0\5\26\7")
        archive.writestr("study/DICOMDIR", without_pixels(dicom_bytes()))
    return buffer.getvalue()


def display_stack() -> np.ndarray:
    """SLICES x SIZE x SIZE stored values as the study shows them (slice 3 holds the big square)."""
    return cube_planes().astype(np.float32)


def nifti_study(axcodes: tuple[str, str, str] = ("R", "A", "S")) -> tuple[bytes, np.ndarray, np.ndarray]:
    """(file bytes, stored array, affine) of the cube volume stored with voxel axes along ``axcodes``."""
    canonical = np.ascontiguousarray(display_stack()[:, ::-1, ::-1].transpose(2, 1, 0))  # (x, y, z), RAS+
    affine = np.diag([*ZOOMS, 1.0])
    affine[:3, 3] = [-20.0, 15.0, 40.0]
    transform = ornt_transform(RAS_ORNT, axcodes2ornt(axcodes))
    stored = apply_orientation(canonical, transform)
    stored_affine = affine @ inv_ornt_aff(transform, canonical.shape)
    return nifti_bytes(stored, affine=stored_affine), stored, stored_affine
