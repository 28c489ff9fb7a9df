"""The DICOM grayscale pipeline, one copy for single slices (:mod:`core.io.dicom`) and whole series
(:mod:`core.study.series`).

Values go stored -> Modality LUT (Rescale Slope/Intercept or a Modality LUT Sequence) -> VOI LUT (a VOI LUT Sequence,
else Window Center/Width with its VOI LUT Function) -> inverted for MONOCHROME1, the order of the DICOM grayscale
pipeline (PS3.4 N.2), through pydicom's ``apply_modality_lut`` and ``apply_voi_lut``. Enhanced multi-frame files keep
rescale and window in functional groups; :func:`frame_attribute` looks there too.

Three choices keep what users saw before: a user's window (centre and/or width) overrides the file's VOI and is
applied linearly by :func:`core.io.scan.to_display`; a LINEAR window is applied as LINEAR_EXACT, i.e. without the
half-unit offsets of PS3.3 C.11.2.1.2.1 (at most 1/width of the display range apart), as the app always did; and a
slice without any VOI is scaled by its own min and max.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut, apply_voi_lut, pixel_array
from pydicom.valuerep import DSfloat

from core.io.scan import SliceChoice, choose_window, to_display, validate_pixels

WINDOW_BITS = 16
"""Output depth of the window view data set: pydicom windows into [0, 2**16 - 1], which is then scaled to [0, 1]."""
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
"""ITU-R 601 luma weights, as Pillow's convert("L"), for colour secondary captures."""


def frame_attribute(ds: Dataset, frame: int, group: str, keyword: str) -> Any:
    """``keyword`` from the top level, else from this frame's or the shared functional group (enhanced files)."""
    if keyword in ds:
        return ds.get(keyword)
    for sequence, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        items = ds.get(sequence) or []
        inner = items[index].get(group) if index < len(items) else None
        if inner and keyword in inner[0]:
            return inner[0].get(keyword)
    return None


def number(value: Any) -> float | None:
    """A finite float from a DICOM value (the first of a multi-value), or None for an empty or invalid one."""
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if len(value) else None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if np.isfinite(result) else None


def modality_values(ds: Dataset, frame: int) -> np.ndarray:
    """Decode one frame and apply its Modality LUT: H x W values in the modality's units (float64 after a rescale).

    A missing slope or intercept counts as 1 or 0, so a file stating only one of them is still rescaled.
    """
    stored = pixel_array(ds, index=frame)  # decodes this frame only
    if stored.ndim == 3:  # colour (secondary capture): luma, then no LUT applies
        return stored.astype(np.float32) @ LUMA
    if ds.get("ModalityLUTSequence"):
        return apply_modality_lut(stored, ds)
    slope = number(frame_attribute(ds, frame, "PixelValueTransformationSequence", "RescaleSlope"))
    intercept = number(frame_attribute(ds, frame, "PixelValueTransformationSequence", "RescaleIntercept"))
    rescale = Dataset()
    rescale.RescaleSlope = DSfloat(1.0 if slope is None else slope, auto_format=True)
    rescale.RescaleIntercept = DSfloat(0.0 if intercept is None else intercept, auto_format=True)
    return apply_modality_lut(stored, rescale)


def display_values(raw: np.ndarray, ds: Dataset, frame: int, name: str, choice: SliceChoice) -> np.ndarray:
    """Map modality values to display pixels: H x W float32 in [0, 1], bright = high signal.

    Raises:
        InputError: non-finite or constant values, or a user window width that is not positive.
    """
    validate_pixels(raw, name)
    if choice.window_center is not None or choice.window_width is not None:
        pixels = to_display(raw, name, choose_window(choice, file_window(ds, frame), name))
    elif _has_voi_sequence(ds):
        pixels = _voi_sequence(raw, ds)
    elif (window := file_window(ds, frame)) is not None:
        pixels = _windowed(raw, window, frame_attribute(ds, frame, "FrameVOILUTSequence", "VOILUTFunction"))
    else:
        pixels = to_display(raw, name, None)
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":  # low values are bright
        pixels = 1.0 - pixels
    return pixels.astype(np.float32)


def file_window(ds: Dataset, frame: int) -> tuple[float, float] | None:
    """The file's first Window Center/Width pair, or None when it has none or a meaningless width."""
    center = number(frame_attribute(ds, frame, "FrameVOILUTSequence", "WindowCenter"))
    width = number(frame_attribute(ds, frame, "FrameVOILUTSequence", "WindowWidth"))
    if center is None or width is None or width <= 0:
        return None
    return center, width


def _has_voi_sequence(ds: Dataset) -> bool:
    items = ds.get("VOILUTSequence") or []
    return bool(items) and "LUTDescriptor" in items[0] and "LUTData" in items[0]


def _voi_sequence(raw: np.ndarray, ds: Dataset) -> np.ndarray:
    """The first VOI LUT of the file, scaled from its nominal output depth (the descriptor's third value) to [0, 1].

    Values are rounded and clipped to the table first: the LUT indexes integers, and pydicom's index array would
    wrap values far outside it.
    """
    entries, first, bits = (int(v) for v in ds.VOILUTSequence[0].LUTDescriptor)
    entries = entries or 2**16  # 0 means 65536 entries (PS3.3 C.11.2.1.1)
    indices = np.clip(np.rint(raw), first, first + entries - 1).astype(np.int64)
    return np.clip(apply_voi_lut(indices, ds) / (2**bits - 1), 0.0, 1.0)


def _windowed(raw: np.ndarray, window: tuple[float, float], function: Any) -> np.ndarray:
    """Window through pydicom on a view data set whose output range is known; SIGMOID stays SIGMOID."""
    view = Dataset()
    view.PhotometricInterpretation = "MONOCHROME2"
    view.BitsStored, view.PixelRepresentation = WINDOW_BITS, 0
    view.WindowCenter, view.WindowWidth = (DSfloat(value, auto_format=True) for value in window)
    view.VOILUTFunction = "SIGMOID" if str(function or "").upper() == "SIGMOID" else "LINEAR_EXACT"
    return apply_voi_lut(np.asarray(raw, dtype=np.float64), view) / (2**WINDOW_BITS - 1)
