"""NIfTI-1 and NIfTI-2 volumes (``.nii`` and ``.nii.gz``) through nibabel, read one slice at a time.

nibabel's array proxy reads only the requested slice, also through a gzip stream, so a large volume is never held
in memory whole. Slices are turned to the radiological view: rows run anterior to posterior on axial slices and
superior to inferior otherwise; columns run from the patient's right (or anterior, on sagittal slices) to the left.
"""

from __future__ import annotations

import gzip
import io
import zlib

import nibabel as nib
import numpy as np

from core.io.errors import InputError
from core.io.scan import (
    MIN_SIDE,
    ScanSlice,
    SliceChoice,
    VolumeInfo,
    choose_index,
    choose_window,
    to_display,
    validate_dimensions,
    validate_volume,
)

GZIP_MAGIC = b"\x1f\x8b"
PLANES = ("sagittal", "coronal", "axial")
"""The plane a slice across each world axis (x: left-right, y: back-front, z: foot-head) shows."""
MM_PER_UNIT = {"meter": 1000.0, "mm": 1.0, "micron": 0.001, "unknown": 1.0}
"""Header spatial units to millimetres; "unknown" is taken as mm, as most tools write it."""


def is_nifti(data: bytes) -> bool:
    """True when the (gunzipped) bytes start with a single-file NIfTI-1 or NIfTI-2 header."""
    return nifti_class(header_bytes(data)) is not None


def describe_nifti(data: bytes, name: str) -> VolumeInfo:
    """Shape, plane names and default slice of a NIfTI volume, from its header."""
    image = open_nifti(data, name)
    spatial, frames = volume_layout(image.shape)
    planes = _planes(_orientation(image))
    usable = tuple(a for a in range(3) if min(spatial[b] for b in range(3) if b != a) >= MIN_SIDE)
    axis = planes.index("axial")
    four_d = len(image.shape) == 4
    return VolumeInfo(
        shape=(*spatial, frames) if four_d else spatial,  # a 2D image is one slice along a third axis
        axes=(*planes, "time") if four_d else planes,
        slice_axes=usable,
        frames=frames,
        default=SliceChoice(axis=axis, index=spatial[axis] // 2, frame=0),
        source_format="NIfTI",
    )


def read_nifti(data: bytes, name: str, choice: SliceChoice) -> ScanSlice:
    """Read one slice (``choice.axis``/``index``, default the middle axial one) at time point ``choice.frame``."""
    image = open_nifti(data, name)
    spatial, frames = volume_layout(image.shape)
    ornt = _orientation(image)
    axis = choose_index(choice.axis, 3, _planes(ornt).index("axial"), "axis", name)
    index = choose_index(choice.index, spatial[axis], spatial[axis] // 2, "slice", name)
    frame = choose_index(choice.frame, frames, 0, "time point", name)
    rows, columns = sorted((a for a in range(3) if a != axis), key=lambda a: -ornt[a, 0])
    validate_dimensions(spatial[columns], spatial[rows], name)

    where: list[int | slice] = [slice(None)] * 4
    where[axis], where[3] = index, frame
    plane = np.asarray(image.dataobj.reshape((*spatial, frames))[tuple(where)], dtype=np.float32)
    if rows > columns:  # the proxy returns the lower voxel axis first
        plane = plane.T
    # Voxel order follows the world axis where ornt says +1; the view wants it decreasing down and across.
    plane = plane[:: -1 if ornt[rows, 1] > 0 else 1, :: -1 if ornt[columns, 1] > 0 else 1]

    pixels = to_display(plane, name, choose_window(choice, None, name))
    return ScanSlice(pixels=pixels, pixel_spacing_mm=_spacing(image, rows, columns), source_format="NIfTI")


def _spacing(image: nib.Nifti1Image, rows: int, columns: int) -> tuple[float, float] | None:
    """(row, column) voxel size in mm from the header, or None when it is missing or not positive."""
    zooms = image.header.get_zooms()
    mm = MM_PER_UNIT.get(image.header.get_xyzt_units()[0], 1.0)
    spacing = [float(zooms[axis]) * mm for axis in (rows, columns) if axis < len(zooms)]
    if len(spacing) != 2 or not all(np.isfinite(s) and s > 0 for s in spacing):
        return None
    return spacing[0], spacing[1]


def header_bytes(data: bytes) -> bytes:
    """The first 540 bytes (the larger NIfTI-2 header), gunzipped first when needed; b"" if that fails."""
    if not data.startswith(GZIP_MAGIC):
        return data[:540]
    try:
        return gzip.GzipFile(fileobj=io.BytesIO(data)).read(540)
    except (OSError, EOFError, zlib.error):
        return b""


def nifti_class(head: bytes) -> type[nib.Nifti1Image] | None:
    """The nibabel class for a single-file NIfTI-1 or NIfTI-2 header (from :func:`header_bytes`), else None."""
    if head[344:348] == b"n+1\0":
        return nib.Nifti1Image
    if head[4:12] == b"n+2\0\r\n\x1a\n":
        return nib.Nifti2Image
    return None


def open_nifti(data: bytes, name: str) -> nib.Nifti1Image:
    """The image with its header parsed and checked; voxel data stays on the stream until sliced."""
    image_class = nifti_class(header_bytes(data))
    if image_class is None:
        raise InputError(f"{name} is not a single-file NIfTI volume; please upload a .nii or .nii.gz file.")
    stream = gzip.GzipFile(fileobj=io.BytesIO(data)) if data.startswith(GZIP_MAGIC) else io.BytesIO(data)
    image = image_class.from_stream(stream)
    shape = image.shape
    if not 2 <= len(shape) <= 4:
        raise InputError(f"{name} is a {len(shape)}D NIfTI image; please upload a 2D, 3D or 4D volume.")
    if image.header.get_data_dtype().kind not in "biuf":
        raise InputError(f"{name} stores colour or complex voxels; please upload a grayscale NIfTI volume.")
    validate_volume(shape, name)
    end = int(image.header.get_data_offset()) + int(np.prod(shape)) * image.header.get_data_dtype().itemsize
    if not data.startswith(GZIP_MAGIC) and len(data) < end:
        raise InputError(f"{name} is truncated ({len(data)} of {end} bytes); please upload the complete file.")
    return image


def volume_layout(shape: tuple[int, ...]) -> tuple[tuple[int, int, int], int]:
    """(x, y, z) sizes, a 2D image counting as one slice, and the number of time points."""
    spatial = (*shape[:3], 1, 1)[:3]
    return (int(spatial[0]), int(spatial[1]), int(spatial[2])), int(shape[3]) if len(shape) > 3 else 1


def _orientation(image: nib.Nifti1Image) -> np.ndarray:
    """3 x 2 rows of (world axis, +1/-1) per voxel axis; voxels taken as RAS when the affine is degenerate."""
    ornt = nib.io_orientation(image.affine)
    return ornt if np.isfinite(ornt).all() else np.array([[0, 1], [1, 1], [2, 1]], dtype=float)


def _planes(ornt: np.ndarray) -> tuple[str, str, str]:
    return tuple(PLANES[int(world)] for world in ornt[:, 0])
