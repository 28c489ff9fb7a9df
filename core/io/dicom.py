"""DICOM slices through pydicom: one frame of a single- or multi-frame object as a display slice.

The grayscale pipeline (Modality LUT, VOI LUT or window, MONOCHROME1) lives in :mod:`core.io.lut`, so a slice
read here shows exactly as the same slice of a whole series read by :mod:`core.study.series`.
"""

from __future__ import annotations

import io

import pydicom
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import get_decoder
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from core.io.errors import InputError
from core.io.lut import display_values, frame_attribute, modality_values, number
from core.io.scan import (
    ScanSlice,
    SliceChoice,
    VolumeInfo,
    choose_index,
    validate_dimensions,
    validate_volume,
)

PREAMBLE_SIZE = 128
BARE_DATASET_STARTS = (b"\x02\x00", b"\x08\x00")
"""First tag group (little endian) of a DICOM data set saved without preamble: file meta (0002) or identity (0008)."""


def is_dicom(data: bytes) -> bool:
    """True for a DICOM file: "DICM" after the 128-byte preamble, or a bare data set pydicom can read with force."""
    return data[PREAMBLE_SIZE : PREAMBLE_SIZE + 4] == b"DICM" or data[:2] in BARE_DATASET_STARTS


def describe_dicom(data: bytes, name: str) -> VolumeInfo:
    """Frames and size of a DICOM image, from its header."""
    ds = open_dataset(data, name)
    frames = frame_count(ds)
    return VolumeInfo(
        shape=(frames, int(ds.Rows), int(ds.Columns)),
        axes=("frame", "row", "column"),
        frames=frames,
        default=SliceChoice(frame=frames // 2),
        source_format="DICOM",
    )


def read_dicom(data: bytes, name: str, choice: SliceChoice) -> ScanSlice:
    """Decode one frame (``choice.frame``, default the middle one) into a display slice in [0, 1]."""
    ds = open_dataset(data, name)
    frames = frame_count(ds)
    frame = choose_index(choice.frame, frames, frames // 2, "frame", name)
    pixels = display_values(modality_values(ds, frame), ds, frame, name, choice)
    return ScanSlice(pixels=pixels, pixel_spacing_mm=pixel_spacing(ds, frame), source_format="DICOM")


def open_dataset(data: bytes, name: str) -> Dataset:
    """Parse the data set and refuse, from its header, files without a decodable image of an accepted size."""
    ds = pydicom.dcmread(io.BytesIO(data), force=True)
    if "PixelData" not in ds:
        raise InputError(
            f"{name} is a DICOM file without image data (for example a report); please upload a DICOM image."
        )
    check_image_header(ds, name)
    return ds


def check_image_header(ds: Dataset, name: str) -> None:
    """Refuse, from the header, an image of an unaccepted size or in a transfer syntax that cannot be decoded."""
    rows, columns = int(ds.Rows), int(ds.Columns)
    validate_dimensions(columns, rows, name)
    validate_volume((frame_count(ds), rows, columns), name)
    syntax = _transfer_syntax(ds)
    try:
        decodable = get_decoder(syntax).is_available
    except NotImplementedError:  # a private or unknown transfer syntax
        decodable = False
    if not decodable:
        encoding = syntax.name if syntax.is_valid and syntax.is_transfer_syntax else "an unknown transfer syntax"
        raise InputError(
            f"{name} is encoded as {encoding}, which this app cannot decode; please export it uncompressed."
        )


def _transfer_syntax(ds: Dataset) -> pydicom.uid.UID:
    """The file's transfer syntax; a bare data set has none recorded, so it is set from how pydicom parsed it."""
    meta = ds.file_meta
    if "TransferSyntaxUID" not in meta:
        implicit, little = ds.original_encoding
        meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
        )
    return meta.TransferSyntaxUID


def frame_count(ds: Dataset) -> int:
    """Frames in the object: NumberOfFrames, 1 for a single-frame file."""
    return max(int(ds.get("NumberOfFrames") or 1), 1)


def pixel_spacing(ds: Dataset, frame: int) -> tuple[float, float] | None:
    """(row, column) spacing in mm from Pixel Spacing, or None when absent or not two positive numbers."""
    value = frame_attribute(ds, frame, "PixelMeasuresSequence", "PixelSpacing")
    spacing = [number(v) for v in value] if isinstance(value, list | tuple | MultiValue) else []
    if len(spacing) != 2 or not all(s is not None and s > 0 for s in spacing):
        return None
    return spacing[0], spacing[1]
