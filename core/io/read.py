"""The one entry point for every upload: detect the format from the bytes and decode one grayscale slice.

:func:`read_scan` returns a :class:`ScanSlice` whose ``pixels`` are float32 in [0, 1] (H x W), so code after this
module can assume a valid 2D image. Volumes and multi-frame files (NIfTI, multi-frame DICOM, multi-page TIFF/GIF,
4-channel BraTS slices) are read at their default slice when no :class:`SliceChoice` is given;
:func:`describe_volume` tells a page what there is to choose, so it can offer a slice picker first.

Every bad input raises :class:`InputError` with one sentence saying what is wrong and what is accepted.
"""

from __future__ import annotations

from core.io import nifti
from core.io.errors import InputError, decoding
from core.io.formats import ACCEPTED, ACCEPTED_EXTENSIONS, FORMATS, RASTER, Format, one_of
from core.io.scan import (
    MAX_PIXELS,
    MAX_VOXELS,
    MIN_SIDE,
    ScanSlice,
    SliceChoice,
    VolumeInfo,
    to_unit_range,
    validate_dimensions,
    validate_pixels,
)

__all__ = [
    "ACCEPTED",
    "ACCEPTED_EXTENSIONS",
    "MAX_PIXELS",
    "MAX_VOXELS",
    "MIN_SIDE",
    "ScanSlice",
    "SliceChoice",
    "VolumeInfo",
    "describe_volume",
    "read_image",
    "read_scan",
    "to_unit_range",
    "validate_dimensions",
    "validate_pixels",
]

_OTHER_FILES = (
    (0, b"%PDF", "a PDF document"),
    (0, b"PK\x03\x04", "a ZIP archive or an Office document"),
    (0, nifti.GZIP_MAGIC, "a gzip archive without a NIfTI volume inside"),
    (0, b"MATLAB 5.0", "a MATLAB v5 file (only v7.3 .mat files are read)"),
    (344, b"ni1\0", "the header half of a NIfTI .hdr/.img pair"),
    (4, b"ftypheic", "a HEIC photo"),
)
"""(offset, signature, description) of files people upload by mistake, to name them in the error."""


def read_scan(data: bytes, filename: str = "", choice: SliceChoice | None = None) -> ScanSlice:
    """Decode any accepted upload into one 2D slice.

    Args:
        data: the file's bytes; the format is detected from them, never from ``filename``.
        filename: used only to name the file in error messages.
        choice: which slice, frame or channel to read and an optional display window; None reads the default
            slice (:attr:`VolumeInfo.default`: the middle axial slice, middle frame, first channel).

    Raises:
        InputError: empty, unrecognised, truncated, corrupt, too large or too small files, out-of-range choices,
            and slices with non-finite or constant values.
    """
    name = _display_name(filename)
    scan_format = _detect_format(data, name)
    with decoding(name, scan_format.label, ACCEPTED):
        return scan_format.read(data, name, choice or SliceChoice())


def describe_volume(data: bytes, filename: str = "") -> VolumeInfo | None:
    """What there is to choose in a volume or multi-frame file, or None for a plain 2D image.

    Raises:
        InputError: as :func:`read_scan`, for everything that can be told from the header.
    """
    name = _display_name(filename)
    scan_format = _detect_format(data, name)
    with decoding(name, scan_format.label, ACCEPTED):
        info = scan_format.describe(data, name)
    return info if info.has_choices else None


def read_image(data: bytes, filename: str = "") -> ScanSlice:
    """Decode a single-frame raster image (JPEG, PNG, TIFF, WebP, BMP), as the training loader needs.

    Raises:
        InputError: as :func:`read_scan`, and for any other format or a file with several frames.
    """
    name = _display_name(filename)
    if _detect_format(data, name) is not RASTER:
        raise InputError(f"{name} is not a {one_of(RASTER.listed)} image; please upload one of those.")
    with decoding(name, RASTER.label, ACCEPTED):
        frames = RASTER.describe(data, name).frames
        if frames > 1:
            raise InputError(f"{name} holds {frames} frames; please upload a single 2D slice.")
        return RASTER.read(data, name, SliceChoice())


def _detect_format(data: bytes, name: str) -> Format:
    """The reader whose signature the bytes carry, or an InputError naming what the file is instead."""
    if not data:
        raise InputError(f"{name} is empty; please upload {ACCEPTED}.")
    with decoding(name, "an image", ACCEPTED):
        for scan_format in FORMATS:
            if scan_format.matches(data):
                return scan_format
    for offset, signature, description in _OTHER_FILES:
        if data[offset : offset + len(signature)] == signature:
            raise InputError(f"{name} is {description}; please upload {ACCEPTED}.")
    if _looks_like_text(data):
        raise InputError(f"{name} is a text file, not an image; please upload {ACCEPTED}.")
    raise InputError(f"{name} is not an image this app can read; please upload {ACCEPTED}.")


def _display_name(filename: str) -> str:
    """The name messages start with, on one line whatever the upload was called."""
    return " ".join(filename.split()) or "The file"


def _looks_like_text(data: bytes) -> bool:
    """True when the first 4 KiB hold no control bytes other than whitespace (binary formats always do)."""
    return not any(byte < 32 and byte not in b"\t\n\r\f" for byte in data[:4096])
