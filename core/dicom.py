"""DICOM slices through pydicom: rescale, VOI window, MONOCHROME1 and one frame of a multi-frame object.

Values go stored -> rescaled (Rescale Slope/Intercept) -> windowed (the file's Window Center/Width or the user's)
-> inverted for MONOCHROME1, the order of the DICOM grayscale pipeline (PS3.4 N.2). Enhanced multi-frame files keep
spacing, rescale and window in functional groups; :func:`_frame_attribute` looks there too. Modality and VOI LUT
*sequences* are rare in MRI and are not applied: such slices are scaled by their min and max instead.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import get_decoder, pixel_array
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from core.errors import InputError
from core.scan import (
    ScanSlice,
    SliceChoice,
    VolumeInfo,
    choose_index,
    choose_window,
    to_display,
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
    ds = _open(data, name)
    frames = _frame_count(ds)
    return VolumeInfo(
        shape=(frames, int(ds.Rows), int(ds.Columns)),
        axes=("frame", "row", "column"),
        frames=frames,
        default=SliceChoice(frame=frames // 2),
        source_format="DICOM",
    )


def read_dicom(data: bytes, name: str, choice: SliceChoice) -> ScanSlice:
    """Decode one frame (``choice.frame``, default the middle one) into a display slice in [0, 1]."""
    ds = _open(data, name)
    frames = _frame_count(ds)
    frame = choose_index(choice.frame, frames, frames // 2, "frame", name)
    stored = pixel_array(ds, index=frame).astype(np.float32)  # decodes this frame only
    if stored.ndim == 3:  # colour (secondary capture): ITU-R 601 luma, as Pillow's convert("L")
        stored = stored @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    slope = _number(_frame_attribute(ds, frame, "PixelValueTransformationSequence", "RescaleSlope"))
    intercept = _number(_frame_attribute(ds, frame, "PixelValueTransformationSequence", "RescaleIntercept"))
    raw = stored * (1.0 if slope is None else slope) + (0.0 if intercept is None else intercept)
    pixels = to_display(raw, name, choose_window(choice, _file_window(ds, frame), name))
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":  # low values are bright
        pixels = 1.0 - pixels
    return ScanSlice(pixels=pixels, pixel_spacing_mm=_pixel_spacing(ds, frame), source_format="DICOM")


def _open(data: bytes, name: str) -> Dataset:
    """Parse the data set and refuse, from its header, files without a decodable image of an accepted size."""
    ds = pydicom.dcmread(io.BytesIO(data), force=True)
    if "PixelData" not in ds:
        raise InputError(
            f"{name} is a DICOM file without image data (for example a report); please upload a DICOM image."
        )
    rows, columns = int(ds.Rows), int(ds.Columns)
    validate_dimensions(columns, rows, name)
    validate_volume((_frame_count(ds), rows, columns), name)
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
    return ds


def _transfer_syntax(ds: Dataset) -> pydicom.uid.UID:
    """The file's transfer syntax; a bare data set has none recorded, so it is set from how pydicom parsed it."""
    meta = ds.file_meta
    if "TransferSyntaxUID" not in meta:
        implicit, little = ds.original_encoding
        meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
        )
    return meta.TransferSyntaxUID


def _frame_count(ds: Dataset) -> int:
    return max(int(ds.get("NumberOfFrames") or 1), 1)


def _frame_attribute(ds: Dataset, frame: int, group: str, keyword: str) -> Any:
    """``keyword`` from the top level, else from this frame's or the shared functional group (enhanced files)."""
    if keyword in ds:
        return ds.get(keyword)
    for sequence, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        items = ds.get(sequence) or []
        inner = items[index].get(group) if index < len(items) else None
        if inner and keyword in inner[0]:
            return inner[0].get(keyword)
    return None


def _file_window(ds: Dataset, frame: int) -> tuple[float, float] | None:
    """The file's first Window Center/Width pair, or None when it has none or a meaningless width."""
    center = _number(_frame_attribute(ds, frame, "FrameVOILUTSequence", "WindowCenter"))
    width = _number(_frame_attribute(ds, frame, "FrameVOILUTSequence", "WindowWidth"))
    if center is None or width is None or width <= 0:
        return None
    return center, width


def _pixel_spacing(ds: Dataset, frame: int) -> tuple[float, float] | None:
    """(row, column) spacing in mm from Pixel Spacing, or None when absent or not two positive numbers."""
    value = _frame_attribute(ds, frame, "PixelMeasuresSequence", "PixelSpacing")
    spacing = [_number(v) for v in value] if isinstance(value, list | tuple | MultiValue) else []
    if len(spacing) != 2 or not all(s is not None and s > 0 for s in spacing):
        return None
    return spacing[0], spacing[1]


def _number(value: Any) -> float | None:
    """A finite float from a DICOM value (the first of a multi-value), or None for an empty or invalid one."""
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if len(value) else None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None
